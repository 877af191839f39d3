"""``theano.sandbox``: only ``rng_mrg`` (``MRG_RandomStreams``) is here.

Theano's GPU backends (``sandbox.cuda``, ``sandbox.gpuarray``) are gone:
for a GPU choose the JAX backend (:mod:`lasagne_lstm.backends`).
"""
from ..core import not_ported_getattr
from . import rng_mrg  # noqa: F401

__all__ = ["rng_mrg"]

_GPU = ("Theano's GPU backends are gone",
        "for a GPU choose the JAX backend (lasagne_lstm.backends, 'jax' with "
        "jax[cuda12] installed)")

__getattr__ = not_ported_getattr(__name__, "theano.sandbox", {
    "cuda": _GPU,
    "gpuarray": _GPU,
    "neighbours": ("image patches are not ported", None),
    "blocksparse": ("block-sparse products are not ported", None),
    "linalg": ("the sandbox is gone",
               "use theano.tensor.nlinalg or theano.tensor.slinalg"),
})
