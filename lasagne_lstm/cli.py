"""The ``lasagne-lstm`` command: ``data``, ``train``, ``evaluate``, ``generate``.

Each subcommand lives in its own module, which provides ``add_parser(subparsers)``
registering the subcommand with a ``func(args) -> int`` default. Errors users can
cause (bad paths, bad flags, bad checkpoints) are :class:`UserError` and are
reported as one line on stderr with exit status 2, never as a traceback.
"""
import argparse
import sys


class UserError(Exception):
    """A problem with the user's input, reported as one line without a traceback."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="lasagne-lstm",
        description="Train and use Lasagne-style LSTM language models and "
                    "classifiers on text, with masked minibatches or N-step "
                    "gradient accumulation.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    from . import cli_data
    cli_data.add_parser(subparsers)
    try:
        from . import cli_train
    except ImportError:  # the training commands are optional while being built
        cli_train = None
    if cli_train is not None:
        cli_train.add_parsers(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except UserError as exc:
        print("lasagne-lstm %s: error: %s" % (args.command, exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lasagne-lstm %s: interrupted" % args.command, file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
