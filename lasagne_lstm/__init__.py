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
