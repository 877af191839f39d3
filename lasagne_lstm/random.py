"""The package-wide random number generator (Lasagne's ``lasagne.random``).

Initializers and the seeds of noise layers draw from the generator returned by
:func:`get_rng`. Until :func:`set_rng` replaces it, that is the ``numpy.random``
module itself, as in Lasagne, so ``numpy.random.seed`` seeds it.

Symbolic random tensors (dropout masks, noise) come from the counter-based
generator of :mod:`lasagne_lstm.random_bits`, re-exported here: a pure
function of a key and an element index, the same bits on every backend.
"""
import numpy as np

from .random_bits import (  # noqa: F401
    CounterStreams, bernoulli, normal, random_bits, uniform)

_rng = np.random


def get_rng():
    """Return the generator that initializers and noise layers draw from."""
    return _rng


def set_rng(new_rng):
    """Replace the package generator, e.g. with ``np.random.RandomState(42)``."""
    global _rng
    _rng = new_rng
