"""``InputLayer``: where symbolic inputs enter a network."""
from collections import OrderedDict

import pytensor
import pytensor.tensor as pt

from .base import Layer

__all__ = ["InputLayer"]


class InputLayer(Layer):
    """A network's input: holds a symbolic variable and its expected shape.

    Parameters
    ----------
    shape : tuple of int or None
        The expected input shape; ``None`` marks a dimension of unknown size
        (typically batch and time).
    input_var : PyTensor variable, optional
        The variable to use; by default a new floatX tensor of matching rank
        (dimensions of size 1 are broadcastable) named ``"<name>.input"``.
    name : str, optional
        The layer's name.
    """

    def __init__(self, shape, input_var=None, name=None, **kwargs):
        self.shape = tuple(shape)
        if any(d is not None and d <= 0 for d in self.shape):
            raise ValueError("Cannot create InputLayer with a non-positive "
                             "shape: %s" % (self.shape,))
        ndim = len(self.shape)
        if input_var is None:
            var_name = ("%s.input" % name) if name is not None else "input"
            input_var = pt.tensor(
                name=var_name, dtype=pytensor.config.floatX,
                shape=tuple(1 if d == 1 else None for d in self.shape))
        elif input_var.ndim != ndim:
            raise ValueError("shape has %d dimensions, but variable has %d"
                             % (ndim, input_var.ndim))
        self.input_var = input_var
        self.name = name
        self.params = OrderedDict()
        self.get_output_kwargs = []

    @Layer.output_shape.getter
    def output_shape(self):
        return self.shape
