"""``lasagne-lstm train``, ``evaluate`` and ``generate``.

``train`` refuses, in one line with exit status 2 and before any training,
to replace an existing checkpoint without ``--overwrite``, to write a
checkpoint path that cannot be written, and to write a checkpoint another
live run is writing (``PATH.lock``; a lock left by a dead process is taken
over, saying so). On ``--resume`` the records the run wrote to ``--log``
after its checkpoint are removed first. SIGINT and SIGTERM stop it at the
end of the current update, saved, with exit status 130 or 143.
"""
import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time

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
    """Turn the project's user-facing errors (a bad checkpoint, bad data,
    settings that cannot work) into one-line UserErrors; any other
    exception is a bug and keeps its traceback."""
    from ..checkpoint import CheckpointError
    from ..data import DataError
    from ..errors import SettingsError

    def wrapper(args, *more):
        try:
            return fn(args, *more)
        except (CheckpointError, DataError, SettingsError) as exc:
            raise UserError(str(exc).splitlines()[0] if str(exc) else repr(exc)) from None
    return wrapper


class _Abort(BaseException):
    """A signal that stops ``train`` at once, without saving: one before the
    run is set up, or a second one while the first is being handled."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class _StopOnSignals:
    """While active, SIGINT and SIGTERM ask the run to stop at the end of the
    update under way (it saves, then raises TrainingInterrupted). A signal
    before the run exists, or a second one while the run is not saving,
    raises :class:`_Abort`; one during a save waits for the save to end.

    A signal the parent process set to be ignored (``SIG_IGN``: a
    background job of a non-interactive shell ignores SIGINT) stays ignored,
    as Python itself leaves it. Signal handlers can only be set from the main
    thread; elsewhere this does nothing.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.run = None
        self._previous = {}

    def _handle(self, signum, frame):
        run = self.run
        if run is not None and run.saving:
            run.request_stop(signum)  # the save finishes first (it is atomic anyway)
            return
        if run is None or run.stop_requested is not None:
            raise _Abort(signum)
        run.request_stop(signum)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                if signal.getsignal(signum) != signal.SIG_IGN:
                    self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info):
        for signum, handler in self._previous.items():
            # None: a handler not set from Python, which cannot be put back
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        self._previous = {}
        return False


def _signal_name(signum):
    try:
        return signal.Signals(signum).name
    except (ValueError, TypeError):
        return "signal %s" % signum


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _check_checkpoint_path(path, args):
    """Refuse, before any training, a checkpoint path that cannot or must
    not be written."""
    from ..checkpoint import check_writable
    check_writable(path)
    continuing = args.resume and _same_file(path, args.resume)
    if os.path.lexists(path) and not continuing and not args.overwrite:
        raise UserError("%s exists; give --overwrite to replace it, or --resume %s to "
                        "continue its run" % (path, path))


def _trim_log(path, saved):
    """Remove from the log the records the resumed run wrote after its checkpoint."""
    from ..engine import trim_log
    meta = saved.meta
    try:
        removed = trim_log(path, meta.get("run_id"), meta.get("step", 0),
                           meta.get("epoch", 0))
    except OSError as exc:
        raise UserError("cannot rewrite the log %s: %s" % (path, exc.strerror or exc)) from None
    if removed:
        print("lasagne-lstm train: removed %d record%s written after update %d from %s"
              % (removed, "" if removed == 1 else "s", meta.get("step", 0), path),
              file=sys.stderr)


def run_train(args):
    if args.distributed != "mpi":
        return _user_errors(_train)(args)
    return _on_every_rank(_user_errors(_train), args)


def _on_every_rank(train, args):
    """Run ``train`` as one rank of an MPI job, so that a failure of any rank
    ends every rank: an error or a bug on one rank prints its one line (or
    traceback) naming the rank and calls MPI's abort, which stops the whole
    job with a non-zero exit status instead of leaving the others waiting
    in a collective: a rank that merely exits looks finished to MPI, and
    the others would wait for it forever. (Outcomes every rank reaches
    together, such as a diverged or interrupted run, are reported by rank 0
    and end normally.)"""
    from .. import distributed
    try:
        comm = distributed.mpi_world()
    except Exception as exc:  # noqa: BLE001 (no MPI: one line, no traceback)
        raise UserError(str(exc)) from None
    try:
        return train(args, comm)
    except UserError as exc:
        _abort_job(comm, 2, "lasagne-lstm train: error: %s%s" % (_rank_words(comm), exc))
    except KeyboardInterrupt:  # before the run's own signal handling took over
        _abort_job(comm, 130, "lasagne-lstm train: %sinterrupted" % _rank_words(comm))
    except BaseException:  # noqa: BLE001 (a bug: its traceback, then the abort)
        import traceback
        _abort_job(comm, 1, "lasagne-lstm train: %sfailed:\n%s"
                   % (_rank_words(comm), traceback.format_exc().rstrip()))


def _rank_words(comm):
    return "rank %d of %d: " % (comm.rank, comm.size) if comm.size > 1 else ""


def _abort_job(comm, code, message):
    """Print ``message`` and end every rank with exit status ``code``."""
    if comm.rank != 0:
        # an error every rank meets (a bad setting) is then told once, by
        # rank 0, whose abort ends this rank first; one of this rank's own
        # (its host lacks the corpus) is told after the pause
        time.sleep(2.0)
    print(message, file=sys.stderr, flush=True)
    _abort_after_output(comm, code)


def _abort_after_output(comm, code):
    """MPI's abort, after a moment: MPICH's launcher stops forwarding a
    rank's output when the abort reaches it, and the line just printed could
    be lost."""
    time.sleep(0.5)
    comm.abort(code)


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


def _train(args, comm=None):
    """Train; ``comm``: this process is a rank of an MPI job, and only rank
    0 reads the resumed checkpoint (the others receive it), checks and locks
    the checkpoint path, and writes the log."""
    leader = comm is None or comm.rank == 0
    requested = _requested_settings(args)
    resume = settings = None
    if leader:
        if args.resume:
            resume, settings = _resume_overrides(args.resume, requested)
        else:
            settings = config.resolve(requested)
            if settings["mode"] == "masked" and (settings["accumulate"]
                                                 or settings["micro_batch"] != 1):
                raise UserError("--accumulate and --micro-batch apply to --mode "
                                "accumulate")
    if comm is not None:
        resume, settings = comm.broadcast((resume, settings))
    # a resumed run goes on saving into its own file unless told otherwise
    checkpoint_path = (args.checkpoint or args.resume) if leader else None
    if checkpoint_path:
        _check_checkpoint_path(checkpoint_path, args)
    signals = _StopOnSignals()
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(signals)
            if checkpoint_path:
                _lock(stack, checkpoint_path)
            if resume is not None and args.log and leader:
                _trim_log(args.log, resume)
            log = stack.enter_context(_open_log(args.log if leader else None))
            return _fit(args, settings, resume, log, checkpoint_path, signals, comm)
    except _Abort as stop:
        run = signals.run
        if run is None:
            what = "before training started; nothing was saved"
        elif run.last_saved:
            what = ("again: stopped at once; the last checkpoint is update %d in %s"
                    % (run.last_saved[1], run.last_saved[0]))
        else:
            what = "again: stopped at once; no checkpoint was written"
        print("lasagne-lstm train: interrupted by %s %s" % (_signal_name(stop.signum), what),
              file=sys.stderr, flush=True)
        if comm is not None:
            # this rank alone stops now: the others would wait for it forever
            # (a rank that just exits looks finished to MPI)
            _abort_after_output(comm, 128 + stop.signum)
        return 128 + stop.signum


def _lock(stack, checkpoint_path):
    """Hold the checkpoint's lock until ``stack`` closes; say so on a take-over."""
    from ..checkpoint import CheckpointLock
    lock = stack.enter_context(CheckpointLock(checkpoint_path))
    if lock.taken_over:
        holder = lock.taken_over
        if holder.get("unreadable"):
            print("lasagne-lstm train: %s is unreadable; taking it over" % lock.lock_path,
                  file=sys.stderr)
        else:
            print("lasagne-lstm train: %s was left by process %s, which is no longer "
                  "running; taking it over" % (lock.lock_path, holder.get("pid")),
                  file=sys.stderr)
    return lock


def _fit(args, settings, resume, log, checkpoint_path, signals, comm=None):
    from ..distributed import RanksDiverged
    from ..engine import Run, TrainingDiverged, TrainingInterrupted
    run = Run(settings, resume=resume, log=log, progress=not args.quiet,
              distributed=comm)
    signals.run = run
    if not run.writes:
        # every rank reaches the outcomes below together; rank 0 reports them
        return _fit_quietly(run)
    ranks = ", %d MPI ranks" % comm.size if comm is not None else ""
    print("corpus %s: %d train / %d valid sequences, vocabulary %d; %s mode, "
          "backend %s%s" % (run.corpus.name, len(run.corpus.train),
                            len(run.corpus.valid), len(run.vocab),
                            run.config["mode"], run.config["backend"], ranks),
          file=sys.stderr)
    try:
        history = run.fit(checkpoint_path)
    except (TrainingDiverged, RanksDiverged) as exc:
        print("lasagne-lstm train: stopped: %s" % exc, file=sys.stderr)
        return 1
    except TrainingInterrupted as stop:
        if stop.saved:
            what = ("saved update %d to %s; continue with: lasagne-lstm train --resume %s"
                    % (stop.step, stop.saved, stop.saved))
        else:
            what = "nothing was saved (no --checkpoint)"
        print("lasagne-lstm train: interrupted by %s after update %d: %s"
              % (_signal_name(stop.signum), stop.step, what), file=sys.stderr)
        return 128 + (stop.signum or signal.SIGINT)
    for record in history:
        if run.config["task"] != "classify":
            metric = "valid perplexity %s" % _fmt(record["valid_perplexity"])
        else:
            metric = "valid accuracy %s" % _fmt(record["valid_accuracy"], "%.4f")
        compiled = ""
        if record.get("compiled_functions") is not None:
            if record.get("compile_ahead_seconds"):
                compiled = (", %d functions compiled (%.1f s of compiling in the background, "
                            "training waited %.1f s for it)" % (
                                record["compiled_functions"],
                                record["compile_ahead_seconds"],
                                record["total_compile_seconds"]))
            else:
                compiled = ", %d functions compiled (%.1f s in all)" % (
                    record["compiled_functions"], record["total_compile_seconds"])
        print("epoch %d: train perplexity %.2f, %s, %s tokens/s%s"
              % (record["epoch"], record["train_perplexity"], metric,
                 _fmt(record["tokens_per_s"], "%.0f"), compiled))
    if checkpoint_path:
        print("checkpoint: %s (update %d)" % (checkpoint_path, run.step))
    return 0


def _fit_quietly(run):
    """Train as a rank other than 0: the exit status only."""
    from ..distributed import RanksDiverged
    from ..engine import TrainingDiverged, TrainingInterrupted
    try:
        run.fit()
    except (TrainingDiverged, RanksDiverged):
        return 1
    except TrainingInterrupted as stop:
        return 128 + (stop.signum or signal.SIGINT)
    return 0


def _fmt(value, fmt="%.2f"):
    return "n/a" if value is None else fmt % value


def _load_run(checkpoint_path, corpus=None, backend=None):
    """The run of a checkpoint, on its own corpus or another one."""
    from ..engine import Run
    overrides = {k: v for k, v in (("corpus", corpus), ("backend", backend))
                 if v is not None}
    return Run(overrides, resume=checkpoint_path, progress=False, other_data=True)


def run_evaluate(args):
    return _user_errors(_evaluate)(args)


def _evaluate(args):
    run = _load_run(args.checkpoint, args.corpus, args.backend)
    if run.data_differences:
        rate = run.corpus.unknown_rate(run.vocab, args.split)
        print("lasagne-lstm evaluate: warning: %s is not the data %s was trained on "
              "(%s); %s of its %s tokens are unknown to the checkpoint's vocabulary"
              % (run.config["corpus"], args.checkpoint, "; ".join(run.data_differences),
                 "n/a" if rate is None else "%.1f%%" % (100 * rate), args.split),
              file=sys.stderr)
    result = run.evaluate(args.split)
    if not result["targets"]:
        # exit status 2: the number asked for does not exist, and a script
        # reading it must not take the run for a success
        raise UserError("the %s split of %s has nothing to evaluate (%d sequences%s); "
                        "try --split %s, or a corpus with more text" % (
                            args.split, run.corpus.name,
                            len(getattr(run.corpus, args.split)),
                            ", too few tokens for one window of --num-steps %d"
                            % run.config["num_steps"]
                            if run.config["task"] == "stream" else "",
                            "test" if args.split == "valid" else "valid"))
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
