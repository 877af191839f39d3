"""``lasagne-lstm train``, ``evaluate`` and ``generate``."""
import argparse
import contextlib
import json
import sys

from ... import backends
from .errors import UserError

# Imported lazily inside the commands: PyTensor's import is slow, and
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
first use) or a path to a text file or a folder of .txt files.

examples:
  lasagne-lstm train shakespeare --checkpoint lm.npz
  lasagne-lstm train brown --mode accumulate --micro-batch 1 --epochs 2
  lasagne-lstm train polarity --task classify --bidirectional
  lasagne-lstm train --resume lm.npz --epochs 3
"""


def _number(kind, minimum, exclusive=False, below=None):
    """An argparse type: a number of ``kind`` (int or float) that is at least
    ``minimum`` (more than it if ``exclusive``) and less than ``below``."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                "%r is not %s" % (text, "an integer" if kind is int else "a number")) from None
        if not (value > minimum if exclusive else value >= minimum):
            bound = ("positive" if exclusive and minimum == 0 else
                     "%s %s" % (">" if exclusive else "≥", minimum))
            raise argparse.ArgumentTypeError("must be %s, got %s" % (bound, text))
        if below is not None and value >= below:
            raise argparse.ArgumentTypeError(
                "must be in [%s, %s), got %s" % (minimum, below, text))
        return value
    return parse


_positive_int = _number(int, 0, exclusive=True)
_non_negative_int = _number(int, 0)
_non_negative_float = _number(float, 0)
_positive_float = _number(float, 0, exclusive=True)
_probability = _number(float, 0, below=1)


def add_parsers(subparsers):
    from ..engine import DEFAULTS, SCHEDULES
    from ..steps import OPTIMIZERS, WEIGHTINGS
    d = DEFAULTS
    p = subparsers.add_parser(
        "train", help="train a model (masked or gradient accumulation)",
        description=_TRAIN_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus", nargs="?", default=None,
                   help="corpus name or path (default: %s; with --resume: the "
                        "checkpoint's)" % d["corpus"])
    g = p.add_argument_group("data")
    g.add_argument("--task", choices=("lm", "classify"), default=d["task"],
                   help="language model (next token) or classification (default: %(default)s)")
    g.add_argument("--level", choices=("word", "char"), default=d["level"],
                   help="tokens are words or characters (default: %(default)s)")
    g.add_argument("--no-lowercase", dest="lowercase", action="store_false",
                   help="keep case (default: lowercase words)")
    g.add_argument("--max-sequences", type=_non_negative_int, default=d["max_sequences"],
                   help="use at most N sequences of the corpus, chosen by --seed; "
                        "0 uses all (default: %(default)s)")
    g.add_argument("--vocab-size", type=_positive_int, default=d["vocab_size"],
                   help="keep the N most frequent tokens (default: %(default)s)")
    g.add_argument("--min-count", type=_positive_int, default=d["min_count"],
                   help="drop tokens seen fewer times (default: %(default)s)")
    g.add_argument("--max-len", type=_positive_int, default=d["max_len"],
                   help="longest sequence in tokens (default: %(default)s)")
    g.add_argument("--overflow", choices=("truncate", "split", "drop"),
                   default=d["overflow"],
                   help="what to do with longer sequences (default: %(default)s)")
    g.add_argument("--batch-size", type=_positive_int, default=d["batch_size"],
                   help="sequences per batch (default: %(default)s)")
    g.add_argument("--bucketing", choices=("none", "pool", "boundaries", "tokens"),
                   default=d["bucketing"],
                   help="how sequences are grouped into batches (default: %(default)s)")
    g.add_argument("--pad-multiple", type=_positive_int, default=None,
                   help="round padded lengths up to a multiple of K (default: 4 on "
                        "the jax backend, which compiles one function per shape; "
                        "else 1)")
    g.add_argument("--pad-growth", type=_number(float, 1), default=None,
                   help="padded lengths come from the ladder K, then each rung the "
                        "previous times G rounded up to a multiple of K; 1 allows "
                        "every multiple (default: 1.3 on jax, else 1)")
    g.add_argument("--encoding", default=None,
                   help="text encoding of a corpus given by path (default: UTF-8)")
    g.add_argument("--seed", type=int, default=d["seed"],
                   help="seed of splits, batch order and initial weights (default: %(default)s)")
    g = p.add_argument_group("model")
    g.add_argument("--embedding", type=_positive_int, default=d["embedding"],
                   help="embedding size (default: %(default)s)")
    g.add_argument("--hidden", type=_positive_int, default=d["hidden"],
                   help="recurrent units per layer (default: %(default)s)")
    g.add_argument("--layers", type=_positive_int, default=d["layers"],
                   help="stacked recurrent layers (language model; default: %(default)s)")
    g.add_argument("--cell", choices=("lstm", "gru"), default=d["cell"],
                   help="recurrent cell (default: %(default)s)")
    g.add_argument("--grad-clipping", type=_non_negative_float, default=d["grad_clipping"],
                   help="per-step clipping of the gate pre-activations' gradients, "
                        "Lasagne's grad_clipping; 0 disables (default: %(default)s)")
    g.add_argument("--dropout", type=_probability, default=d["dropout"],
                   help="dropout between layers and before the output (default: %(default)s)")
    g.add_argument("--tie-embeddings", action="store_true",
                   help="share the input embedding with the output layer "
                        "(needs --embedding equal to --hidden)")
    g.add_argument("--bidirectional", action="store_true",
                   help="classifier reads both directions")
    g.add_argument("--init-range", type=_positive_float, default=None,
                   help="initialise every weight uniformly in ±R (Zaremba et al. use 0.1)")
    g = p.add_argument_group("training")
    g.add_argument("--mode", choices=("masked", "accumulate"), default=d["mode"],
                   help="masked minibatches or gradient accumulation (default: %(default)s)")
    g.add_argument("--accumulate", type=_positive_int, default=None,
                   help="accumulation window N in sequences (default: --batch-size)")
    g.add_argument("--micro-batch", type=_positive_int, default=d["micro_batch"],
                   help="sequences per compute-grad call; 1 means single unpadded "
                        "sequences without a mask (default: %(default)s)")
    g.add_argument("--weighting", choices=WEIGHTINGS, default=d["weighting"],
                   help="weight every real token equally (tokens) or every "
                        "sequence (sequences) (default: %(default)s)")
    g.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default=d["optimizer"],
                   help="update rule (default: %(default)s)")
    g.add_argument("--learning-rate", type=_positive_float, default=None,
                   help="learning rate (default: the rule's usual one)")
    g.add_argument("--max-grad-norm", type=_positive_float, default=None,
                   help="rescale the gradient to at most this global norm")
    g.add_argument("--lr-schedule", choices=SCHEDULES, default=d["lr_schedule"],
                   help="learning-rate schedule (default: %(default)s)")
    g.add_argument("--lr-decay", type=_positive_float, default=d["lr_decay"],
                   help="factor of the decay and plateau schedules (default: %(default)s)")
    g.add_argument("--lr-decay-start", type=_positive_int, default=d["lr_decay_start"],
                   help="first epoch after which 'decay' applies (default: %(default)s)")
    g.add_argument("--patience", type=_positive_int, default=d["patience"],
                   help="epochs without improvement before 'plateau' decays (default: %(default)s)")
    g.add_argument("--epochs", type=_positive_int, default=None,
                   help="epochs to train (default: %d)" % d["epochs"])
    g.add_argument("--max-steps", type=_positive_int, default=None,
                   help="stop after this many updates in total")
    g.add_argument("--backend", choices=backends.BACKENDS, default=d["backend"],
                   help="PyTensor backend (default: %(default)s, the fastest measured on "
                        "the CPU, and the one that runs on GPUs)")
    g.add_argument("--float", dest="float_type", choices=("float32", "float64"),
                   default=d["float_type"], help="float type of the computation (default: %(default)s)")
    g = p.add_argument_group("output")
    g.add_argument("--checkpoint", default=None,
                   help="write the run's state here (end of training, every epoch, "
                        "and every --save-every updates)")
    g.add_argument("--save-every", type=_positive_int, default=None,
                   help="also save every N updates")
    g.add_argument("--resume", default=None,
                   help="continue from this checkpoint exactly where it stopped")
    g.add_argument("--log", default=None,
                   help="append a JSON line per update and per epoch to this file")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
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
    p.add_argument("--backend", choices=backends.BACKENDS, default=None,
                   help="PyTensor backend (default: the checkpoint's)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run_evaluate)

    p = subparsers.add_parser(
        "generate", help="sample text from a language-model checkpoint",
        description="Sample text from a language model, one token at a time.")
    p.add_argument("checkpoint", help="a language-model checkpoint")
    p.add_argument("--prime", default="", help="text to start from")
    p.add_argument("--length", type=_positive_int, default=50,
                   help="tokens to sample (default: %(default)s)")
    p.add_argument("--temperature", type=_positive_float, default=1.0,
                   help="softmax temperature; lower is more conservative (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default: %(default)s)")
    p.add_argument("--backend", choices=backends.BACKENDS, default=None,
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


def _train(args):
    from ..engine import Run, TrainingDiverged
    config = {key: value for key, value in vars(args).items()
              if key not in ("func", "command", "checkpoint", "resume", "log", "quiet")}
    if args.resume:
        # A resumed run keeps its checkpoint's settings except how long it runs.
        config = {k: config[k] for k in ("epochs", "max_steps", "save_every")
                  if config[k] is not None}
    else:
        if config["mode"] == "masked" and (args.accumulate or args.micro_batch != 1):
            raise UserError("--accumulate and --micro-batch apply to --mode accumulate")
        config = {k: v for k, v in config.items() if v is not None}
    with _open_log(args.log) as log:
        run = Run(config, resume=args.resume, log=log, progress=not args.quiet)
        print("corpus %s: %d train / %d valid sequences, vocabulary %d; %s mode, "
              "backend %s" % (run.corpus.name, len(run.corpus.train),
                              len(run.corpus.valid), len(run.vocab),
                              run.config["mode"], run.config["backend"]),
              file=sys.stderr)
        try:
            history = run.fit(args.checkpoint)
        except TrainingDiverged as exc:
            kept = (" The last good checkpoint is kept in %s." % args.checkpoint
                    if args.checkpoint else "")
            print("lasagne-lstm train: stopped: %s.%s" % (exc, kept), file=sys.stderr)
            return 1
    for record in history:
        if run.config["task"] == "lm":
            metric = "valid perplexity %s" % _fmt(record["valid_perplexity"])
        else:
            metric = "valid accuracy %s" % _fmt(record["valid_accuracy"], "%.4f")
        print("epoch %d: train perplexity %.2f, %s, %s tokens/s"
              % (record["epoch"], record["train_perplexity"], metric,
                 _fmt(record["tokens_per_s"], "%.0f")))
    if args.checkpoint:
        print("checkpoint: %s (update %d)" % (args.checkpoint, run.step))
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
    elif run.config["task"] == "lm":
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
