"""Recurrent layers (``lasagne.layers.recurrent``).

All layers here read a batch of sequences shaped ``(batch, time, features...)``
and return either every hidden state, ``(batch, time, units...)``, or only
the last one computed, ``(batch, units...)`` (``only_return_final=True``).
Internally the sequence is processed time-major with :func:`pytensor.scan`
(or, with ``unroll_scan=True``, with a Python loop that builds one graph node
per step).

Every layer accepts the same optional arguments besides its own:

* ``mask_input``: a layer (or shape) giving a ``(batch, time)`` mask, non-zero
  where a step is real and zero where it is padding. On a padded step every
  state is carried over unchanged, ``h_t = h_{t-1}`` (and ``c_t = c_{t-1}``),
  so the outputs of a right-padded row repeat its last real state.
* ``hid_init`` (and ``cell_init`` for :class:`LSTMLayer`): either a layer
  producing the initial state for every sequence, ``(batch, units)``, or a
  parameter spec (array, initializer, expression) of shape ``(1, units)``
  that is repeated over the batch; such a parameter is trainable only when
  ``learn_init`` is true and is never regularizable.
* ``backwards``: process the sequence from the last step to the first. The
  output is flipped back, so output step ``t`` still belongs to input step
  ``t``; ``only_return_final`` then returns the state after input step 0.
* ``gradient_steps``: truncate back-propagation through time to that many
  steps (``-1``, the default, back-propagates through the whole sequence).
* ``grad_clipping``: when non-zero, the gradient flowing into the
  pre-activations (see each layer) is clipped element-wise to
  ``[-grad_clipping, grad_clipping]`` at every step. The forward pass is
  unchanged.
* ``unroll_scan``: build the loop explicitly; needs a known sequence length
  and ``gradient_steps=-1``.
* ``precompute_input``: compute the input projection of all steps at once,
  before the loop, as one large matrix product (faster; needs memory for
  ``time * batch`` projected rows).

The extra input layers are kept, in this order, after the main input: the
mask, then ``hid_init`` and ``cell_init`` when those are layers. Their
positions are available as ``mask_incoming_index``,
``hid_init_incoming_index`` and ``cell_init_incoming_index`` (``-1`` when
absent).

References
----------
.. [1] Hochreiter, S. and Schmidhuber, J. (1997). Long short-term memory.
   Neural Computation, 9(8), 1735-1780.
.. [2] Graves, A. (2013). Generating sequences with recurrent neural
   networks. arXiv:1308.0850.
.. [3] Cho, K., van Merrienboer, B., Gulcehre, C., Bahdanau, D., Bougares,
   F., Schwenk, H. and Bengio, Y. (2014). Learning phrase representations
   using RNN encoder-decoder for statistical machine translation.
   arXiv:1406.1078.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.gradient import grad_clip

from .. import init
from .. import nonlinearities
from ..utils import int_types, unroll_scan as _unroll_scan
from . import helper
from .base import Layer, MergeLayer
from .input import InputLayer

__all__ = [
    "CustomRecurrentLayer",
    "RecurrentLayer",
    "Gate",
    "LSTMLayer",
    "GRULayer",
]


# ---------------------------------------------------------------------------
# Shared helpers (module-private)
# ---------------------------------------------------------------------------

def _label(cls_name, name):
    """How error messages refer to a layer: its class and, if any, its name."""
    if name is None:
        return cls_name
    return "%s %r" % (cls_name, name)


def _shape_of(incoming):
    """The declared shape of a layer or of a shape tuple."""
    if isinstance(incoming, tuple):
        return incoming
    if isinstance(incoming, Layer):
        return tuple(incoming.output_shape)
    raise TypeError("expected a Layer instance or a shape tuple, got %r"
                    % (incoming,))


def _check_common(label, input_shape, mask_input, gradient_steps,
                  grad_clipping, unroll_scan):
    """Validate what every recurrent layer requires of its arguments."""
    if len(input_shape) < 3:
        raise ValueError(
            "%s: the input must have at least 3 dimensions (batch, time, "
            "features...), got shape %r with %d dimension(s)"
            % (label, input_shape, len(input_shape)))
    if mask_input is not None:
        mask_shape = _shape_of(mask_input)
        if len(mask_shape) != 2:
            raise ValueError(
                "%s: the mask must have 2 dimensions (batch, time), got shape "
                "%r" % (label, mask_shape))
        for axis, what in ((0, "batch"), (1, "time")):
            m, x = mask_shape[axis], input_shape[axis]
            if m is not None and x is not None and m != x:
                raise ValueError(
                    "%s: the mask's %s size (%d) does not match the input's "
                    "(%d); mask shape %r, input shape %r"
                    % (label, what, m, x, mask_shape, input_shape))
    if not isinstance(gradient_steps, int_types):
        raise TypeError("%s: gradient_steps must be an int (-1 for full "
                        "back-propagation through time), got %r"
                        % (label, gradient_steps))
    if grad_clipping and grad_clipping < 0:
        raise ValueError("%s: grad_clipping must be non-negative, got %r"
                         % (label, grad_clipping))
    if unroll_scan:
        if gradient_steps != -1:
            raise ValueError(
                "%s: unroll_scan=True requires gradient_steps=-1 (an unrolled "
                "loop cannot truncate the gradient), got gradient_steps=%r"
                % (label, gradient_steps))
        if input_shape[1] is None:
            raise ValueError(
                "%s: unroll_scan=True requires a known sequence length, but "
                "the input shape %r has time dimension None"
                % (label, input_shape))


def _check_num_units(label, num_units):
    if isinstance(num_units, bool) or not isinstance(num_units, int_types):
        raise TypeError("%s: num_units must be an int, got %r"
                        % (label, num_units))
    if num_units <= 0:
        raise ValueError("%s: num_units must be positive, got %d"
                         % (label, num_units))


def _check_nonlinearity(label, what, fn):
    """Return ``fn`` (identity for None); TypeError if it is not callable."""
    if fn is None:
        return nonlinearities.identity
    if not callable(fn):
        raise TypeError("%s: %s must be callable (or None for the identity), "
                        "got %r" % (label, what, fn))
    return fn


def _num_inputs(label, input_shape):
    trailing = input_shape[2:]
    if any(d is None for d in trailing):
        raise ValueError(
            "%s: the feature dimensions of the input (all but batch and time) "
            "must be known, got input shape %r" % (label, input_shape))
    return int(np.prod(trailing))


def _collect_incomings(incoming, mask_input, state_inits):
    """The incomings list and the index of each optional one (-1 if absent).

    ``state_inits`` is a list of initial-state specs in order; only those
    that are layers become incomings.
    """
    incomings = [incoming]
    mask_index = -1
    if mask_input is not None:
        incomings.append(mask_input)
        mask_index = len(incomings) - 1
    state_indices = []
    for spec in state_inits:
        if isinstance(spec, Layer):
            incomings.append(spec)
            state_indices.append(len(incomings) - 1)
        else:
            state_indices.append(-1)
    return incomings, mask_index, state_indices


def _store_settings(layer, learn_init, backwards, gradient_steps, grad_clipping,
                    unroll_scan, precompute_input, only_return_final):
    """The settings every recurrent layer keeps as attributes."""
    layer.learn_init = learn_init
    layer.backwards = backwards
    layer.gradient_steps = gradient_steps
    layer.grad_clipping = grad_clipping
    layer.unroll_scan = unroll_scan
    layer.precompute_input = precompute_input
    layer.only_return_final = only_return_final


def _time_major(x):
    """(batch, time, ...) -> (time, batch, ...)."""
    return x.dimshuffle(1, 0, *range(2, x.ndim))


def _carry(mask_n, new, previous):
    """Keep ``new`` where the step is real, ``previous`` where it is padding."""
    cond = pt.shape_padright(mask_n, new.ndim - 1)
    return pt.switch(cond, new, previous)


def _clip(x, bound):
    """Identity forward; gradient clipped to [-bound, bound] (in x's dtype)."""
    lo = np.asarray(-bound, dtype=x.dtype)
    hi = np.asarray(bound, dtype=x.dtype)
    return grad_clip(x, lo, hi)


def _gate_slice(x, n, num_units):
    """Columns of gate ``n`` in a (batch, k * num_units) stacked matrix."""
    part = x[:, n * num_units:(n + 1) * num_units]
    if num_units == 1:
        # A constant slice of length 1 does not have static size 1 by
        # itself; say so, so that the gate broadcasts like the states.
        part = pt.specify_broadcastable(part, 1)
    return part


def _project(x, W, b):
    """``x W + b`` for a time-major (time, batch, features) tensor, as one
    (time * batch, features) matrix product."""
    seq_len, num_batch = x.shape[0], x.shape[1]
    flat = x.reshape((seq_len * num_batch, x.shape[2]))
    out = pt.dot(flat, W) + b
    return out.reshape((seq_len, num_batch, W.shape[1]))


def _initial_state(inputs, index, param, num_batch):
    """A layer-provided initial state, or the (1, ...) parameter repeated
    over the batch."""
    if index > 0:
        return inputs[index]
    return pt.repeat(param, num_batch, axis=0)


def _loop(layer, step, sequences, outputs_info, non_sequences):
    """Run ``step`` over time with scan or an unrolled loop; returns the list
    of stacked (time-major, processing-order) outputs."""
    if layer.unroll_scan:
        return _unroll_scan(fn=step, sequences=sequences,
                            outputs_info=outputs_info,
                            non_sequences=non_sequences,
                            n_steps=layer.input_shapes[0][1],
                            go_backwards=layer.backwards)
    return pytensor.scan(fn=step, sequences=sequences,
                         outputs_info=outputs_info,
                         non_sequences=non_sequences,
                         go_backwards=layer.backwards,
                         truncate_gradient=layer.gradient_steps,
                         strict=True, return_list=True,
                         return_updates=False)


def _finish(layer, out):
    """Turn the stacked states into the layer's output."""
    if layer.only_return_final:
        return out[-1]
    out = _time_major(out)  # back to (batch, time, ...)
    if layer.backwards:
        out = out[:, ::-1]
    return out


# ---------------------------------------------------------------------------
# CustomRecurrentLayer and RecurrentLayer
# ---------------------------------------------------------------------------

class CustomRecurrentLayer(MergeLayer):
    r"""A recurrent layer whose input and hidden transforms are sub-networks.

    At every step :math:`t`,

    .. math::
        h_t = f\big(f_h(h_{t-1}) + f_i(x_t)\big)

    where :math:`f_i` (``input_to_hidden``) and :math:`f_h`
    (``hidden_to_hidden``) are arbitrary feed-forward networks, each built on
    exactly one :class:`InputLayer`, and :math:`f` is ``nonlinearity``.
    With ``grad_clipping`` the gradient of the sum inside :math:`f` is
    clipped at every step.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The input, shaped ``(batch, time, features...)``. The features are
        passed to ``input_to_hidden`` unchanged (not flattened).
    input_to_hidden : a :class:`Layer` instance
        Maps one step of input, ``(batch, features...)``, to the hidden
        shape. With ``precompute_input`` it is applied once to all steps,
        reshaped to ``(time * batch, features...)``.
    hidden_to_hidden : a :class:`Layer` instance
        Maps the previous hidden state, ``(batch, hidden...)``, to the
        hidden shape; its output shape (after the batch axis) defines the
        hidden shape.
    nonlinearity : callable or None
        :math:`f`; None means the identity. Default: rectify.
    hid_init : a Layer, array, initializer or expression
        The initial hidden state: a layer giving ``(batch, hidden...)`` or a
        parameter spec of shape ``(1, hidden...)``.
    backwards : bool
        Process the sequence from the end (outputs stay aligned with the
        input).
    learn_init : bool
        Make a parameter ``hid_init`` trainable.
    gradient_steps : int
        Steps of truncated back-propagation through time; -1 for all.
    grad_clipping : float
        If non-zero, clip the per-step gradient of the pre-activation.
    unroll_scan : bool
        Unroll the loop in the graph (known length, ``gradient_steps=-1``).
    precompute_input : bool
        Apply ``input_to_hidden`` to all steps before the loop.
    mask_input : a :class:`Layer` instance or None
        A ``(batch, time)`` mask; padded steps carry the state over.
    only_return_final : bool
        Return only the last computed state, ``(batch, hidden...)``.
    **kwargs
        ``name``, passed to :class:`MergeLayer`.

    Notes
    -----
    :meth:`get_params` returns this layer's own parameters (``hid_init``)
    followed by those of ``input_to_hidden`` and ``hidden_to_hidden``; the
    sub-networks are not part of :func:`get_all_layers`.

    Raises
    ------
    ValueError
        For an input of fewer than 3 dimensions, a mask whose shape does not
        fit the input's (batch, time), an impossible ``unroll_scan``, a
        sub-network without exactly one InputLayer, or sub-network shapes
        that do not fit together.
    TypeError
        For a non-callable nonlinearity or sub-networks that are not layers.
    """

    def __init__(self, incoming, input_to_hidden, hidden_to_hidden,
                 nonlinearity=nonlinearities.rectify,
                 hid_init=init.Constant(0.), backwards=False,
                 learn_init=False, gradient_steps=-1, grad_clipping=0,
                 unroll_scan=False, precompute_input=True, mask_input=None,
                 only_return_final=False, **kwargs):
        label = _label(type(self).__name__, kwargs.get("name"))
        input_shape = _shape_of(incoming)
        _check_common(label, input_shape, mask_input, gradient_steps,
                      grad_clipping, unroll_scan)
        nonlinearity = _check_nonlinearity(label, "nonlinearity",
                                           nonlinearity)
        for what, net in (("input_to_hidden", input_to_hidden),
                          ("hidden_to_hidden", hidden_to_hidden)):
            if not isinstance(net, Layer):
                raise TypeError("%s: %s must be a Layer, got %r"
                                % (label, what, net))
            n_in = sum(isinstance(l, InputLayer)
                       for l in helper.get_all_layers(net))
            if n_in != 1:
                raise ValueError(
                    "%s: the %s network must contain exactly one InputLayer, "
                    "found %d" % (label, what, n_in))

        in_out = tuple(input_to_hidden.output_shape)
        hid_out = tuple(hidden_to_hidden.output_shape)
        n, t = input_shape[0], input_shape[1]
        if precompute_input:
            if (in_out[0] is not None and n is not None and t is not None
                    and in_out[0] != n * t):
                raise ValueError(
                    "%s: with precompute_input, input_to_hidden sees all "
                    "steps at once, so its first dimension must be "
                    "batch * time = %d, but its output shape is %r"
                    % (label, n * t, in_out))
        elif (in_out[0] is not None and hid_out[0] is not None
              and in_out[0] != hid_out[0]):
            raise ValueError(
                "%s: the first dimensions of input_to_hidden's output %r and "
                "hidden_to_hidden's output %r differ" % (label, in_out,
                                                         hid_out))

        def _fits(a, b):
            return len(a) == len(b) and all(
                x is None or y is None or x == y for x, y in zip(a, b))

        if not _fits(in_out[1:], hid_out[1:]):
            raise ValueError(
                "%s: input_to_hidden's output shape %r does not match "
                "hidden_to_hidden's output shape %r (after the first axis)"
                % (label, in_out, hid_out))
        hid_in_layer = [l for l in helper.get_all_layers(hidden_to_hidden)
                        if isinstance(l, InputLayer)][0]
        if not _fits(tuple(hid_in_layer.shape)[1:], in_out[1:]):
            raise ValueError(
                "%s: hidden_to_hidden's input shape %r does not match "
                "input_to_hidden's output shape %r (after the first axis)"
                % (label, tuple(hid_in_layer.shape), in_out))

        incomings, mask_index, (hid_index,) = _collect_incomings(
            incoming, mask_input, [hid_init])
        super().__init__(incomings, **kwargs)
        self.mask_incoming_index = mask_index
        self.hid_init_incoming_index = hid_index

        self.input_to_hidden = input_to_hidden
        self.hidden_to_hidden = hidden_to_hidden
        _store_settings(self, learn_init, backwards, gradient_steps, grad_clipping,
                        unroll_scan, precompute_input, only_return_final)
        self.nonlinearity = nonlinearity

        if isinstance(hid_init, Layer):
            self.hid_init = hid_init
        else:
            if any(d is None for d in hid_out[1:]):
                raise ValueError(
                    "%s: the hidden shape %r must be known to create the "
                    "hid_init parameter" % (label, hid_out))
            self.hid_init = self.add_param(
                hid_init, (1,) + hid_out[1:], name="hid_init",
                trainable=learn_init, regularizable=False)

    def get_params(self, **tags):
        """Own parameters, then those of ``input_to_hidden`` and of
        ``hidden_to_hidden`` (``unwrap_shared`` may be given among
        ``tags``)."""
        params = super().get_params(**tags)
        params += helper.get_all_params(self.input_to_hidden, **tags)
        params += helper.get_all_params(self.hidden_to_hidden, **tags)
        return params

    def get_output_shape_for(self, input_shapes):
        input_shape = input_shapes[0]
        hidden = tuple(self.hidden_to_hidden.output_shape[1:])
        if self.only_return_final:
            return (input_shape[0],) + hidden
        return (input_shape[0], input_shape[1]) + hidden

    def get_output_for(self, inputs, **kwargs):
        """Symbolic output for ``[input, mask?, hid_init?]`` (the incomings'
        order); ``kwargs`` are passed on to the sub-networks."""
        input = inputs[0]
        mask = inputs[self.mask_incoming_index] \
            if self.mask_incoming_index > 0 else None

        input = _time_major(input)
        seq_len, num_batch = input.shape[0], input.shape[1]

        if self.precompute_input:
            flat = input.reshape(
                [seq_len * num_batch] + [input.shape[i]
                                         for i in range(2, input.ndim)],
                ndim=input.ndim - 1)
            proj = helper.get_output(self.input_to_hidden, flat, **kwargs)
            input = proj.reshape(
                [seq_len, num_batch] + [proj.shape[i]
                                        for i in range(1, proj.ndim)],
                ndim=proj.ndim + 1)

        non_seqs = helper.get_all_params(self.hidden_to_hidden)
        if not self.precompute_input:
            non_seqs += helper.get_all_params(self.input_to_hidden)
        non_seqs = list(dict.fromkeys(non_seqs))
        clip = self.grad_clipping
        precompute = self.precompute_input

        def step(input_n, hid_previous, *args):
            hid_pre = helper.get_output(self.hidden_to_hidden, hid_previous,
                                        **kwargs)
            if precompute:
                hid_pre = hid_pre + input_n
            else:
                hid_pre = hid_pre + helper.get_output(self.input_to_hidden,
                                                      input_n, **kwargs)
            if clip:
                hid_pre = _clip(hid_pre, clip)
            return self.nonlinearity(hid_pre)

        def step_masked(input_n, mask_n, hid_previous, *args):
            hid = step(input_n, hid_previous, *args)
            return _carry(mask_n, hid, hid_previous)

        sequences = [input]
        fn = step
        if mask is not None:
            sequences.append(mask.T)
            fn = step_masked

        hid_init = _initial_state(inputs, self.hid_init_incoming_index,
                                  self.hid_init, num_batch)
        (hid_out,) = _loop(self, fn, sequences, [hid_init], non_seqs)
        return _finish(self, hid_out)


class RecurrentLayer(CustomRecurrentLayer):
    r"""A fully connected ("vanilla", Elman) recurrent layer.

    .. math::
        h_t = f(x_t W_x + b + h_{t-1} W_h)

    with :math:`x_t` the step's features flattened to ``num_inputs``
    values. It is a :class:`CustomRecurrentLayer` whose sub-networks are two
    :class:`DenseLayer` instances without nonlinearity, named
    ``"[name.]input_to_hidden"`` (weights ``W`` of shape
    ``(num_inputs, num_units)`` and bias ``b`` of shape ``(num_units,)``) and
    ``"[name.]hidden_to_hidden"`` (weights ``W`` of shape
    ``(num_units, num_units)``, no bias).

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The input, ``(batch, time, features...)``.
    num_units : int
        The number of hidden units.
    W_in_to_hid, W_hid_to_hid, b : array, initializer or expression
        :math:`W_x`, :math:`W_h` and :math:`b` (``b=None``: no bias).
        Defaults: Uniform(), Uniform(), Constant(0.).
    nonlinearity : callable or None
        :math:`f`. Default: rectify.
    hid_init, backwards, learn_init, gradient_steps, grad_clipping, unroll_scan, precompute_input, mask_input, only_return_final, **kwargs
        As for :class:`CustomRecurrentLayer`; ``hid_init`` has shape
        ``(1, num_units)``.

    Attributes
    ----------
    W_in_to_hid, W_hid_to_hid, b
        The parameters of the two dense sub-layers.
    """

    def __init__(self, incoming, num_units, W_in_to_hid=init.Uniform(),
                 W_hid_to_hid=init.Uniform(), b=init.Constant(0.),
                 nonlinearity=nonlinearities.rectify,
                 hid_init=init.Constant(0.), backwards=False,
                 learn_init=False, gradient_steps=-1, grad_clipping=0,
                 unroll_scan=False, precompute_input=True, mask_input=None,
                 only_return_final=False, **kwargs):
        from .dense import DenseLayer

        name = kwargs.get("name")
        label = _label(type(self).__name__, name)
        input_shape = _shape_of(incoming)
        _check_common(label, input_shape, mask_input, gradient_steps,
                      grad_clipping, unroll_scan)
        _check_num_units(label, num_units)
        _num_inputs(label, input_shape)
        _check_nonlinearity(label, "nonlinearity", nonlinearity)
        prefix = "" if name is None else name + "."
        in_to_hid = DenseLayer(InputLayer((None,) + tuple(input_shape[2:])),
                               num_units, W=W_in_to_hid, b=b,
                               nonlinearity=None,
                               name=prefix + "input_to_hidden")
        hid_to_hid = DenseLayer(InputLayer((None, num_units)), num_units,
                                W=W_hid_to_hid, b=None, nonlinearity=None,
                                name=prefix + "hidden_to_hidden")
        self.W_in_to_hid = in_to_hid.W
        self.W_hid_to_hid = hid_to_hid.W
        self.b = in_to_hid.b
        self.num_units = num_units
        super().__init__(incoming, in_to_hid, hid_to_hid,
                         nonlinearity=nonlinearity, hid_init=hid_init,
                         backwards=backwards, learn_init=learn_init,
                         gradient_steps=gradient_steps,
                         grad_clipping=grad_clipping,
                         unroll_scan=unroll_scan,
                         precompute_input=precompute_input,
                         mask_input=mask_input,
                         only_return_final=only_return_final, **kwargs)


# ---------------------------------------------------------------------------
# Gate, LSTMLayer, GRULayer
# ---------------------------------------------------------------------------

class Gate:
    r"""The parameter specs and nonlinearity of one LSTM or GRU gate.

    A gate computes :math:`\sigma(x_t W_{in} + h_{t-1} W_{hid} + b)`, plus
    :math:`c \odot w_{cell}` for an LSTM peephole. This class only holds
    the specs; the layer creates the parameters.

    Parameters
    ----------
    W_in : array, initializer or expression
        Input-to-gate weights, ``(num_inputs, num_units)``. Default
        Normal(0.1).
    W_hid : array, initializer or expression
        Hidden-to-gate weights, ``(num_units, num_units)``. Default
        Normal(0.1).
    W_cell : array, initializer, expression or None
        Peephole (cell-to-gate) weights, ``(num_units,)``, used by
        :class:`LSTMLayer` with ``peepholes=True`` for the input, forget and
        output gates. None leaves the attribute unset (no peephole). Default
        Normal(0.1).
    b : array, initializer or expression
        Bias, ``(num_units,)``. Default Constant(0.).
    nonlinearity : callable or None
        The gate's activation; None means the identity. Default sigmoid.
    """

    def __init__(self, W_in=init.Normal(0.1), W_hid=init.Normal(0.1),
                 W_cell=init.Normal(0.1), b=init.Constant(0.),
                 nonlinearity=nonlinearities.sigmoid):
        self.W_in = W_in
        self.W_hid = W_hid
        if W_cell is not None:
            self.W_cell = W_cell
        self.b = b
        self.nonlinearity = _check_nonlinearity("Gate", "nonlinearity",
                                                nonlinearity)


def _check_gate(label, gate_name, gate):
    for attr in ("W_in", "W_hid", "b", "nonlinearity"):
        if not hasattr(gate, attr):
            raise TypeError("%s: %s must be a Gate (missing attribute %r), "
                            "got %r" % (label, gate_name, attr, gate))
    return _check_nonlinearity(label, "the %s's nonlinearity" % gate_name,
                               gate.nonlinearity)


class LSTMLayer(MergeLayer):
    r"""A long short-term memory layer [1]_, in the form of Graves [2]_.

    With the gate pre-activations stacked column-wise as
    :math:`[i \,|\, f \,|\, c \,|\, o]`,

    .. math::
        G &= x_t W_{in} + b + h_{t-1} W_{hid}
            \qquad \text{(gradient clipped if grad\_clipping)} \\
        i_t &= \sigma_i(G_i + c_{t-1} \odot w_{ci}) \\
        f_t &= \sigma_f(G_f + c_{t-1} \odot w_{cf}) \\
        g_t &= \sigma_c(G_c) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
        o_t &= \sigma_o(G_o + c_t \odot w_{co}) \\
        h_t &= o_t \odot \sigma_h(c_t)

    The peephole terms (:math:`w_{c\cdot}`) are dropped when
    ``peepholes=False``; note the output gate's peephole sees the *new*
    cell. The layer's output is :math:`h`. Each step does one
    ``(batch, num_units) x (num_units, 4 num_units)`` product; with
    ``precompute_input`` the input projection :math:`x W_{in} + b` of all
    steps is a single product done before the loop.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The input, ``(batch, time, features...)``; dimensions after the
        third are flattened, so ``num_inputs = prod(shape[2:])`` (which must
        be known).
    num_units : int
        The number of hidden (and cell) units.
    ingate, forgetgate, cell, outgate : :class:`Gate`
        Specs of the input gate, forget gate, cell input and output gate.
        Defaults: ``Gate()`` for the gates and
        ``Gate(W_cell=None, nonlinearity=tanh)`` for the cell.
    nonlinearity : callable or None
        :math:`\sigma_h`, applied to the cell for the output. Default tanh.
    cell_init, hid_init : a Layer, array, initializer or expression
        The initial cell and hidden states: a layer giving
        ``(batch, num_units)`` or a ``(1, num_units)`` parameter spec.
        Default Constant(0.).
    backwards : bool
        Process the sequence from the end (outputs stay aligned).
    learn_init : bool
        Make the ``cell_init`` and ``hid_init`` parameters trainable.
    peepholes : bool
        Add the peephole connections (the ingate, forgetgate and outgate
        then need ``W_cell``).
    gradient_steps, grad_clipping, unroll_scan, precompute_input, mask_input, only_return_final
        See the module documentation. ``grad_clipping`` clips the gradient
        of :math:`G`, before the peephole terms are added.
    **kwargs
        ``name``, passed to :class:`MergeLayer`.

    Attributes
    ----------
    W_in_to_<gate>, W_hid_to_<gate>, b_<gate>
        For ``<gate>`` in ingate, forgetgate, cell, outgate; shapes
        ``(num_inputs, num_units)``, ``(num_units, num_units)``,
        ``(num_units,)``. Registered in that order; the biases are not
        regularizable.
    W_cell_to_ingate, W_cell_to_forgetgate, W_cell_to_outgate
        The peephole weights ``(num_units,)`` (with ``peepholes``).
    cell_init, hid_init
        Parameters ``(1, num_units)`` (trainable only with ``learn_init``,
        never regularizable), or the layers given.
    nonlinearity_ingate, nonlinearity_forgetgate, nonlinearity_cell, nonlinearity_outgate
        The gates' activations.
    cell_output
        An extension of this port: the cell states :math:`c` of the latest
        ``get_output_for`` call, laid out like the output (``None`` before
        any). With the layer output's last step, it is the state to carry
        into the next window as layer-valued ``hid_init``/``cell_init``
        (truncated backpropagation over a token stream).

    Raises
    ------
    ValueError
        Input of fewer than 3 dimensions or unknown feature sizes, a mask
        not shaped like the input's (batch, time), ``num_units <= 0``, an
        impossible ``unroll_scan``, or a peephole gate without ``W_cell``.
    TypeError
        A non-callable nonlinearity, or a gate that is not a :class:`Gate`.

    References
    ----------
    .. [1] Hochreiter, S. and Schmidhuber, J. (1997). Long short-term
       memory. Neural Computation, 9(8), 1735-1780.
    .. [2] Graves, A. (2013). Generating sequences with recurrent neural
       networks. arXiv:1308.0850.
    """

    _GATES = ("ingate", "forgetgate", "cell", "outgate")

    def __init__(self, incoming, num_units, ingate=Gate(), forgetgate=Gate(),
                 cell=Gate(W_cell=None, nonlinearity=nonlinearities.tanh),
                 outgate=Gate(), nonlinearity=nonlinearities.tanh,
                 cell_init=init.Constant(0.), hid_init=init.Constant(0.),
                 backwards=False, learn_init=False, peepholes=True,
                 gradient_steps=-1, grad_clipping=0, unroll_scan=False,
                 precompute_input=True, mask_input=None,
                 only_return_final=False, **kwargs):
        label = _label(type(self).__name__, kwargs.get("name"))
        input_shape = _shape_of(incoming)
        _check_common(label, input_shape, mask_input, gradient_steps,
                      grad_clipping, unroll_scan)
        _check_num_units(label, num_units)
        num_inputs = _num_inputs(label, input_shape)
        nonlinearity = _check_nonlinearity(label, "nonlinearity",
                                           nonlinearity)
        gates = dict(zip(self._GATES, (ingate, forgetgate, cell, outgate)))
        gate_fns = {g: _check_gate(label, g, gates[g]) for g in self._GATES}
        if peepholes:
            for g in ("ingate", "forgetgate", "outgate"):
                if getattr(gates[g], "W_cell", None) is None:
                    raise ValueError(
                        "%s: peepholes=True needs a W_cell spec for the %s, "
                        "but it was built with W_cell=None; give it a "
                        "W_cell or use peepholes=False" % (label, g))

        incomings, mask_index, (hid_index, cell_index) = _collect_incomings(
            incoming, mask_input, [hid_init, cell_init])
        super().__init__(incomings, **kwargs)
        self.mask_incoming_index = mask_index
        self.hid_init_incoming_index = hid_index
        self.cell_init_incoming_index = cell_index

        self.nonlinearity = nonlinearity
        self.cell_output = None
        self.num_units = num_units
        self.peepholes = peepholes
        _store_settings(self, learn_init, backwards, gradient_steps, grad_clipping,
                        unroll_scan, precompute_input, only_return_final)

        for g in self._GATES:
            gate = gates[g]
            setattr(self, "W_in_to_%s" % g, self.add_param(
                gate.W_in, (num_inputs, num_units), name="W_in_to_%s" % g))
            setattr(self, "W_hid_to_%s" % g, self.add_param(
                gate.W_hid, (num_units, num_units), name="W_hid_to_%s" % g))
            setattr(self, "b_%s" % g, self.add_param(
                gate.b, (num_units,), name="b_%s" % g, regularizable=False))
            setattr(self, "nonlinearity_%s" % g, gate_fns[g])

        if peepholes:
            for g in ("ingate", "forgetgate", "outgate"):
                setattr(self, "W_cell_to_%s" % g, self.add_param(
                    gates[g].W_cell, (num_units,), name="W_cell_to_%s" % g))

        if isinstance(cell_init, Layer):
            self.cell_init = cell_init
        else:
            self.cell_init = self.add_param(
                cell_init, (1, num_units), name="cell_init",
                trainable=learn_init, regularizable=False)
        if isinstance(hid_init, Layer):
            self.hid_init = hid_init
        else:
            self.hid_init = self.add_param(
                hid_init, (1, num_units), name="hid_init",
                trainable=learn_init, regularizable=False)

    def get_output_shape_for(self, input_shapes):
        input_shape = input_shapes[0]
        if self.only_return_final:
            return (input_shape[0], self.num_units)
        return (input_shape[0], input_shape[1], self.num_units)

    def get_output_for(self, inputs, **kwargs):
        """Symbolic hidden states for ``[input, mask?, hid_init?,
        cell_init?]`` (the incomings' order)."""
        input = inputs[0]
        mask = inputs[self.mask_incoming_index] \
            if self.mask_incoming_index > 0 else None
        if input.ndim > 3:
            input = pt.flatten(input, 3)
        input = _time_major(input)
        num_batch = input.shape[1]
        U = self.num_units

        def stack(fmt):
            return [getattr(self, fmt % g) for g in self._GATES]

        W_in = pt.concatenate(stack("W_in_to_%s"), axis=1)
        W_hid = pt.concatenate(stack("W_hid_to_%s"), axis=1)
        b = pt.concatenate(stack("b_%s"), axis=0)
        if self.precompute_input:
            input = _project(input, W_in, b)

        non_seqs = [W_hid]
        if self.peepholes:
            non_seqs += [self.W_cell_to_ingate, self.W_cell_to_forgetgate,
                         self.W_cell_to_outgate]
        if not self.precompute_input:
            non_seqs += [W_in, b]

        peepholes = self.peepholes
        precompute = self.precompute_input
        clip = self.grad_clipping
        f_i, f_f = self.nonlinearity_ingate, self.nonlinearity_forgetgate
        f_c, f_o = self.nonlinearity_cell, self.nonlinearity_outgate
        f_h = self.nonlinearity

        def step(input_n, cell_previous, hid_previous, *args):
            W_hid_n = args[0]
            k = 1
            if peepholes:
                w_ci, w_cf, w_co = args[1:4]
                k = 4
            if not precompute:
                input_n = pt.dot(input_n, args[k]) + args[k + 1]
            gates = input_n + pt.dot(hid_previous, W_hid_n)
            if clip:
                gates = _clip(gates, clip)
            ingate = _gate_slice(gates, 0, U)
            forgetgate = _gate_slice(gates, 1, U)
            cell_input = _gate_slice(gates, 2, U)
            outgate = _gate_slice(gates, 3, U)
            if peepholes:
                ingate = ingate + cell_previous * w_ci
                forgetgate = forgetgate + cell_previous * w_cf
            ingate = f_i(ingate)
            forgetgate = f_f(forgetgate)
            cell_input = f_c(cell_input)
            cell = forgetgate * cell_previous + ingate * cell_input
            if peepholes:
                outgate = outgate + cell * w_co
            outgate = f_o(outgate)
            hid = outgate * f_h(cell)
            return [cell, hid]

        def step_masked(input_n, mask_n, cell_previous, hid_previous, *args):
            cell, hid = step(input_n, cell_previous, hid_previous, *args)
            return [_carry(mask_n, cell, cell_previous),
                    _carry(mask_n, hid, hid_previous)]

        sequences = [input]
        fn = step
        if mask is not None:
            sequences.append(mask.T)
            fn = step_masked

        cell_init = _initial_state(inputs, self.cell_init_incoming_index,
                                   self.cell_init, num_batch)
        hid_init = _initial_state(inputs, self.hid_init_incoming_index,
                                  self.hid_init, num_batch)
        cell_out, hid_out = _loop(self, fn, sequences, [cell_init, hid_init],
                                  non_seqs)
        self.cell_output = _finish(self, cell_out)
        return _finish(self, hid_out)


class GRULayer(MergeLayer):
    r"""A gated recurrent unit layer (Cho et al. [1]_).

    With :math:`X = x_t W_{in} + b` and :math:`H = h_{t-1} W_{hid}`, both
    stacked column-wise as :math:`[r \,|\, u \,|\, c]`,

    .. math::
        r_t &= \sigma_r(X_r + H_r) \\
        u_t &= \sigma_u(X_u + H_u) \\
        \tilde h_t &= \sigma_c(X_c + r_t \odot H_c) \\
        h_t &= (1 - u_t) \odot h_{t-1} + u_t \odot \tilde h_t

    The reset gate multiplies the hidden projection :math:`H_c`, not
    :math:`h_{t-1}` itself. With ``grad_clipping``, the gradients of
    :math:`X` (of the raw input :math:`x_t` when ``precompute_input`` is
    off), of :math:`H` and of the argument of :math:`\sigma_c` are clipped
    at every step.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The input, ``(batch, time, features...)``; dimensions after the
        third are flattened (their sizes must be known).
    num_units : int
        The number of hidden units.
    resetgate, updategate, hidden_update : :class:`Gate`
        Specs of the reset gate, update gate and candidate state (their
        ``W_cell`` is ignored). Defaults: ``Gate(W_cell=None)`` and
        ``Gate(W_cell=None, nonlinearity=tanh)``.
    hid_init : a Layer, array, initializer or expression
        The initial hidden state: a layer giving ``(batch, num_units)`` or a
        ``(1, num_units)`` parameter spec. Default Constant(0.).
    backwards, learn_init, gradient_steps, grad_clipping, unroll_scan, precompute_input, mask_input, only_return_final
        See the module documentation.
    **kwargs
        ``name``, passed to :class:`MergeLayer`.

    Attributes
    ----------
    W_in_to_<gate>, W_hid_to_<gate>, b_<gate>
        Registered for ``<gate>`` in updategate, resetgate, hidden_update
        (in that order), then ``hid_init``.
    nonlinearity_updategate, nonlinearity_resetgate, nonlinearity_hid
        The gates' activations.

    Raises
    ------
    ValueError, TypeError
        As for :class:`LSTMLayer` (without the peephole error).

    References
    ----------
    .. [1] Cho, K., van Merrienboer, B., Gulcehre, C., Bahdanau, D.,
       Bougares, F., Schwenk, H. and Bengio, Y. (2014). Learning phrase
       representations using RNN encoder-decoder for statistical machine
       translation. arXiv:1406.1078.
    """

    def __init__(self, incoming, num_units, resetgate=Gate(W_cell=None),
                 updategate=Gate(W_cell=None),
                 hidden_update=Gate(W_cell=None,
                                    nonlinearity=nonlinearities.tanh),
                 hid_init=init.Constant(0.), backwards=False,
                 learn_init=False, gradient_steps=-1, grad_clipping=0,
                 unroll_scan=False, precompute_input=True, mask_input=None,
                 only_return_final=False, **kwargs):
        label = _label(type(self).__name__, kwargs.get("name"))
        input_shape = _shape_of(incoming)
        _check_common(label, input_shape, mask_input, gradient_steps,
                      grad_clipping, unroll_scan)
        _check_num_units(label, num_units)
        num_inputs = _num_inputs(label, input_shape)
        gates = (("updategate", updategate), ("resetgate", resetgate),
                 ("hidden_update", hidden_update))
        gate_fns = {g: _check_gate(label, g, gate) for g, gate in gates}

        incomings, mask_index, (hid_index,) = _collect_incomings(
            incoming, mask_input, [hid_init])
        super().__init__(incomings, **kwargs)
        self.mask_incoming_index = mask_index
        self.hid_init_incoming_index = hid_index

        self.num_units = num_units
        _store_settings(self, learn_init, backwards, gradient_steps, grad_clipping,
                        unroll_scan, precompute_input, only_return_final)

        for g, gate in gates:
            setattr(self, "W_in_to_%s" % g, self.add_param(
                gate.W_in, (num_inputs, num_units), name="W_in_to_%s" % g))
            setattr(self, "W_hid_to_%s" % g, self.add_param(
                gate.W_hid, (num_units, num_units), name="W_hid_to_%s" % g))
            setattr(self, "b_%s" % g, self.add_param(
                gate.b, (num_units,), name="b_%s" % g, regularizable=False))
        self.nonlinearity_updategate = gate_fns["updategate"]
        self.nonlinearity_resetgate = gate_fns["resetgate"]
        self.nonlinearity_hid = gate_fns["hidden_update"]

        if isinstance(hid_init, Layer):
            self.hid_init = hid_init
        else:
            self.hid_init = self.add_param(
                hid_init, (1, num_units), name="hid_init",
                trainable=learn_init, regularizable=False)

    def get_output_shape_for(self, input_shapes):
        input_shape = input_shapes[0]
        if self.only_return_final:
            return (input_shape[0], self.num_units)
        return (input_shape[0], input_shape[1], self.num_units)

    def get_output_for(self, inputs, **kwargs):
        """Symbolic hidden states for ``[input, mask?, hid_init?]`` (the
        incomings' order)."""
        input = inputs[0]
        mask = inputs[self.mask_incoming_index] \
            if self.mask_incoming_index > 0 else None
        if input.ndim > 3:
            input = pt.flatten(input, 3)
        input = _time_major(input)
        num_batch = input.shape[1]
        U = self.num_units

        order = ("resetgate", "updategate", "hidden_update")
        W_in = pt.concatenate([getattr(self, "W_in_to_%s" % g)
                               for g in order], axis=1)
        W_hid = pt.concatenate([getattr(self, "W_hid_to_%s" % g)
                                for g in order], axis=1)
        b = pt.concatenate([getattr(self, "b_%s" % g) for g in order],
                           axis=0)
        if self.precompute_input:
            input = _project(input, W_in, b)

        non_seqs = [W_hid]
        if not self.precompute_input:
            non_seqs += [W_in, b]
        precompute = self.precompute_input
        clip = self.grad_clipping
        f_r = self.nonlinearity_resetgate
        f_u = self.nonlinearity_updategate
        f_c = self.nonlinearity_hid

        def step(input_n, hid_previous, *args):
            hid_input = pt.dot(hid_previous, args[0])
            if clip:
                input_n = _clip(input_n, clip)
                hid_input = _clip(hid_input, clip)
            if not precompute:
                input_n = pt.dot(input_n, args[1]) + args[2]
            resetgate = f_r(_gate_slice(hid_input, 0, U)
                            + _gate_slice(input_n, 0, U))
            updategate = f_u(_gate_slice(hid_input, 1, U)
                             + _gate_slice(input_n, 1, U))
            hidden_update = (_gate_slice(input_n, 2, U)
                             + resetgate * _gate_slice(hid_input, 2, U))
            if clip:
                hidden_update = _clip(hidden_update, clip)
            hidden_update = f_c(hidden_update)
            return (1 - updategate) * hid_previous + updategate * hidden_update

        def step_masked(input_n, mask_n, hid_previous, *args):
            hid = step(input_n, hid_previous, *args)
            return _carry(mask_n, hid, hid_previous)

        sequences = [input]
        fn = step
        if mask is not None:
            sequences.append(mask.T)
            fn = step_masked

        hid_init = _initial_state(inputs, self.hid_init_incoming_index,
                                  self.hid_init, num_batch)
        (hid_out,) = _loop(self, fn, sequences, [hid_init], non_seqs)
        return _finish(self, hid_out)
