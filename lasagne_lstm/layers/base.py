"""The layer base classes (``lasagne.layers.base``)."""
from collections import OrderedDict

from pytensor.graph.basic import Variable

from .. import utils

__all__ = ["Layer", "MergeLayer"]


def _check_no_symbolic(shape, layer):
    if any(isinstance(s, Variable) for s in shape):
        raise ValueError("%s returned a symbolic output shape from its "
                         "get_output_shape_for() method: %r. This is not "
                         "allowed; shapes must be tuples of integers for "
                         "fixed-size dimensions and Nones for variable "
                         "dimensions." % (layer.__class__.__name__, shape))
    return shape


class Layer:
    """Base class of every layer with a single input.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The layer feeding into this one, or the expected input shape.
    name : str, optional
        The layer's name; it prefixes the names of the layer's parameters.
    """

    def __init__(self, incoming, name=None):
        if isinstance(incoming, tuple):
            self.input_shape = incoming
            self.input_layer = None
        else:
            self.input_shape = incoming.output_shape
            self.input_layer = incoming
        self.name = name
        self.params = OrderedDict()
        self.get_output_kwargs = []
        if any(d is not None and d <= 0 for d in self.input_shape):
            raise ValueError("Cannot create Layer with a non-positive "
                             "input_shape dimension. input_shape=%r, "
                             "self.name=%r" % (self.input_shape, self.name))

    @property
    def output_shape(self):
        shape = self.get_output_shape_for(self.input_shape)
        return _check_no_symbolic(shape, self)

    def get_params(self, unwrap_shared=True, **tags):
        """Return this layer's parameters, in registration order, filtered by tags.

        ``tag=True`` keeps only parameters carrying the tag, ``tag=False``
        drops those that carry it. With ``unwrap_shared``, a parameter given as
        an expression contributes the shared variables it depends on.
        """
        result = list(self.params.keys())
        only = set(tag for tag, value in tags.items() if value)
        if only:
            result = [p for p in result if not (only - self.params[p])]
        exclude = set(tag for tag, value in tags.items() if not value)
        if exclude:
            result = [p for p in result if not (self.params[p] & exclude)]
        if unwrap_shared:
            return utils.collect_shared_vars(result)
        return result

    def get_output_shape_for(self, input_shape):
        """The output shape for a given input shape (the identity here)."""
        return input_shape

    def get_output_for(self, input, **kwargs):
        """The symbolic output for a symbolic input; subclasses implement it."""
        raise NotImplementedError

    def add_param(self, spec, shape, name=None, **tags):
        """Create a parameter with :func:`utils.create_param` and register it.

        The name is prefixed with ``"<layer name>."`` when the layer is named.
        Tags ``trainable`` and ``regularizable`` default to True; only true
        tags are stored.
        """
        if name is not None and self.name is not None:
            name = "%s.%s" % (self.name, name)
        param = utils.create_param(spec, shape, name)
        tags["trainable"] = tags.get("trainable", True)
        tags["regularizable"] = tags.get("regularizable", True)
        self.params[param] = set(tag for tag, value in tags.items() if value)
        return param


class MergeLayer(Layer):
    """Base class of layers with several inputs.

    Parameters
    ----------
    incomings : list of :class:`Layer` instances or tuples
        The layers feeding into this one, or their expected shapes.
    name : str, optional
        The layer's name.
    """

    def __init__(self, incomings, name=None):
        self.input_shapes = [incoming if isinstance(incoming, tuple)
                             else incoming.output_shape
                             for incoming in incomings]
        self.input_layers = [None if isinstance(incoming, tuple)
                             else incoming
                             for incoming in incomings]
        self.name = name
        self.params = OrderedDict()
        self.get_output_kwargs = []

    @Layer.output_shape.getter
    def output_shape(self):
        shape = self.get_output_shape_for(self.input_shapes)
        return _check_no_symbolic(shape, self)

    def get_output_shape_for(self, input_shapes):
        """The output shape for the list of input shapes; subclasses implement it."""
        raise NotImplementedError

    def get_output_for(self, inputs, **kwargs):
        """The symbolic output for the list of inputs; subclasses implement it."""
        raise NotImplementedError
