"""Functions over whole networks (``lasagne.layers.helper``)."""
import difflib
import warnings
from collections import deque

import numpy as np

from .. import utils
from .base import Layer, MergeLayer
from .input import InputLayer

__all__ = ["get_all_layers", "get_output", "get_output_shape",
           "get_all_params", "count_params", "get_all_param_values",
           "set_all_param_values"]


def _input_layers_of(layer):
    if isinstance(layer, MergeLayer):
        return [l for l in layer.input_layers if l is not None]
    if getattr(layer, "input_layer", None) is not None:
        return [layer.input_layer]
    return []


def get_all_layers(layer, treat_as_input=None):
    """Return every layer a layer (or list of layers) depends on, itself included.

    The list is in topological order, inputs first; a merge layer's inputs are
    visited in their order and every layer appears once. Layers in
    ``treat_as_input`` are listed but their own inputs are not followed.
    """
    try:
        queue = deque(layer)
    except TypeError:
        queue = deque([layer])
    seen = set()
    done = set()
    result = []
    if treat_as_input is not None:
        seen.update(treat_as_input)
    while queue:
        layer = queue[0]
        if layer is None:
            queue.popleft()
        elif layer not in seen:
            seen.add(layer)
            # Visit inputs first: put them in front, in order.
            queue.extendleft(reversed(_input_layers_of(layer)))
        else:
            queue.popleft()
            if layer not in done:
                result.append(layer)
                done.add(layer)
    return result


def _accepted_kwargs(layers):
    accepted = {"deterministic"}
    for layer in layers:
        accepted.update(utils.inspect_kwargs(layer.get_output_for))
        accepted.update(getattr(layer, "get_output_kwargs", []))
    return accepted


def get_output(layer_or_layers, inputs=None, **kwargs):
    """Return the symbolic output of one layer or a list of layers.

    Parameters
    ----------
    layer_or_layers : Layer or list of Layer
        The layers whose output is wanted.
    inputs : None, a variable or array, or a dict {Layer: variable or array}
        Replacements for the inputs: a single value stands for the one
        :class:`InputLayer` of the network; a dict maps any layers to
        expressions (the layers behind them are then not evaluated). Input
        layers not given use their ``input_var``.
    **kwargs
        Passed to every layer's ``get_output_for`` (e.g. ``deterministic``).

    Returns
    -------
    A variable, or a list of variables for a list of layers. Intermediate
    expressions (and dropout masks) are shared within one call.
    """
    from .input import InputLayer as _InputLayer
    treat_as_input = inputs.keys() if isinstance(inputs, dict) else []
    all_layers = get_all_layers(layer_or_layers, treat_as_input)
    all_outputs = dict((layer, layer.input_var) for layer in all_layers
                       if isinstance(layer, _InputLayer)
                       and layer not in treat_as_input)
    if isinstance(inputs, dict):
        for layer, expr in inputs.items():
            if not isinstance(layer, Layer):
                raise TypeError("get_output() was given a dict whose key %r is "
                                "not a Layer" % (layer,))
            all_outputs[layer] = utils.as_theano_expression(expr)
    elif inputs is not None:
        if len(all_outputs) > 1:
            raise ValueError("get_output() was called with a single input "
                             "expression on a network with multiple input "
                             "layers. Please call it with a dictionary of "
                             "input expressions instead.")
        for input_layer in all_outputs:
            all_outputs[input_layer] = utils.as_theano_expression(inputs)
    accepted = _accepted_kwargs(all_layers)
    unused = set(kwargs) - accepted
    for kwarg in sorted(unused):
        suggestions = difflib.get_close_matches(kwarg, accepted)
        hint = (" Did you mean %s?" % " or ".join(suggestions)) if suggestions else ""
        warnings.warn("get_output() was called with unused kwarg %r.%s"
                      % (kwarg, hint), stacklevel=2)
    for layer in all_layers:
        if layer in all_outputs:
            continue
        try:
            if isinstance(layer, MergeLayer):
                layer_inputs = [all_outputs[input_layer]
                                for input_layer in layer.input_layers]
            else:
                layer_inputs = all_outputs[layer.input_layer]
        except KeyError:
            raise ValueError("get_output() was called without giving an input "
                             "expression for the free-floating layer %r. "
                             "Please call it with a dictionary mapping this "
                             "layer to an input expression." % layer) from None
        all_outputs[layer] = layer.get_output_for(layer_inputs, **kwargs)
    try:
        return [all_outputs[layer] for layer in layer_or_layers]
    except TypeError:
        return all_outputs[layer_or_layers]


def get_output_shape(layer_or_layers, input_shapes=None):
    """Return the output shape of one layer or a list of layers.

    ``input_shapes`` may be None (use the layers' own shapes), one tuple (for a
    network with one input layer) or a dict {Layer: shape}.
    """
    if input_shapes is None or input_shapes == {}:
        try:
            return [layer.output_shape for layer in layer_or_layers]
        except TypeError:
            return layer_or_layers.output_shape
    treat_as_input = input_shapes.keys() if isinstance(input_shapes, dict) else []
    all_layers = get_all_layers(layer_or_layers, treat_as_input)
    if isinstance(input_shapes, dict):
        all_shapes = dict(input_shapes)
    else:
        input_layers = [layer for layer in all_layers
                        if isinstance(layer, InputLayer)]
        if len(input_layers) > 1:
            raise ValueError("get_output_shape() was called with a single input "
                             "shape on a network with multiple input layers. "
                             "Please call it with a dictionary of input shapes "
                             "instead.")
        all_shapes = dict((layer, input_shapes) for layer in input_layers)
    for layer in all_layers:
        if layer in all_shapes:
            continue
        if isinstance(layer, InputLayer):
            all_shapes[layer] = layer.shape
        elif isinstance(layer, MergeLayer):
            all_shapes[layer] = layer.get_output_shape_for(
                [all_shapes[input_layer] for input_layer in layer.input_layers])
        else:
            all_shapes[layer] = layer.get_output_shape_for(
                all_shapes[layer.input_layer])
    try:
        return [all_shapes[layer] for layer in layer_or_layers]
    except TypeError:
        return all_shapes[layer_or_layers]


def get_all_params(layer, unwrap_shared=True, **tags):
    """Every parameter of a network, layer by layer, without duplicates.

    ``tags`` filter as in :meth:`Layer.get_params` (e.g. ``trainable=True``).
    """
    layers = get_all_layers(layer)
    params = [p for l in layers
              for p in l.get_params(unwrap_shared=unwrap_shared, **tags)]
    return utils.unique(params)


def count_params(layer, **tags):
    """The total number of scalar parameters of a network (tag-filtered)."""
    params = get_all_params(layer, **tags)
    return int(sum(np.prod(p.get_value().shape) for p in params))


def get_all_param_values(layer, **tags):
    """The values of a network's parameters, as a list of numpy arrays
    (copies: a JAX-compiled function leaves its updated values as immutable
    JAX arrays)."""
    return [np.array(p.get_value()) for p in get_all_params(layer, **tags)]


def set_all_param_values(layer, values, **tags):
    """Set a network's parameters from a list of arrays (as from
    :func:`get_all_param_values`).

    Every count and shape is checked before any value is set, so a mismatch
    leaves the network unchanged.

    Raises
    ------
    ValueError
        If the number of values or any shape does not match.
    """
    params = get_all_params(layer, **tags)
    if len(params) != len(values):
        raise ValueError("mismatch: got %d values to set %d parameters"
                         % (len(values), len(params)))
    for p, v in zip(params, values):
        if p.get_value().shape != np.shape(v):
            raise ValueError("mismatch: parameter %s has shape %r but value to "
                             "set has shape %r"
                             % (p.name, p.get_value().shape, np.shape(v)))
    for p, v in zip(params, values):
        p.set_value(v)
