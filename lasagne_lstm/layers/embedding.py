"""Word embeddings (``lasagne.layers.embedding``)."""
from .. import init
from .base import Layer

__all__ = ["EmbeddingLayer"]


class EmbeddingLayer(Layer):
    """Looks up a learned vector for every integer of the input: ``y = W[x]``.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The layer feeding into this layer; its output must hold integers in
        ``[0, input_size)``.
    input_size : int
        The number of distinct indices (vocabulary size).
    output_size : int
        The size of each embedding vector.
    W : spec
        The embedding matrix, shape ``(input_size, output_size)``, trainable
        and regularizable.

    Notes
    -----
    The output shape is ``input_shape + (output_size,)``.
    """

    def __init__(self, incoming, input_size, output_size, W=init.Normal(),
                 **kwargs):
        super().__init__(incoming, **kwargs)
        self.input_size = input_size
        self.output_size = output_size
        self.W = self.add_param(W, (input_size, output_size), name="W")

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape) + (self.output_size,)

    def get_output_for(self, input, **kwargs):
        return self.W[input]
