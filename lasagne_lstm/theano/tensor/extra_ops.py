"""``theano.tensor.extra_ops``: PyTensor's ``pytensor.tensor.extra_ops``.

Everything Theano's module offered is there under the same names
(``cumsum``, ``cumprod``, ``diff``, ``bincount``, ``squeeze``, ``repeat``,
``bartlett``, ``fill_diagonal``, ``fill_diagonal_offset``, ``to_one_hot``,
``searchsorted``, ``unique``, ``ravel_multi_index``, ``unravel_index``,
``compress``, ``cpu_contiguous``), with the same meaning; ``to_one_hot(y,
nb_class, dtype=None)`` gives floatX rows by default, as Theano's did.
Theano's op classes ``CumsumOp``/``CumprodOp`` are PyTensor's ``CumOp``,
``RepeatOp`` is ``Repeat``, and ``DiffOp``/``BinCountOp`` have no class of
their own here.
"""
from pytensor.tensor.extra_ops import *  # noqa: F401,F403
from pytensor.tensor.extra_ops import (  # noqa: F401
    Bartlett, CpuContiguous, CumOp, FillDiagonal, FillDiagonalOffset,
    RavelMultiIndex, Repeat, SearchsortedOp, Unique, UnravelIndex,
    cpu_contiguous, to_one_hot)

from ..core import not_ported_getattr

#: Theano's name for PyTensor's ``Repeat`` op.
RepeatOp = Repeat

_NO_CLASS = ("PyTensor builds it from other ops",
             "call the function of the same name")

__getattr__ = not_ported_getattr(__name__, "theano.tensor.extra_ops", {
    "DiffOp": _NO_CLASS,
    "BinCountOp": _NO_CLASS,
    "CumsumOp": ("PyTensor has one CumOp", "use CumOp(axis, mode='add')"),
    "CumprodOp": ("PyTensor has one CumOp", "use CumOp(axis, mode='mul')"),
})
