"""Exceptions for mistakes in a run's settings, importable by engine-level
code without importing the command line.

The ``lasagne-lstm`` command reports these errors, together with
:class:`~lasagne_lstm.training.checkpoint.CheckpointError` and
:class:`~lasagne_lstm.training.data.DataError`, as one line with exit status
2. Every other exception is treated as a bug and shows its traceback.
"""

__all__ = ["SettingsError"]


class SettingsError(ValueError):
    """Run settings that cannot work: a combination the model or the data
    cannot take, a backend that is not installed, or a model too large for
    the machine's memory. The message is one line meant for the user."""
