"""The ``lasagne-lstm`` command: ``data``, ``train``, ``evaluate``, ``generate``.

Each subcommand lives in its own module, which provides ``add_parser(subparsers)``
registering the subcommand with a ``func(args) -> int`` default. Errors users can
cause (bad paths, bad flags, bad checkpoints) are :class:`UserError` and are
reported as one line on stderr with exit status 2, never as a traceback.
"""
import argparse
import sys

from .errors import UserError


class _Parser(argparse.ArgumentParser):
    """Reports a bad command line in one line (plus a pointer to --help)."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))


def build_parser():
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
    args = parser.parse_args(argv)
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
