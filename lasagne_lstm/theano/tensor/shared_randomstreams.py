"""``theano.tensor.shared_randomstreams.RandomStreams`` on the
counter-based generator of :mod:`lasagne_lstm.random_bits`.

Same interface and distributions as Theano's (NumPy-backed) streams, not the
same numbers: every draw is Threefry-2x32 of (seed, draw id, call counter,
element index), identical on every backend, JAX included.
"""
from ...random_bits import CounterStreams
from ..core import NotPorted

__all__ = ["RandomStreams"]

#: Theano's RandomStreams methods that have no counterpart here.
_MISSING = {
    "random_integers": "random integers are not ported",
    "choice": "sampling from a set is not ported",
    "permutation": "permutations are not ported",
    "multinomial": "multinomial sampling is not ported",
    "poisson": "Poisson sampling is not ported",
    "shuffle_row_elements": "shuffling is not ported",
    "gen": "generic NumPy distributions are not ported",
    "random_state_variables": "there are no shared NumPy generators",
}


class RandomStreams(CounterStreams):
    """Theano's ``RandomStreams(seed=None)``.

    Parameters
    ----------
    seed : int or None
        In ``[0, 2**32)``. None draws one from the package generator
        (:func:`lasagne_lstm.random.get_rng`), so ``numpy.random.seed`` makes
        it reproducible.

    Notes
    -----
    Methods ``uniform``, ``normal``, ``binomial`` (``n >= 1``), ``seed``,
    ``updates``; see :class:`lasagne_lstm.random_bits.CounterStreams` for
    the keys, the call counter and checkpointing.
    """

    def __getattr__(self, name):
        # only reached for names the class does not have
        if name in _MISSING:
            raise NotPorted("theano.tensor.shared_randomstreams."
                            "RandomStreams.%s" % name, _MISSING[name])
        raise AttributeError("%r object has no attribute %r"
                             % (type(self).__name__, name))
