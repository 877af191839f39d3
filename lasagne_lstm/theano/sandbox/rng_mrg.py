"""``theano.sandbox.rng_mrg.MRG_RandomStreams`` on the counter-based
generator of :mod:`lasagne_lstm.random_bits`.

Same interface and distributions as Theano's MRG31k3p streams, not the same
numbers: every draw is Threefry-2x32 of (seed, draw id, call counter,
element index), identical on every backend.
"""
from ...random_bits import CounterStreams
from ..core import NotPorted

__all__ = ["MRG_RandomStreams"]

#: Theano's MRG methods and attributes that have no counterpart here.
_MISSING = {
    "multinomial": "multinomial sampling is not ported",
    "multinomial_wo_replacement": "multinomial sampling is not ported",
    "choice": "multinomial sampling is not ported",
    "truncated_normal": "truncated normals are not ported",
    "get_substream_rstates": "the counter-based generator has no MRG "
                             "substream states",
    "inc_rstate": "the counter-based generator has no MRG substream states",
    "rstate": "the counter-based generator has no MRG substream states",
}


class MRG_RandomStreams(CounterStreams):
    """Theano's ``MRG_RandomStreams(seed=12345)``.

    Parameters
    ----------
    seed : int
        In ``[0, 2**32)``. (Theano's 6-integer MRG state has no counterpart.)

    Notes
    -----
    ``nstreams`` (how many parallel MRG states Theano used) is accepted and
    ignored: each element here is its own counter. ``binomial`` accepts
    ``n > 1`` (a sum of ``n`` Bernoulli draws), which Theano's MRG did not.
    See :class:`lasagne_lstm.random_bits.CounterStreams` for the keys, the
    call counter and checkpointing.
    """

    def __init__(self, seed=12345):
        super().__init__(seed)

    def uniform(self, size=(), low=0.0, high=1.0, ndim=None, dtype=None,
                nstreams=None):
        """Uniform floats in ``[low, high)`` of shape ``size``."""
        return super().uniform(size, low, high, ndim, dtype)

    def normal(self, size=(), avg=0.0, std=1.0, ndim=None, dtype=None,
               nstreams=None, truncate=False):
        """Normal floats of mean ``avg`` and standard deviation ``std``."""
        if truncate:
            raise NotPorted("MRG_RandomStreams.normal(truncate=True)",
                            "truncated normals are not ported")
        return super().normal(size, avg, std, ndim, dtype)

    def binomial(self, size=(), n=1, p=0.5, ndim=None, dtype="int64",
                 nstreams=None):
        """Successes in ``n`` trials of probability ``p`` (int64 default)."""
        return super().binomial(size, n, p, ndim, dtype)

    def __getattr__(self, name):
        # only reached for names the class does not have
        if name in _MISSING:
            raise NotPorted("theano.sandbox.rng_mrg.MRG_RandomStreams.%s"
                            % name, _MISSING[name])
        raise AttributeError("%r object has no attribute %r"
                             % (type(self).__name__, name))
