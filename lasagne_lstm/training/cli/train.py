"""``lasagne-lstm train``, ``evaluate`` and ``generate``."""
import argparse
import contextlib
import json
import sys

from .. import config
from .errors import UserError

# The engine is imported inside the commands, never at parser-building time:
# ``--help`` should answer at once.
_TRAIN_HELP = """\
Train an LSTM (or GRU) language model or sequence classifier.

Two training modes, producing the same update on the same batch:
  masked      pad each bucketed batch, mask the padding, one compiled update
  accumulate  per sequence (--micro-batch 1: unpadded and without a mask on
              the c and numba backends; jax pads to the width ladder and
              masks) or per micro-batch, add gradients into on-device
              accumulators; apply their mean after --accumulate N sequences
              (default: the batch size, so each update consumes the same
              batch as masked mode)

CORPUS is a corpus name (shakespeare, brown, ptb-sample, polarity; fetched on
first use) or a path to a text file or a folder of .txt files. Settings are
grouped below (data, model, training, output), each with its default.

examples:
  lasagne-lstm train shakespeare --checkpoint lm.npz
  lasagne-lstm train brown --mode accumulate --micro-batch 1 --epochs 2
  lasagne-lstm train polarity --task classify --bidirectional
  lasagne-lstm train ptb-sample --preset zaremba-small --checkpoint ptb.npz
  lasagne-lstm train --resume lm.npz --epochs 3
"""


def add_parsers(subparsers):
    """Register ``train``, ``evaluate`` and ``generate``."""
    p = subparsers.add_parser(
        "train", help="train a model (masked or gradient accumulation)",
        usage="%(prog)s [CORPUS] [--preset NAME] [options]",
        description=_TRAIN_HELP, epilog=config.train_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    config.add_arguments(p, config.SETTINGS)
    p.set_defaults(func=run_train)

    p = subparsers.add_parser(
        "evaluate", help="perplexity or accuracy of a checkpoint on a split",
        description="Evaluate a checkpoint on the validation or test split of a "
                    "corpus (the split is rebuilt from the checkpoint's settings). "
                    "Prints perplexity (language model) or accuracy (classifier).")
    p.add_argument("checkpoint", help="a checkpoint written by 'lasagne-lstm train'")
    p.add_argument("corpus", nargs="?", default=None,
                   help="corpus name or path (default: the checkpoint's)")
    p.add_argument("--split", choices=("valid", "test"), default="valid",
                   help="which split (default: %(default)s)")
    p.add_argument("--backend", choices=config.BY_NAME["backend"].choices, default=None,
                   help="PyTensor backend (default: the checkpoint's)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run_evaluate)

    p = subparsers.add_parser(
        "generate", help="sample text from a language-model checkpoint",
        description="Sample text from a language model, one token at a time.")
    p.add_argument("checkpoint", help="a language-model checkpoint")
    p.add_argument("--prime", default="", help="text to start from")
    p.add_argument("--length", type=config.positive_int, default=50, metavar="N",
                   help="tokens to sample (default: %(default)s)")
    p.add_argument("--temperature", type=config.positive_float, default=1.0, metavar="T",
                   help="softmax temperature; lower is more conservative (default: %(default)s)")
    p.add_argument("--seed", type=config.seed_int, default=0, metavar="N",
                   help="sampling seed (default: %(default)s)")
    p.add_argument("--backend", choices=config.BY_NAME["backend"].choices, default=None,
                   help="PyTensor backend (default: the checkpoint's)")
    p.set_defaults(func=run_generate)


@contextlib.contextmanager
def _open_log(path):
    if path is None:
        yield None
        return
    try:
        f = open(path, "a", encoding="utf-8")
    except OSError as exc:
        raise UserError("cannot write the log %s: %s" % (path, exc.strerror)) from None
    with f:
        yield f


def _user_errors(fn):
    """Turn the errors a user can cause into one-line UserErrors."""
    from ..checkpoint import CheckpointError

    def wrapper(args):
        try:
            return fn(args)
        except (CheckpointError, ValueError, ImportError) as exc:
            raise UserError(str(exc).splitlines()[0] if str(exc) else repr(exc)) from None
    return wrapper


def run_train(args):
    return _user_errors(_train)(args)


def _requested_settings(args):
    """The run settings the command line asks for: the preset's (if any),
    overridden by the flags given."""
    given = config.given_settings(args)
    return config.apply_preset(args.preset, given) if args.preset else given


def _resume_overrides(checkpoint_path, requested):
    """The checkpoint at ``checkpoint_path`` and the settings that override
    its configuration: the resumable ones of ``requested``.

    Raises
    ------
    UserError
        If ``requested`` gives a setting that cannot change on resume a value
        other than the checkpoint's.
    """
    from ..checkpoint import load
    saved = load(checkpoint_path)
    conflicts = config.resume_conflicts(requested, saved.meta.get("config", {}))
    if conflicts:
        raise UserError(
            "%s was trained with other settings, which cannot change on --resume: %s; "
            "only %s may change" % (
                checkpoint_path, config.describe_conflicts(conflicts),
                ", ".join(config.BY_NAME[name].flag for name in config.RESUMABLE)))
    return saved, {k: v for k, v in requested.items() if config.BY_NAME[k].resumable}


def _train(args):
    from ..engine import Run, TrainingDiverged
    requested = _requested_settings(args)
    if args.resume:
        resume, settings = _resume_overrides(args.resume, requested)
    else:
        resume, settings = None, config.resolve(requested)
        if settings["mode"] == "masked" and (settings["accumulate"]
                                             or settings["micro_batch"] != 1):
            raise UserError("--accumulate and --micro-batch apply to --mode accumulate")
    # a resumed run goes on saving into its own file unless told otherwise
    checkpoint_path = args.checkpoint or args.resume
    with _open_log(args.log) as log:
        run = Run(settings, resume=resume, log=log, progress=not args.quiet)
        print("corpus %s: %d train / %d valid sequences, vocabulary %d; %s mode, "
              "backend %s" % (run.corpus.name, len(run.corpus.train),
                              len(run.corpus.valid), len(run.vocab),
                              run.config["mode"], run.config["backend"]),
              file=sys.stderr)
        try:
            history = run.fit(checkpoint_path)
        except TrainingDiverged as exc:
            kept = (" The last good checkpoint is kept in %s." % checkpoint_path
                    if checkpoint_path else "")
            print("lasagne-lstm train: stopped: %s.%s" % (exc, kept), file=sys.stderr)
            return 1
    for record in history:
        if run.config["task"] != "classify":
            metric = "valid perplexity %s" % _fmt(record["valid_perplexity"])
        else:
            metric = "valid accuracy %s" % _fmt(record["valid_accuracy"], "%.4f")
        print("epoch %d: train perplexity %.2f, %s, %s tokens/s"
              % (record["epoch"], record["train_perplexity"], metric,
                 _fmt(record["tokens_per_s"], "%.0f")))
    if checkpoint_path:
        print("checkpoint: %s (update %d)" % (checkpoint_path, run.step))
    return 0


def _fmt(value, fmt="%.2f"):
    return "n/a" if value is None else fmt % value


def _load_run(checkpoint_path, corpus=None, backend=None):
    from ..engine import Run
    overrides = {k: v for k, v in (("corpus", corpus), ("backend", backend))
                 if v is not None}
    return Run(overrides, resume=checkpoint_path, progress=False)


def run_evaluate(args):
    return _user_errors(_evaluate)(args)


def _evaluate(args):
    run = _load_run(args.checkpoint, args.corpus, args.backend)
    result = run.evaluate(args.split)
    result["split"] = args.split
    if args.json:
        print(json.dumps(result))
    elif run.config["task"] != "classify":
        print("%s perplexity: %.2f (%d tokens)" % (args.split, result["perplexity"],
                                                   result["targets"]))
    else:
        print("%s accuracy: %.4f (%d sequences)" % (args.split, result["accuracy"],
                                                    result["targets"]))
    return 0


def run_generate(args):
    return _user_errors(_generate)(args)


def _generate(args):
    from ..generation import sample
    text = sample(args.checkpoint, prime=args.prime, length=args.length,
                  temperature=args.temperature, seed=args.seed, backend=args.backend)
    print(text)
    return 0
