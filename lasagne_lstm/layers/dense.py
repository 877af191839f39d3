"""Fully connected layers (``lasagne.layers.dense``)."""
import numpy as np
import pytensor.tensor as pt

from .. import init
from .. import nonlinearities
from .base import Layer

__all__ = ["DenseLayer", "NINLayer"]


class DenseLayer(Layer):
    """A fully connected layer: ``y = f(x W + b)``.

    The trailing axes of the input (from ``num_leading_axes`` on) are
    flattened into one feature axis and multiplied by ``W``; the leading axes
    are kept, so an input of shape ``(N, T, F)`` with ``num_leading_axes=2``
    gives an output of shape ``(N, T, num_units)``.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The layer feeding into this layer, or the expected input shape.
    num_units : int
        The number of units (the size of the output's last axis).
    W : spec (initializer, numpy array or variable)
        The weights, of shape ``(num_inputs, num_units)`` where
        ``num_inputs`` is the product of ``input_shape[num_leading_axes:]``.
        Tagged trainable and regularizable.
    b : spec or None
        The biases, of shape ``(num_units,)``, tagged trainable only. ``None``
        leaves the layer without biases.
    nonlinearity : callable or None
        The activation ``f``; ``None`` means the identity.
    num_leading_axes : int
        How many leading axes to keep; a negative number counts the trailing
        axes that are flattened instead (``-1``: apply to the last axis only).

    Raises
    ------
    ValueError
        If ``num_leading_axes`` leaves no feature axes or exceeds the rank,
        or if any feature axis has unknown size.
    """

    def __init__(self, incoming, num_units, W=init.GlorotUniform(),
                 b=init.Constant(0.), nonlinearity=nonlinearities.rectify,
                 num_leading_axes=1, **kwargs):
        super().__init__(incoming, **kwargs)
        self.nonlinearity = (nonlinearities.identity if nonlinearity is None
                             else nonlinearity)
        self.num_units = num_units
        ndim = len(self.input_shape)
        if num_leading_axes >= ndim:
            raise ValueError("Got num_leading_axes=%d for a %d-dimensional "
                             "input, leaving no trailing dimensions for the "
                             "dot product." % (num_leading_axes, ndim))
        if num_leading_axes < -ndim:
            raise ValueError("Got num_leading_axes=%d for a %d-dimensional "
                             "input, requesting more trailing axes than there "
                             "are input dimensions." % (num_leading_axes, ndim))
        self.num_leading_axes = num_leading_axes
        feature_shape = self.input_shape[num_leading_axes:]
        if any(s is None for s in feature_shape):
            raise ValueError("A DenseLayer requires a fixed input shape "
                             "(except for the leading axes). Got %r for "
                             "num_leading_axes=%d." % (self.input_shape,
                                                       num_leading_axes))
        num_inputs = int(np.prod(feature_shape))
        self.W = self.add_param(W, (num_inputs, num_units), name="W")
        if b is None:
            self.b = None
        else:
            self.b = self.add_param(b, (num_units,), name="b",
                                    regularizable=False)

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape[:self.num_leading_axes]) + (self.num_units,)

    def get_output_for(self, input, **kwargs):
        keep = self.num_leading_axes
        if keep < 0:
            keep += input.ndim
        if input.ndim > keep + 1:
            # merge every feature axis into one
            input = input.flatten(keep + 1)
        activation = pt.dot(input, self.W)
        if self.b is not None:
            activation = activation + self.b
        return self.nonlinearity(activation)


class NINLayer(Layer):
    """Network-in-network layer: a dense layer applied at every position.

    For an input of shape ``(N, C, d1, d2, ...)`` the output at each position
    ``(d1, d2, ...)`` is ``y = f(W^T x + b)``, where ``x`` is the vector of
    the ``C`` channels there; the output has shape
    ``(N, num_units, d1, d2, ...)``. This is a 1x1 convolution.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The layer feeding into this layer, or the expected input shape.
    num_units : int
        The number of output channels.
    untie_biases : bool
        If False, one bias per output channel, shape ``(num_units,)``; if
        True, one bias per channel and position, shape
        ``(num_units, d1, d2, ...)``.
    W : spec
        The weights, shape ``(C, num_units)``, trainable and regularizable.
    b : spec or None
        The biases (trainable only), or ``None`` for none.
    nonlinearity : callable or None
        The activation ``f``; ``None`` means the identity.
    """

    def __init__(self, incoming, num_units, untie_biases=False,
                 W=init.GlorotUniform(), b=init.Constant(0.),
                 nonlinearity=nonlinearities.rectify, **kwargs):
        super().__init__(incoming, **kwargs)
        self.nonlinearity = (nonlinearities.identity if nonlinearity is None
                             else nonlinearity)
        self.num_units = num_units
        self.untie_biases = untie_biases
        num_input_channels = self.input_shape[1]
        self.W = self.add_param(W, (num_input_channels, num_units), name="W")
        if b is None:
            self.b = None
        else:
            if untie_biases:
                b_shape = (num_units,) + tuple(self.output_shape[2:])
            else:
                b_shape = (num_units,)
            self.b = self.add_param(b, b_shape, name="b", regularizable=False)

    def get_output_shape_for(self, input_shape):
        return (input_shape[0], self.num_units) + tuple(input_shape[2:])

    def get_output_for(self, input, **kwargs):
        # (N, C, d...) . (C, U) -> (N, d..., U), then channels back to axis 1
        out = pt.tensordot(input, self.W, axes=[[1], [0]])
        spatial = list(range(1, input.ndim - 1))
        out = out.dimshuffle(0, input.ndim - 1, *spatial)
        if self.b is not None:
            if self.untie_biases:
                pattern = ["x"] + list(range(self.b.ndim))
            else:
                pattern = ["x", 0] + ["x"] * (input.ndim - 2)
            out = out + self.b.dimshuffle(*pattern)
        return self.nonlinearity(out)
