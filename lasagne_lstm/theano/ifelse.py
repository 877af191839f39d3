"""``theano.ifelse``: the lazy conditional, PyTensor's own.

``ifelse(condition, then_branch, else_branch, name=None)`` evaluates only the
branch it returns (on the Python/C virtual machines; compiled backends may
evaluate both).
"""
from pytensor.ifelse import IfElse, ifelse  # noqa: F401

__all__ = ["ifelse", "IfElse"]
