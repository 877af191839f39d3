"""Ready-made networks built from the layer library: a language model and a
sequence classifier, each with LSTM or GRU cells.

A model is built once per *variant* of its input: with a (batch, time) mask,
or without one (for single, unpadded sequences in gradient accumulation).
Variants of one model share their parameters: the second variant is built
with the first one's shared variables as parameter specs, so an update made
through either is seen by both.
"""
from collections import OrderedDict

import pytensor.tensor as pt

from .. import init
from ..layers import (ConcatLayer, DenseLayer, DropoutLayer, EmbeddingLayer,
                     Gate, GRULayer, InputLayer, LSTMLayer, NoiseLayer, ReshapeLayer,
                     get_all_layers, get_all_params)

CELLS = ("lstm", "gru")
TASKS = ("lm", "classify")


class _ParamSource:
    """Gives each named parameter either an existing shared variable (to share
    it with another variant) or a fresh initializer."""

    def __init__(self, shared, init_range):
        self.shared = shared or {}
        self.init_range = init_range

    def __call__(self, name, default):
        if name in self.shared:
            return self.shared[name]
        if self.init_range is not None and not isinstance(default, init.Constant):
            return init.Uniform(self.init_range)
        return default

    def gate(self, layer_name, gate_name, W_cell=True, nonlinearity=None,
             peepholes=True):
        def spec(param, default):
            return self("%s.%s_%s" % (layer_name, param, gate_name), default)
        kwargs = dict(W_in=spec("W_in_to", init.Normal(0.1)),
                      W_hid=spec("W_hid_to", init.Normal(0.1)),
                      b=self("%s.b_%s" % (layer_name, gate_name), init.Constant(0.)))
        kwargs["W_cell"] = (spec("W_cell_to", init.Normal(0.1))
                            if W_cell and peepholes else None)
        if nonlinearity is not None:
            kwargs["nonlinearity"] = nonlinearity
        return Gate(**kwargs)


def _recurrent_layer(cell, incoming, num_units, mask, grad_clipping, source,
                     name, backwards=False, only_return_final=False,
                     state_layers=None):
    """An LSTM or GRU layer; ``state_layers`` (a dict 'hid'/'cell' -> layer)
    replaces the initial-state parameters by layers (carried state)."""
    state_layers = state_layers or {}
    common = dict(mask_input=mask, grad_clipping=grad_clipping,
                  backwards=backwards, only_return_final=only_return_final,
                  name=name)
    if cell == "lstm":
        return LSTMLayer(
            incoming, num_units,
            ingate=source.gate(name, "ingate"),
            forgetgate=source.gate(name, "forgetgate"),
            cell=source.gate(name, "cell", W_cell=False, nonlinearity=pt.tanh),
            outgate=source.gate(name, "outgate"),
            cell_init=state_layers.get("cell") or source(name + ".cell_init",
                                                         init.Constant(0.)),
            hid_init=state_layers.get("hid") or source(name + ".hid_init",
                                                       init.Constant(0.)),
            **common)
    if cell == "gru":
        return GRULayer(
            incoming, num_units,
            resetgate=source.gate(name, "resetgate", W_cell=False),
            updategate=source.gate(name, "updategate", W_cell=False),
            hidden_update=source.gate(name, "hidden_update", W_cell=False,
                                      nonlinearity=pt.tanh),
            hid_init=state_layers.get("hid") or source(name + ".hid_init",
                                                       init.Constant(0.)),
            **common)
    raise ValueError("unknown cell %r: expected one of %s" % (cell, ", ".join(CELLS)))


class _Model:
    """Common parts: the input layers, the parameter registry and variants."""

    task = None

    def __init__(self, config, masked=True, shared=None):
        self.config = dict(config)
        self.masked = masked
        self.l_in = InputLayer((None, None), input_var=pt.imatrix("X"), name="tokens")
        self.l_mask = (InputLayer((None, None), input_var=pt.matrix("mask"), name="mask")
                       if masked else None)
        source = _ParamSource(shared, self.config.get("init_range"))
        self.l_out = self._build(source)
        self._variants = {masked: self}

    @property
    def params(self):
        """The model's parameters by name, in registration order."""
        return OrderedDict((p.name, p) for p in get_all_params(self.l_out))

    def variant(self, masked):
        """The same model (same shared parameters, same noise seeds) with or
        without a mask input."""
        if masked not in self._variants:
            other = type(self)(self.config, masked=masked, shared=self.params)
            seeds = {layer.name: layer.seed for layer in get_all_layers(self.l_out)
                     if isinstance(layer, NoiseLayer)}
            for layer in get_all_layers(other.l_out):
                if isinstance(layer, NoiseLayer):
                    layer.seed = seeds[layer.name]
            other._variants = self._variants
            self._variants[masked] = other
        return self._variants[masked]

    @property
    def has_noise(self):
        """Whether the network draws noise in training (dropout)."""
        return any(isinstance(layer, NoiseLayer) for layer in get_all_layers(self.l_out))

    def _build(self, source):
        raise NotImplementedError


class LanguageModel(_Model):
    """Embedding → K recurrent layers → softmax over the vocabulary at every step.

    The output layer gives logits of shape (batch · time, vocab_size); the
    softmax is applied in the loss (as a log-softmax, for stability; see
    :func:`lasagne_lstm.training.target_nll`).

    Configuration keys: ``vocab_size``, ``embedding`` (E), ``hidden`` (H),
    ``layers`` (K), ``cell`` ('lstm' or 'gru'), ``grad_clipping`` (per-step
    clipping of the gate pre-activations' gradients; 0 disables), ``dropout``
    (between layers and before the output), ``tie_embeddings`` (the output
    weights are the transposed input embedding; needs E == H), ``init_range``
    (uniform ±r for every weight instead of Lasagne's defaults), ``stateful``
    (for a token stream: every recurrent layer takes its initial state from
    input layers, listed in ``state_inputs``, and ``state_outputs`` gives the
    symbolic final states to carry into the next window).
    """

    task = "lm"

    def _build(self, source):
        c = self.config
        V, E, H = c["vocab_size"], c["embedding"], c["hidden"]
        if c.get("tie_embeddings") and E != H:
            raise ValueError("tie_embeddings needs embedding size == hidden size "
                             "(got %d and %d)" % (E, H))
        self.l_embedding = EmbeddingLayer(self.l_in, V, E,
                                          W=source("embedding.W", init.Normal(0.1)),
                                          name="embedding")
        layer = self.l_embedding
        cell = c.get("cell", "lstm")
        self.recurrent_layers = []
        self.state_inputs = []
        for k in range(c.get("layers", 1)):
            if c.get("dropout"):
                layer = DropoutLayer(layer, p=c["dropout"], name="dropout%d" % k)
            name = "%s%d" % (cell, k)
            states = {}
            if c.get("stateful"):
                kinds = ("hid", "cell") if cell == "lstm" else ("hid",)
                states = {kind: InputLayer((None, H), name="%s.%s_state" % (name, kind))
                          for kind in kinds}
                self.state_inputs.extend(states[kind] for kind in kinds)
            layer = _recurrent_layer(cell, layer, H, self.l_mask,
                                     c.get("grad_clipping", 0), source, name,
                                     state_layers=states)
            self.recurrent_layers.append(layer)
        if c.get("dropout"):
            layer = DropoutLayer(layer, p=c["dropout"], name="dropout_out")
        layer = ReshapeLayer(layer, (-1, H), name="flatten_steps")
        if c.get("tie_embeddings"):
            W_out = self.l_embedding.W.T
        else:
            W_out = source("output.W", init.GlorotUniform())
        return DenseLayer(layer, V, W=W_out, b=source("output.b", init.Constant(0.)),
                          nonlinearity=None, name="output")


class SequenceClassifier(_Model):
    """Embedding → masked recurrent layer (final state; optionally both
    directions, concatenated) → softmax over the classes.

    Configuration keys: ``vocab_size``, ``num_classes``, ``embedding``,
    ``hidden``, ``cell``, ``grad_clipping``, ``dropout`` (before the output),
    ``bidirectional``, ``init_range``.
    """

    task = "classify"

    def _build(self, source):
        c = self.config
        V, E, H = c["vocab_size"], c["embedding"], c["hidden"]
        cell = c.get("cell", "lstm")
        self.l_embedding = EmbeddingLayer(self.l_in, V, E,
                                          W=source("embedding.W", init.Normal(0.1)),
                                          name="embedding")
        layer = _recurrent_layer(cell, self.l_embedding, H, self.l_mask,
                                 c.get("grad_clipping", 0), source, cell + "_fwd",
                                 only_return_final=True)
        if c.get("bidirectional"):
            backward = _recurrent_layer(cell, self.l_embedding, H, self.l_mask,
                                        c.get("grad_clipping", 0), source,
                                        cell + "_bwd", backwards=True,
                                        only_return_final=True)
            layer = ConcatLayer([layer, backward], axis=1, name="directions")
        if c.get("dropout"):
            layer = DropoutLayer(layer, p=c["dropout"], name="dropout_out")
        return DenseLayer(layer, c["num_classes"],
                          W=source("output.W", init.GlorotUniform()),
                          b=source("output.b", init.Constant(0.)),
                          nonlinearity=None, name="output")


def final_states(model, outputs):
    """The last step's states of a stateful model, in ``state_inputs`` order,
    given the recurrent layers' outputs from the same ``get_output`` call."""
    states = []
    for layer, out in zip(model.recurrent_layers, outputs):
        states.append(out[:, -1])
        if isinstance(layer, LSTMLayer):
            states.append(layer.cell_output[:, -1])
    return states


def build_model(config, masked=True):
    """Build the model a configuration describes (``config['task']``: 'lm' or
    'classify')."""
    task = config.get("task", "lm")
    if task == "lm":
        return LanguageModel(config, masked=masked)
    if task == "classify":
        return SequenceClassifier(config, masked=masked)
    raise ValueError("unknown task %r: expected one of %s" % (task, ", ".join(TASKS)))
