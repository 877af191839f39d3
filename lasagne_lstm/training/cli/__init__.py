"""The ``lasagne-lstm`` command: ``data``, ``train``, ``evaluate``, ``generate``.

Each subcommand lives in its own module, which provides ``add_parser(subparsers)``
(``add_parsers`` in :mod:`.train`) registering the subcommand with a
``func(args) -> int`` default; the flags of a run's settings come from
:mod:`lasagne_lstm.training.config`. Errors users can cause (bad paths, bad
flags, bad checkpoints, bad data, settings that cannot work) are
:class:`UserError` and are reported as one line on stderr with exit status 2,
never as a traceback; anything else is a bug and shows one.
"""
import argparse
import re
import sys

from .errors import UserError

# argparse words a refused value "argument --batch-size: must be positive, got 0"
_OUT_OF_RANGE = re.compile(r"^argument (\S+): (must .*)$", re.DOTALL)


class _Parser(argparse.ArgumentParser):
    """Reports a bad command line in one line (plus a pointer to --help)."""

    def error(self, message):
        out_of_range = _OUT_OF_RANGE.match(message)
        if out_of_range:  # "--batch-size must be positive, got 0"
            message = "%s %s" % out_of_range.groups()
        self.exit(2, "%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))


def build_parser():
    """The ``lasagne-lstm`` parser with every subcommand (imports no PyTensor
    code of its own: the commands import the engine when they run)."""
    parser = _Parser(
        prog="lasagne-lstm",
        description="Train and use Lasagne-style LSTM language models and "
                    "classifiers on text, with masked minibatches or N-step "
                    "gradient accumulation.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    from . import data as cli_data, train as cli_train
    cli_data.add_parser(subparsers)
    cli_train.add_parsers(subparsers)
    return parser


def main(argv=None):
    """Run ``lasagne-lstm`` with ``argv`` (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success, 2 for a bad command line or another
        mistake of the user's (reported in one line on stderr), 1 when
        training diverged, 130 when interrupted by SIGINT (Ctrl-C) and 143
        by SIGTERM (``train`` saves its checkpoint first). An unexpected
        error is a bug: it shows its traceback.
    """
    import warnings
    # PyTensor's C backend warns on every run when it finds no system BLAS;
    # the fallback (NumPy's BLAS through its C API) works, and the backend
    # choice is documented, so the warning is only noise here.
    warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
    # JAX in float32 mode notes each float64 accumulator PyTensor asks for
    # (sums accumulate in float64) and each assertion it drops when tracing;
    # neither changes results, and they would flood the progress display.
    warnings.filterwarnings("ignore", message="Explicitly requested dtype")
    warnings.filterwarnings("ignore", message="Skipping Assert")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a bad command line (already reported)
        return exc.code
    try:
        return args.func(args) or 0
    except UserError as exc:
        print("lasagne-lstm %s: error: %s" % (args.command, exc), file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into head: not an error of ours
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("lasagne-lstm %s: interrupted" % args.command, file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
