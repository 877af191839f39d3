"""Theano's API on PyTensor, so that a Theano/Lasagne script ports with three
import lines and nothing else::

    import lasagne_lstm as lasagne
    import lasagne_lstm.theano as theano
    import lasagne_lstm.theano.tensor as T

``function`` compiles on the project's default backend (see
:mod:`lasagne_lstm.backends`); on a static-shape backend (JAX) it compiles one
specialisation per signature of input shapes, so any graph that runs with
dynamic shapes also runs there. Everything else maps onto PyTensor directly
or through a thin wrapper; a Theano feature with no PyTensor equivalent raises
an error that names it and says what to use instead.
"""
from .compile import In, Out, function  # noqa: F401

from .core import clone, config, grad, scan, shared  # noqa: F401
from . import gradient, ifelse, printing, sandbox, tensor  # noqa: F401
