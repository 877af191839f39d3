"""Compiled step functions: masked minibatch training and N-step gradient
accumulation, with evaluation functions that never update.

Both training modes minimise the same objective. For a window (batch) of
sequences with per-token losses ``l_{i,t}`` and real-token counts ``n_i``:

* token weighting (default): ``L = Σ_i Σ_t l_{i,t} / Σ_i n_i``;
* sequence weighting: ``L = (1/B) Σ_i (Σ_t l_{i,t}) / n_i``.

**Masked mode** compiles one function ``train(X, mask, y)`` doing forward,
backward and the update on a padded batch.

**Accumulation mode** compiles ``compute_grad(x[, mask], y, scale)``, which adds
the gradient of ``Σ_i scale_i Σ_t l_{i,t}`` over one sequence or micro-batch
into accumulator shared variables (nothing is returned to Python), and
``apply_mean_grad()``, which hands the accumulated gradient to the update rule
(through its gradient-list form) and zeros the accumulators. The scale is
applied *before* differentiation, so per-step ``grad_clipping`` sees exactly
the values it sees in masked mode, and one accumulation cycle over a batch
equals one masked step on it.
"""
import time
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.graph.replace import graph_replace

from .. import backends, updates
from ..layers import get_all_params, get_output
from ..utils import floatX

OPTIMIZERS = OrderedDict([
    ("sgd", updates.sgd),
    ("momentum", updates.momentum),
    ("nesterov_momentum", updates.nesterov_momentum),
    ("adagrad", updates.adagrad),
    ("rmsprop", updates.rmsprop),
    ("adadelta", updates.adadelta),
    ("adam", updates.adam),
    ("adamax", updates.adamax),
    ("amsgrad", updates.amsgrad),
])
#: Each rule's default learning rate (Lasagne's, where it has one).
DEFAULT_LEARNING_RATES = {"sgd": 1.0, "momentum": 0.1, "nesterov_momentum": 0.1,
                          "adagrad": 1.0, "rmsprop": 1e-3, "adadelta": 1.0,
                          "adam": 1e-3, "adamax": 2e-3, "amsgrad": 1e-3}
WEIGHTINGS = ("tokens", "sequences")
MODES = ("masked", "accumulate")


def _take_targets(values, targets):
    """values[i, y_i] without arange-indexing (JAX needs static index shapes)."""
    return pt.take_along_axis(values, targets[:, None], axis=1)[:, 0]


def target_nll(logits, targets):
    """Cross-entropy of each row: ``-log softmax(logits)[i, y_i]``.

    PyTensor's ``LogSoftmax`` (stable: it subtracts the row maximum). It runs
    as NumPy code on the C backend; ``logsumexp(logits_i) - logits[i, y_i]``
    built from element-wise ops and reductions avoids that, but measured no
    faster on C and slower on JAX, the default
    (``python benchmarks/step_variants.py --compare loss``).
    """
    return -_take_targets(pt.special.log_softmax(logits, axis=-1), targets)


class LossTerms:
    """The symbolic loss pieces of one model variant on one set of inputs.

    Attributes
    ----------
    row_loss : (batch,) summed loss of each sequence's real targets
    row_targets : (batch,) number of real targets per sequence (tokens for a
        language model, 1 for a classifier)
    correct : scalar, number of correctly predicted real targets
    """

    def __init__(self, model, X, mask, y, deterministic):
        inputs = {model.l_in: X}
        if model.masked:
            inputs[model.l_mask] = mask
        logits = get_output(model.l_out, inputs, deterministic=deterministic)
        predictions = pt.argmax(logits, axis=-1)
        if model.task == "lm":
            weights = mask if model.masked else pt.ones_like(X, dtype=logits.dtype)
            nll = target_nll(logits, y.flatten()).reshape(y.shape)
            self.row_loss = (nll * weights).sum(axis=1)
            self.row_targets = weights.sum(axis=1)
            hits = pt.eq(predictions.reshape(y.shape), y)
            self.correct = (hits * weights).sum()
        else:
            self.row_loss = target_nll(logits, y)
            self.row_targets = pt.ones_like(self.row_loss)
            self.correct = pt.eq(predictions, y).sum()
        self.loss_sum = self.row_loss.sum()
        self.n_targets = self.row_targets.sum()

    def row_weights(self, weighting):
        """Per-sequence weights turning summed losses into the batch objective."""
        if weighting == "tokens":
            return pt.ones_like(self.row_loss) / self.n_targets
        if weighting == "sequences":
            return 1.0 / (self.row_targets * self.row_loss.shape[0])
        raise ValueError("unknown weighting %r: expected one of %s"
                         % (weighting, ", ".join(WEIGHTINGS)))


def symbolic_inputs(task, masked, shapes=None):
    """Symbolic (X, mask, y): dynamic shapes, or the static ``shapes`` given
    (one per variable, mask left out when not ``masked``)."""
    floatx = pytensor.config.floatX
    dtypes = ["int32", floatx, "int32"] if masked else ["int32", "int32"]
    ndims = [2, 2, 2 if task == "lm" else 1] if masked else [2, 2 if task == "lm" else 1]
    names = ["X", "mask", "y"] if masked else ["X", "y"]
    if shapes is None:
        shapes = [(None,) * n for n in ndims]
    variables = [pt.tensor(dtype=d, shape=tuple(s), name=n)
                 for d, s, n in zip(dtypes, shapes, names)]
    if not masked:
        variables.insert(1, None)
    return variables


class UpdateRule:
    """An optimizer's updates of the trainable parameters, built once on
    symbolic gradients: stand-ins that each compiled function replaces by its
    real gradients (:meth:`with_gradients`), or accumulators. Its state
    variables (moments, step count) so exist before any function is compiled
    and are shared by every function (one per input shape on JAX).

    Attributes
    ----------
    learning_rate : shared scalar (schedules change it without recompiling)
    updates : OrderedDict of the rule's updates, on ``gradients``
    state : the rule's own shared variables, in its deterministic order
        (saved in checkpoints)
    """

    def __init__(self, params, gradients, optimizer, learning_rate=None,
                 max_grad_norm=None):
        if optimizer not in OPTIMIZERS:
            raise ValueError("unknown optimizer %r: expected one of %s"
                             % (optimizer, ", ".join(OPTIMIZERS)))
        if learning_rate is None:
            learning_rate = DEFAULT_LEARNING_RATES[optimizer]
        self.learning_rate = pytensor.shared(floatX(learning_rate), name="learning_rate")
        self.gradients = list(gradients)
        grads = self.gradients
        if max_grad_norm:
            grads = updates.total_norm_constraint(grads, max_grad_norm)
        self.updates = OPTIMIZERS[optimizer](grads, params, self.learning_rate)
        params = set(params)
        self.state = [v for v in self.updates if v not in params]

    @classmethod
    def on_standins(cls, params, *args, **kwargs):
        """The rule on one symbolic stand-in per parameter."""
        return cls(params, [p.type() for p in params], *args, **kwargs)

    def with_gradients(self, grads):
        """The updates with ``grads`` in place of the stand-ins."""
        new_values = graph_replace(list(self.updates.values()),
                                   dict(zip(self.gradients, grads)))
        return OrderedDict(zip(self.updates.keys(), new_values))


class ShapeCompiledFunction:
    """Compiles a graph on first use: once for dynamic-shape backends, once per
    input shape for static-shape ones (JAX), where ``build(shapes)`` makes the
    graph anew from static-shape inputs so every shape is known while the
    graph is built.

    ``build(shapes)`` returns ``(inputs, outputs, updates, name)``; ``shapes``
    is None for a dynamic-shape graph.
    """

    def __init__(self, backend, build):
        self.backend = backend
        self.mode = backends.get_mode(backend)
        self.build = build
        self.functions = {}
        self.compile_seconds = 0.0  # building, compiling and first calls
        self._graph = None
        if not backends.needs_static_shapes(backend):
            # Build the one graph now: its random streams (dropout) then
            # exist from the start, so a checkpoint can restore their states
            # before the first call.
            self._graph = build(None)

    def __call__(self, *args):
        key = (tuple(np.shape(a) for a in args)
               if backends.needs_static_shapes(self.backend) else None)
        fn = self.functions.get(key)
        if fn is not None:
            return fn(*args)
        start = time.perf_counter()
        inputs, outputs, upd, name = self._graph if key is None else self.build(key)
        fn = self.functions[key] = pytensor.function(
            inputs, outputs, updates=upd, mode=self.mode, name=name)
        # JAX (and Numba) compile on the first call: count it as compiling.
        result = fn(*args)
        self.compile_seconds += time.perf_counter() - start
        return result

    @property
    def compiled(self):
        return len(self.functions)


class StepFunctions:
    """Training and evaluation functions for one model.

    The update expressions (and so the optimizer's state variables) are built
    at construction; functions are compiled on first use.

    Parameters
    ----------
    model : a model from :mod:`lasagne_lstm.training.models`
        Built with a mask (its variant without one is made when needed).
    mode : {'masked', 'accumulate'}
        Which training functions to provide.
    optimizer : str
        A rule of :mod:`lasagne_lstm.updates` (see ``OPTIMIZERS``).
    learning_rate : float, optional
        Defaults to the rule's usual value. Held in a shared variable
        (``self.learning_rate``) so schedules can change it without
        recompiling.
    max_grad_norm : float, optional
        Rescale the whole gradient to at most this global norm
        (:func:`updates.total_norm_constraint`) before the update.
    backend : str
        See :mod:`lasagne_lstm.backends`.
    weighting : {'tokens', 'sequences'}
        How sequences are weighted in the objective (see the module text).
    """

    def __init__(self, model, mode="masked", optimizer="adam", learning_rate=None,
                 max_grad_norm=None, backend=backends.DEFAULT_BACKEND,
                 weighting="tokens"):
        if mode not in MODES:
            raise ValueError("unknown mode %r: expected one of %s"
                             % (mode, ", ".join(MODES)))
        if weighting not in WEIGHTINGS:
            raise ValueError("unknown weighting %r: expected one of %s"
                             % (weighting, ", ".join(WEIGHTINGS)))
        backends.get_mode(backend)  # fail early on a bad or missing backend
        self.model = model
        self.task = model.task
        self.mode = mode
        self.backend = backend
        self.weighting = weighting
        self.params = get_all_params(model.l_out, trainable=True)
        self._functions = {}
        if mode == "masked":
            self.rule = UpdateRule.on_standins(self.params, optimizer, learning_rate,
                                               max_grad_norm)
            self._function("train", self._train_graph)
        else:
            self._build_accumulators()
            # the accumulated gradient is the rule's gradient
            self.rule = UpdateRule(self.params, self.accumulators, optimizer,
                                   learning_rate, max_grad_norm)
            for masked in (False, True):
                self._compute_grad_function(masked)
        self.learning_rate = self.rule.learning_rate
        self.optimizer_state = self.rule.state

    def _function(self, key, build):
        if key not in self._functions:
            self._functions[key] = ShapeCompiledFunction(self.backend, build)
        return self._functions[key]

    def _terms(self, masked, shapes, deterministic=False):
        X, mask, y = symbolic_inputs(self.task, masked, shapes)
        terms = LossTerms(self.model.variant(masked=masked), X, mask, y, deterministic)
        inputs = [X, mask, y] if masked else [X, y]
        return inputs, terms

    # -- masked mode ---------------------------------------------------------
    def _train_graph(self, shapes):
        inputs, terms = self._terms(True, shapes)
        loss = (terms.row_weights(self.weighting) * terms.row_loss).sum()
        upd = self.rule.with_gradients(pytensor.grad(loss, self.params))
        return inputs, [terms.loss_sum, terms.n_targets], upd, "train"

    def train(self, X, mask, y):
        """One masked update on a padded batch; returns (loss sum, targets)."""
        self._require("masked")
        loss_sum, n = self._function("train", self._train_graph)(X, mask, y)
        return float(loss_sum), float(n)

    # -- accumulation mode ---------------------------------------------------
    def _build_accumulators(self):
        self.accumulators = [
            pytensor.shared(np.zeros_like(p.get_value()), shape=p.type.shape,
                            name="accumulated." + (p.name or "param"))
            for p in self.params]
        self.accumulated_loss = pytensor.shared(floatX(0.0), name="accumulated.loss")
        self.accumulated_targets = pytensor.shared(floatX(0.0),
                                                   name="accumulated.targets")

    def _compute_grad_graph(self, masked, shapes):
        if shapes is not None:
            shapes, scale_shape = shapes[:-1], shapes[-1]
        else:
            scale_shape = (None,)
        inputs, terms = self._terms(masked, shapes)
        scale = pt.tensor(dtype=pytensor.config.floatX, shape=scale_shape, name="scale")
        grads = pytensor.grad((scale * terms.row_loss).sum(), self.params)
        upd = OrderedDict((acc, acc + g) for acc, g in zip(self.accumulators, grads))
        upd[self.accumulated_loss] = self.accumulated_loss + terms.loss_sum
        upd[self.accumulated_targets] = self.accumulated_targets + terms.n_targets
        return inputs + [scale], [], upd, "compute_grad"

    def _compute_grad_function(self, masked):
        return self._function(("compute_grad", masked),
                              lambda shapes: self._compute_grad_graph(masked, shapes))

    def compute_grad(self, X, mask, y, scale):
        """Add ``scale``-weighted gradients of one micro-batch into the
        accumulators.

        ``mask`` is None for single unpadded sequences (the graph then has no
        mask at all); ``scale`` holds one weight per row. Returns nothing: the
        gradients stay in the accumulators.
        """
        self._require("accumulate")
        masked = mask is not None
        fn = self._compute_grad_function(masked)
        fn(*((X, mask, y, scale) if masked else (X, y, scale)))

    def _apply_graph(self, shapes):
        upd = OrderedDict(self.rule.updates)
        for acc in self.accumulators + [self.accumulated_loss,
                                        self.accumulated_targets]:
            upd[acc] = pt.zeros_like(acc)
        return [], [self.accumulated_loss, self.accumulated_targets], upd, \
            "apply_mean_grad"

    def apply_mean_grad(self):
        """Apply the accumulated (already averaged) gradient with the update
        rule and zero the accumulators; returns (loss sum, targets) of the
        window."""
        self._require("accumulate")
        loss_sum, n = self._function("apply_mean_grad", self._apply_graph)()
        return float(loss_sum), float(n)

    def accumulate_batch(self, batch, micro_batch=1):
        """One accumulation cycle over a batch: ``compute_grad`` on each
        sequence (``micro_batch=1``: unpadded, no mask) or micro-batch, then
        ``apply_mean_grad``. Returns (loss sum, targets).

        On static-shape backends (JAX) single sequences are padded to the
        batch's padded widths (``pad_multiple``, ``pad_growth``) and masked,
        so that a handful of lengths, not every length, needs its own
        compiled function.
        """
        lengths = np.asarray(batch.lengths, dtype=float)
        n_rows = len(lengths)
        total = n_rows if self.task == "classify" else lengths.sum()

        def scales(lens):
            if self.task == "classify":
                lens = np.ones(len(lens))
            if self.weighting == "tokens":
                return floatX(np.full(len(lens), 1.0 / total))
            return floatX(1.0 / (np.asarray(lens, dtype=float) * n_rows))

        if micro_batch == 1 and not backends.needs_static_shapes(self.backend):
            for x, y in batch.sequences():
                self.compute_grad(np.asarray(x, dtype="int32")[None, :], None,
                                  np.asarray(y, dtype="int32")[None, ...],
                                  scales([len(x)]))
        else:
            for mb in batch.micro_batches(micro_batch):
                self.compute_grad(mb.X, mb.mask, mb.y, scales(mb.lengths))
        return self.apply_mean_grad()

    def train_batch(self, batch, micro_batch=1):
        """One update on a batch in this object's mode; returns (loss sum, targets)."""
        if self.mode == "masked":
            return self.train(batch.X, batch.mask, batch.y)
        return self.accumulate_batch(batch, micro_batch)

    def _require(self, mode):
        if self.mode != mode:
            raise RuntimeError("these step functions were built for %s mode, "
                               "not %s mode" % (self.mode, mode))

    # -- evaluation ----------------------------------------------------------
    def _evaluate_graph(self, shapes):
        inputs, terms = self._terms(True, shapes, deterministic=True)
        return inputs, [terms.loss_sum, terms.n_targets, terms.correct], None, "evaluate"

    def evaluate(self, X, mask, y):
        """Loss sum, number of targets and number correct on a padded batch,
        with dropout off; never updates anything."""
        loss_sum, n, correct = self._function("evaluate", self._evaluate_graph)(X, mask, y)
        return float(loss_sum), float(n), float(correct)

    @property
    def compiled_functions(self):
        """How many functions have been compiled so far (one per shape on JAX)."""
        return sum(f.compiled for f in self._functions.values())

    @property
    def compile_seconds(self):
        """Seconds spent compiling so far (each function's first call included)."""
        return sum(f.compile_seconds for f in self._functions.values())


class StreamStepFunctions:
    """Truncated backpropagation over a token stream, state carried between
    windows (the setting of Zaremba et al. 2014).

    The model must be a stateful language model (``config['stateful']``):
    each window ``(X, y)`` of shape (batch, num_steps) starts from the final
    states of the previous window, passed in and returned as arrays; the
    gradient stops at the window's start. The objective follows Zaremba et
    al.: the summed token loss of the window divided by the batch size (the
    mean per-step loss times ``num_steps``), which is what their learning
    rate of 1 and gradient-norm clip of 5 are tuned for.

    Parameters
    ----------
    model : a stateful :class:`~lasagne_lstm.training.models.LanguageModel`
    optimizer, learning_rate, max_grad_norm, backend
        As for :class:`StepFunctions`.
    """

    def __init__(self, model, optimizer="sgd", learning_rate=None,
                 max_grad_norm=None, backend=backends.DEFAULT_BACKEND):
        if not model.config.get("stateful"):
            raise ValueError("stream training needs a stateful language model "
                             "(config['stateful'] = True)")
        self.model = model
        self.backend = backend
        self.params = get_all_params(model.l_out, trainable=True)
        self.rule = UpdateRule.on_standins(self.params, optimizer, learning_rate,
                                           max_grad_norm)
        self.learning_rate = self.rule.learning_rate
        self.optimizer_state = self.rule.state
        self._train = ShapeCompiledFunction(backend, self._train_graph)
        self._evaluate = ShapeCompiledFunction(backend, self._evaluate_graph)

    def _graph(self, deterministic, shapes):
        from .models import final_states
        shapes = shapes or [(None, None)] * (2 + len(self.model.state_inputs))
        X, _, y = symbolic_inputs("lm", False, shapes[:2])
        states = [pt.tensor(dtype=pytensor.config.floatX, shape=shape, name=layer.name)
                  for layer, shape in zip(self.model.state_inputs, shapes[2:])]
        inputs = {self.model.l_in: X}
        inputs.update(zip(self.model.state_inputs, states))
        outputs = get_output([self.model.l_out] + self.model.recurrent_layers, inputs,
                             deterministic=deterministic)
        loss_sum = target_nll(outputs[0], y.flatten()).sum()
        return [X, y] + states, loss_sum, final_states(self.model, outputs[1:])

    def _train_graph(self, shapes):
        inputs, loss_sum, finals = self._graph(False, shapes)
        upd = self.rule.with_gradients(pytensor.grad(loss_sum / inputs[0].shape[0],
                                                     self.params))
        return inputs, [loss_sum] + finals, upd, "stream_train"

    def _evaluate_graph(self, shapes):
        inputs, loss_sum, finals = self._graph(True, shapes)
        return inputs, [loss_sum] + finals, None, "stream_evaluate"

    def initial_states(self, batch_size):
        """Zero states for the first window."""
        return [np.zeros((batch_size, self.model.config["hidden"]),
                         dtype=pytensor.config.floatX)
                for _ in self.model.state_inputs]

    def train(self, X, y, states):
        """One update on a window; returns (loss sum, tokens, final states)."""
        loss_sum, *finals = self._train(X, y, *states)
        return float(loss_sum), float(np.size(y)), finals

    def evaluate(self, X, y, states):
        """Loss sum, tokens and final states of a window (dropout off, no update)."""
        loss_sum, *finals = self._evaluate(X, y, *states)
        return float(loss_sum), float(np.size(y)), finals
