"""Element-wise and special-purpose layers (``lasagne.layers.special``)."""
import pytensor
import pytensor.tensor as pt

from .. import init
from .. import nonlinearities
from ..utils import floatX, int_types
from .base import Layer, MergeLayer

__all__ = ["NonlinearityLayer", "BiasLayer", "ScaleLayer", "standardize",
           "ExpressionLayer", "InverseLayer"]


class NonlinearityLayer(Layer):
    """Applies a nonlinearity element-wise: ``y = f(x)``.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The layer feeding into this layer, or the expected input shape.
    nonlinearity : callable or None
        The function ``f``; ``None`` means the identity.
    """

    def __init__(self, incoming, nonlinearity=nonlinearities.rectify,
                 **kwargs):
        super().__init__(incoming, **kwargs)
        self.nonlinearity = (nonlinearities.identity if nonlinearity is None
                             else nonlinearity)

    def get_output_for(self, input, **kwargs):
        return self.nonlinearity(input)


def _resolve_shared_axes(shared_axes, ndim):
    if isinstance(shared_axes, str) and shared_axes == "auto":
        # share over the batch axis and every axis after the second
        return (0,) + tuple(range(2, ndim))
    if isinstance(shared_axes, int_types):
        return (shared_axes,)
    return tuple(shared_axes)


def _broadcast_pattern(param, shared_axes, ndim):
    """A dimshuffle pattern placing ``param``'s axes at the unshared axes."""
    param_axes = iter(range(param.ndim))
    return ["x" if axis in shared_axes else next(param_axes)
            for axis in range(ndim)]


class _PerAxisParamLayer(Layer):
    """Shared machinery of :class:`BiasLayer` and :class:`ScaleLayer`."""

    def _param_shape(self, what):
        shape = [size for axis, size in enumerate(self.input_shape)
                 if axis not in self.shared_axes]
        if any(size is None for size in shape):
            raise ValueError("%s needs specified input sizes for all axes "
                             "that %s are not shared over." % (
                                 type(self).__name__, what))
        return tuple(shape)


class BiasLayer(_PerAxisParamLayer):
    """Adds a learnable bias: ``y = x + b``, broadcast over ``shared_axes``.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The layer feeding into this layer, or the expected input shape.
    b : spec or None
        The biases, with one entry per position along the axes not in
        ``shared_axes`` (tagged trainable only). ``None`` makes the layer
        the identity.
    shared_axes : 'auto', int or tuple of int
        The axes the bias is shared over. ``'auto'`` shares over the first
        axis and every axis from the third on (one bias per channel of a
        ``(N, C, ...)`` input). Negative axes are not normalized.

    Raises
    ------
    ValueError
        If an unshared axis has unknown size.
    """

    def __init__(self, incoming, b=init.Constant(0), shared_axes="auto",
                 **kwargs):
        super().__init__(incoming, **kwargs)
        self.shared_axes = _resolve_shared_axes(shared_axes,
                                                len(self.input_shape))
        if b is None:
            self.b = None
        else:
            self.b = self.add_param(b, self._param_shape("biases"), name="b",
                                    regularizable=False)

    def get_output_for(self, input, **kwargs):
        if self.b is None:
            return input
        pattern = _broadcast_pattern(self.b, self.shared_axes, input.ndim)
        return input + self.b.dimshuffle(*pattern)


class ScaleLayer(_PerAxisParamLayer):
    """Multiplies by learnable scales: ``y = x * scales``, broadcast over
    ``shared_axes``.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The layer feeding into this layer, or the expected input shape.
    scales : spec
        The scales, with one entry per position along the axes not in
        ``shared_axes`` (tagged trainable only).
    shared_axes : 'auto', int or tuple of int
        As for :class:`BiasLayer`.

    Raises
    ------
    ValueError
        If an unshared axis has unknown size.
    """

    def __init__(self, incoming, scales=init.Constant(1), shared_axes="auto",
                 **kwargs):
        super().__init__(incoming, **kwargs)
        self.shared_axes = _resolve_shared_axes(shared_axes,
                                                len(self.input_shape))
        self.scales = self.add_param(scales, self._param_shape("scales"),
                                     name="scales", regularizable=False)

    def get_output_for(self, input, **kwargs):
        pattern = _broadcast_pattern(self.scales, self.shared_axes, input.ndim)
        return input * self.scales.dimshuffle(*pattern)


def standardize(layer, offset, scale, shared_axes="auto"):
    """Append fixed standardization ``y = (x - offset) / scale`` to a layer.

    Adds a :class:`BiasLayer` with ``b = -offset`` and a :class:`ScaleLayer`
    with ``scales = 1 / scale``; neither parameter is trainable.

    Parameters
    ----------
    layer : a :class:`Layer` instance or a tuple
        The layer to standardize (or an input shape).
    offset, scale : numpy arrays or variables
        Shaped like the axes not in ``shared_axes``.
    shared_axes : 'auto', int or tuple of int
        As for :class:`BiasLayer`.

    Returns
    -------
    The :class:`ScaleLayer`.
    """
    layer = BiasLayer(layer, -offset, shared_axes)
    layer.params[layer.b].discard("trainable")
    layer = ScaleLayer(layer, floatX(1.) / scale, shared_axes)
    layer.params[layer.scales].discard("trainable")
    return layer


class ExpressionLayer(Layer):
    """Applies an arbitrary symbolic function: ``y = function(x)``.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The layer feeding into this layer, or the expected input shape.
    function : callable
        Maps the input expression to the output expression.
    output_shape : None, tuple, callable or 'auto'
        ``None``: the output has the input's shape. A tuple: the output shape.
        A callable: called with the input shape to give the output shape.
        ``'auto'``: found by applying ``function`` to zeros of the input shape
        (unknown sizes taken as 0, and output sizes of 0 reported as None).
    """

    def __init__(self, incoming, function, output_shape=None, **kwargs):
        super().__init__(incoming, **kwargs)
        self.function = function
        self._shape_cache = {}
        if output_shape is None:
            self._output_shape = None
        elif isinstance(output_shape, str) and output_shape == "auto":
            self._output_shape = "auto"
        elif callable(output_shape):
            self._output_shape = None
            self.get_output_shape_for = output_shape
        else:
            self._output_shape = tuple(output_shape)

    def get_output_shape_for(self, input_shape):
        if self._output_shape is None:
            return input_shape
        if isinstance(self._output_shape, str):
            key = tuple(input_shape)
            if key not in self._shape_cache:
                self._shape_cache[key] = self._infer_shape(key)
            return self._shape_cache[key]
        return self._output_shape

    def _infer_shape(self, input_shape):
        zeros = pt.zeros(tuple(0 if s is None else s for s in input_shape),
                         dtype=pytensor.config.floatX)
        out = self.function(zeros)
        static = out.type.shape
        if all(s is not None for s in static):
            sizes = static  # known without compiling anything
        else:
            sizes = out.shape.eval()
        return tuple(int(s) if s else None for s in sizes)

    def get_output_for(self, input, **kwargs):
        return self.function(input)


class InverseLayer(MergeLayer):
    """Inverts a layer by backpropagating through it.

    The output is the gradient of ``layer``'s output with respect to its
    input, with ``incoming``'s output standing in for the gradient arriving
    at ``layer``'s output. For a dense layer without nonlinearity this is
    ``y = x W^T``; its shape is ``layer``'s input shape.

    Parameters
    ----------
    incoming : a :class:`Layer` instance
        The layer feeding into this layer (shaped like ``layer``'s output).
    layer : a :class:`Layer` instance
        The layer to invert; it must be part of the same network.
    """

    def __init__(self, incoming, layer, **kwargs):
        super().__init__([incoming, layer, layer.input_layer], **kwargs)

    def get_output_shape_for(self, input_shapes):
        return input_shapes[2]

    def get_output_for(self, inputs, **kwargs):
        input, layer_out, layer_in = inputs
        return pytensor.grad(None, wrt=layer_in,
                             known_grads={layer_out: input})
