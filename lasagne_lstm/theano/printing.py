"""``theano.printing`` on PyTensor's ``pytensor.printing``.

``pydotprint`` draws with pydot; without pydot installed it raises
:class:`~lasagne_lstm.theano.core.NotPorted` on access.
"""
import importlib.util

from pytensor.printing import (  # noqa: F401
    Print, debugprint, min_informative_str, pp, pprint, var_descriptor)

from .core import NotPorted

__all__ = ["Print", "debugprint", "pprint", "pp", "min_informative_str",
           "var_descriptor"]


def __getattr__(name):
    if name == "pydotprint":
        if importlib.util.find_spec("pydot") is None:
            raise NotPorted("theano.printing.pydotprint", "pydot is not "
                            "installed", "use theano.printing.debugprint, "
                            "or pip install pydot")
        from pytensor.printing import pydotprint
        return pydotprint
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
