"""``theano.tensor`` (``T``): PyTensor's ``pytensor.tensor`` plus Theano's
names for what PyTensor renamed, and the submodules ``nnet``,
``extra_ops`` and ``shared_randomstreams``.

Renamed in PyTensor, same meaning: ``addbroadcast`` is
``specify_broadcastable``, ``abs_`` is ``abs``, ``inv`` is ``reciprocal``;
``patternbroadcast`` is written here on ``specify_broadcastable``, and
``flatten``/``reshape`` take Theano's ``outdim``/positional ``ndim``. Theano
names with no equivalent (``unbroadcast``, ``Rebroadcast``, ``opt``,
``signal``, ``raw_random``, ...) raise
:class:`~lasagne_lstm.theano.core.NotPorted` when looked up.
"""
import sys
from importlib import import_module

from pytensor.tensor import *  # noqa: F401,F403
from pytensor.tensor import (
    as_tensor_variable, reciprocal, specify_broadcastable)
from pytensor.tensor import abs as abs_  # Theano's name of abs
from pytensor.tensor import flatten as _flatten, reshape as _reshape
# public submodules and classes that the star import leaves out
from pytensor.tensor import (  # noqa: F401
    basic, blas, elemwise, fft, nlinalg, sharedvar, slinalg, subtensor, xlogx)
from pytensor.tensor.basic import Alloc, ARange, Join, Split  # noqa: F401
from pytensor.tensor.elemwise import CAReduce, DimShuffle, Elemwise  # noqa: F401
from pytensor.tensor.exceptions import NotScalarConstantError  # noqa: F401
from pytensor.tensor.math import Dot  # noqa: F401
from pytensor.tensor.sharedvar import TensorSharedVariable  # noqa: F401
from pytensor.tensor.subtensor import (  # noqa: F401
    AdvancedIncSubtensor, AdvancedIncSubtensor1, AdvancedSubtensor,
    AdvancedSubtensor1, IncSubtensor, Subtensor)
from pytensor.tensor.variable import TensorConstant, TensorVariable  # noqa: F401

from ..core import NotPorted, grad, not_ported_getattr  # noqa: F401
from ..gradient import (  # noqa: F401
    Lop, Rop, consider_constant, hessian, jacobian, numeric_grad, verify_grad)

# pytensor.tensor.shape is shadowed by the function ``shape``
_shape_module = sys.modules["pytensor.tensor.shape"]
Reshape = _shape_module.Reshape
Shape = _shape_module.Shape
Shape_i = _shape_module.Shape_i
SpecifyShape = _shape_module.SpecifyShape

# pytensor.tensor.signal is convolution of signals, Theano's was pooling
globals().pop("signal", None)

#: Theano's ``addbroadcast(x, *axes)``: mark axes of length 1 as
#: broadcastable (checked when the function runs).
addbroadcast = specify_broadcastable
#: Theano's ``inv``: the reciprocal ``1 / x``.
inv = reciprocal


def flatten(x, outdim=1, ndim=None):
    """Theano's ``flatten(x, outdim=1)``: keep the first ``outdim - 1``
    axes and merge the rest (PyTensor names the argument ``ndim``)."""
    return _flatten(x, outdim if ndim is None else ndim)


def reshape(x, newshape, ndim=None):
    """Theano's ``reshape(x, newshape, ndim=None)`` (PyTensor's ``ndim``
    is keyword-only)."""
    return _reshape(x, newshape, ndim=ndim)


def patternbroadcast(x, broadcastable):
    """Theano's ``patternbroadcast(x, broadcastable)``, where it can apply.

    Axes marked True become broadcastable (their length must be 1 when the
    function runs). PyTensor cannot forget a static length of 1, so an axis
    marked False must not be one already (PyTensor's scan and ifelse accept
    such axes, which is what Theano's unbroadcasting was for).

    Raises
    ------
    ValueError
        For a pattern of the wrong length, or one that asks to make a
        broadcastable axis non-broadcastable.
    """
    x = as_tensor_variable(x)
    pattern = tuple(bool(b) for b in broadcastable)
    if len(pattern) != x.ndim:
        raise ValueError("patternbroadcast got a pattern of %d axes for a "
                         "tensor of %d" % (len(pattern), x.ndim))
    dropped = [axis for axis, (now, wanted)
               in enumerate(zip(x.type.broadcastable, pattern))
               if now and not wanted]
    if dropped:
        raise ValueError("patternbroadcast cannot make axes %s "
                         "non-broadcastable: PyTensor keeps static lengths "
                         "of 1 (and does not need them removed)" % dropped)
    axes = [axis for axis, wanted in enumerate(pattern) if wanted]
    return specify_broadcastable(x, *axes) if axes else x


# the star import bound ``extra_ops`` to PyTensor's module, which would make
# ``from . import extra_ops`` return it instead of importing ours
extra_ops = import_module(__name__ + ".extra_ops")
nnet = import_module(__name__ + ".nnet")
shared_randomstreams = import_module(__name__ + ".shared_randomstreams")

_STATIC_ONES = ("PyTensor keeps static lengths of 1 and its scan and ifelse "
                "accept them", "remove the call")

__getattr__ = not_ported_getattr(__name__, "theano.tensor", {
    "unbroadcast": _STATIC_ONES,
    "Rebroadcast": _STATIC_ONES,
    "opt": ("Theano's optimizer module is gone",
            "PyTensor's graph rewrites are in pytensor.tensor.rewriting, "
            "Assert is pytensor.raise_op.Assert"),
    "opt_uncanonicalize": ("Theano's optimizer module is gone",
                           "see pytensor.tensor.rewriting"),
    "signal": ("pooling and signal convolution are not ported", None),
    "raw_random": ("random numbers come from counter-based streams",
                   "use T.shared_randomstreams.RandomStreams"),
    "randomstreams": ("random numbers come from counter-based streams",
                      "use T.shared_randomstreams.RandomStreams"),
    "blas_scipy": ("PyTensor dropped its SciPy BLAS ops", None),
    "io": ("Theano's MPI and load ops are gone",
           "see lasagne_lstm.training for distributed training"),
    "topk": ("top-k selection is not ported", "use T.sort or T.argsort"),
    "argtopk": ("top-k selection is not ported", "use T.argsort"),
    "topk_and_argtopk": ("top-k selection is not ported",
                         "use T.sort and T.argsort"),
})
