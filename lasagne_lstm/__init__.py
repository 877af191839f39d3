"""lasagne-lstm: Lasagne's layer API, centred on LSTMLayer, on PyTensor.

Port a Lasagne script by writing ``import lasagne_lstm as lasagne`` (and
``import pytensor as theano``).
"""
from . import random  # noqa: F401  (before init: initializers draw from it)
from . import utils  # noqa: F401
from . import init  # noqa: F401
from . import nonlinearities  # noqa: F401
from . import layers  # noqa: F401
from . import objectives  # noqa: F401
from . import updates  # noqa: F401
from . import regularization  # noqa: F401

__version__ = "0.1.0"


def __getattr__(name):
    # The training framework (the second floor) and the Theano facade load
    # on first use, so that ``lasagne.training.accumulation_functions`` works
    # after ``import lasagne_lstm as lasagne`` alone.
    if name in ("training", "theano"):
        import importlib
        return importlib.import_module("." + name, __name__)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
