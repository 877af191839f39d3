"""Weight penalties (``lasagne.regularization``).

A typical use adds a scaled penalty over a network's regularizable
parameters (weights, not biases) to the loss::

    loss = loss + 1e-4 * regularize_network_params(network, l2)
"""
import pytensor.tensor as pt
from pytensor.graph.basic import Variable

from .layers.base import Layer
from .layers.helper import get_all_params

__all__ = ["l1", "l2", "apply_penalty", "regularize_layer_params",
           "regularize_layer_params_weighted", "regularize_network_params"]


def l1(x):
    """The L1 norm ``Σ|x|``."""
    return pt.sum(abs(x))


def l2(x):
    """The squared L2 norm ``Σx²`` (no factor ½)."""
    return pt.sum(pt.square(x))


def apply_penalty(tensor_or_tensors, penalty, **kwargs):
    """Apply ``penalty`` to one tensor, or sum it over several.

    Parameters
    ----------
    tensor_or_tensors : variable or iterable of variables
    penalty : callable
        E.g. :func:`l1` or :func:`l2`; called as ``penalty(x, **kwargs)``.
    """
    if isinstance(tensor_or_tensors, Variable):
        return penalty(tensor_or_tensors, **kwargs)
    return sum(penalty(x, **kwargs) for x in tensor_or_tensors)


def regularize_layer_params(layer, penalty, tags={"regularizable": True},
                            **kwargs):
    """The penalty summed over the own parameters of a layer (or layers).

    Only parameters of the given layers are included, not those of the
    layers below them; ``tags`` filters them as in
    :meth:`Layer.get_params`.
    """
    layers = [layer] if isinstance(layer, Layer) else layer
    params = [p for l in layers for p in l.get_params(**tags)]
    return apply_penalty(params, penalty, **kwargs)


def regularize_layer_params_weighted(layers, penalty,
                                     tags={"regularizable": True}, **kwargs):
    """``Σ coeff · penalty(params of layer)`` over a ``{layer: coeff}`` dict."""
    return sum(coeff * apply_penalty(layer.get_params(**tags), penalty,
                                     **kwargs)
               for layer, coeff in layers.items())


def regularize_network_params(layer, penalty, tags={"regularizable": True},
                              **kwargs):
    """The penalty summed over every parameter of a network (tag-filtered
    with :func:`get_all_params`)."""
    return apply_penalty(get_all_params(layer, **tags), penalty, **kwargs)
