"""``theano.gradient`` on PyTensor's ``pytensor.gradient``.

``consider_constant`` (deprecated in Theano in favour of ``zero_grad`` and
``disconnected_grad``) gave a zero gradient, which is ``zero_grad``.
"""
from pytensor.gradient import (  # noqa: F401
    DisconnectedInputError, DisconnectedType, GradientError, Lop,
    NullTypeGradError, Rop, disconnected_grad, grad_clip, grad_not_implemented,
    grad_scale, grad_undefined, hessian, jacobian, numeric_grad, subgraph_grad,
    verify_grad, zero_grad)

from .core import grad  # noqa: F401

__all__ = ["grad", "grad_clip", "grad_scale", "disconnected_grad",
           "zero_grad", "consider_constant", "jacobian", "hessian", "Rop",
           "Lop", "verify_grad", "numeric_grad", "subgraph_grad",
           "grad_undefined", "grad_not_implemented", "DisconnectedInputError",
           "DisconnectedType", "GradientError", "NullTypeGradError"]

#: Theano's ``consider_constant(x)``: ``x`` forward, a zero gradient back.
consider_constant = zero_grad
