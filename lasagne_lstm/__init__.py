"""lasagne-lstm: Lasagne's layer API, centred on LSTMLayer, on PyTensor.

Port a Lasagne script by changing its imports::

    import lasagne_lstm as lasagne
    import lasagne_lstm.theano as theano
    import lasagne_lstm.theano.tensor as T

The package's two floors: the Lasagne API here (``layers``, ``init``,
``nonlinearities``, ``objectives``, ``updates``, ``regularization``, ``utils``,
``random``, the Theano facade ``theano``), and the training framework built
on it, :mod:`lasagne_lstm.training`.
"""
import os as _os

if "THEANO_FLAGS" in _os.environ and "PYTENSOR_FLAGS" not in _os.environ:
    # A Theano-era command line (THEANO_FLAGS=floatX=float32 python train.py):
    # PyTensor reads only its own variable, so pass on the float type.
    _flags = [f for f in _os.environ["THEANO_FLAGS"].split(",")
              if f.strip().startswith("floatX=")]
    if _flags:
        _os.environ["PYTENSOR_FLAGS"] = _flags[-1].strip()

from . import random  # noqa: F401,E402  (before init: initializers draw from it)
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
