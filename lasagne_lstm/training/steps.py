"""Compiled step functions of the built-in models
(:mod:`lasagne_lstm.training.models`), on the step core
(:mod:`lasagne_lstm.training.core`): masked minibatch training, N-step
gradient accumulation and stream training, with evaluation functions that
never update.

Both training modes minimise the same objective. For a window (batch) of
sequences with per-token losses ``l_{i,t}`` and real-token counts ``n_i``:

* token weighting (default): ``L = Σ_i Σ_t l_{i,t} / Σ_i n_i``;
* sequence weighting: ``L = (1/B) Σ_i (Σ_t l_{i,t}) / n_i``.

Accumulation mode adds the gradient of ``Σ_i scale_i Σ_t l_{i,t}`` over one
sequence or micro-batch into on-device accumulators, with each row's scale
known before differentiation (``1 / Σ_i n_i`` over the whole window for token
weighting), so per-step ``grad_clipping`` sees exactly the values it sees in
masked mode, and one accumulation cycle over a batch equals one masked step
on it.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.gradient import disconnected_type

from .. import backends, nonlinearities
from ..layers import DenseLayer, get_all_params, get_output
from ..theano import function
from ..utils import floatX, index_mask, with_gradient
from .core import (DEFAULT_LEARNING_RATES, OPTIMIZERS, GradientAccumulator,  # noqa: F401
                   UpdateRule, masked_step)
from .output_nll import UNFUSED_BACKENDS, dense_softmax_nll

WEIGHTINGS = ("tokens", "sequences")
MODES = ("masked", "accumulate")


def _take_targets(values, targets):
    """values[i, y_i] without arange-indexing (JAX needs static index shapes)."""
    return pt.take_along_axis(values, targets[:, None], axis=1)[:, 0]


def target_nll(logits, targets):
    """Cross-entropy of each row: ``-log softmax(logits)[i, y_i]``.

    The value is PyTensor's ``LogSoftmax`` (stable: it subtracts the row
    maximum) at each row's target. The gradient with respect to ``logits`` is
    given in closed form, ``(softmax(logits)_ij - [j = y_i]) g_i``: one
    element-wise pass over the rows x classes, where differentiating the pick
    scattered into a zeroed rows x classes buffer and summed it again. On JAX
    the masked step gained 9% (4 to 10% per width: ``python
    benchmarks/step_variants.py --compare targets --threads 2 --per-call 10``).
    """
    return with_gradient(_log_softmax_nll, _target_nll_pullback, [logits, targets],
                         name="target_nll")


def _log_softmax_nll(logits, targets):
    return -_take_targets(pt.special.log_softmax(logits, axis=-1), targets)


def _target_nll_pullback(inputs, outputs, output_grads):
    """``target_nll``'s gradient: softmax minus one-hot, times each row's."""
    logits, targets = inputs
    row_grad = output_grads[0][:, None]
    hits = index_mask(targets, logits.shape[1])
    grad = pt.special.softmax(logits, axis=-1) * row_grad - pt.switch(hits, row_grad, 0)
    return [grad.astype(logits.dtype), disconnected_type()]


class LossTerms:
    """The symbolic loss pieces of one model variant on one set of inputs.

    Rows whose mask is all zero (padding rows, which static-shape backends
    add so that few batch shapes occur) weigh nothing.

    Parameters
    ----------
    model, X, mask, y, deterministic, noise
        The model variant, its symbolic inputs, whether dropout is off, and
        the noise input (:func:`noise_input`) when it is on.
    weighting : str or tensor, optional
        One of ``WEIGHTINGS``, or a (batch,) tensor of per-row weights:
        build :attr:`objective` with it.
    fused : bool
        Compute the output layer, its cross-entropy and the objective's
        gradient in one op (:mod:`lasagne_lstm.training.output_nll`), never
        the whole logits, and no :attr:`row_loss`; for a model and backend
        where :func:`fuses_output` holds.

    Attributes
    ----------
    objective : scalar, ``Σ_i weight_i · row_loss_i`` with the weights of
        ``weighting`` (None without it)
    row_loss : (batch,) summed loss of each sequence's real targets (None
        when ``fused``)
    row_targets : (batch,) number of real targets per sequence (tokens for a
        language model, 1 for a classifier; 0 for a padding row)
    loss_sum : scalar, the sum of ``row_loss``
    correct : scalar, number of correctly predicted real targets
    """

    def __init__(self, model, X, mask, y, deterministic, noise=None, weighting=None,
                 fused=False):
        inputs = {model.l_in: X}
        if model.masked:
            inputs[model.l_mask] = mask
        output_kwargs = dict(deterministic=deterministic)
        if noise is not None:
            output_kwargs.update(noise_key=noise[0], noise_row_offset=noise[1])
        floatx = pytensor.config.floatX
        if model.task == "lm":
            weights = mask if model.masked else pt.ones_like(X, dtype=floatx)
            self.row_targets = weights.sum(axis=1)
        else:
            weights = (mask.max(axis=1) if model.masked else pt.ones_like(y, dtype=floatx))
            self.row_targets = weights
        self.n_targets = self.row_targets.sum()
        self.objective = None
        if fused:
            self.row_loss = None
            self._fused_lm(model.l_out, inputs, output_kwargs, y, weights, weighting)
            return
        logits = get_output(model.l_out, inputs, **output_kwargs)
        predictions = pt.argmax(logits, axis=-1)
        if model.task == "lm":
            nll = target_nll(logits, y.flatten()).reshape(y.shape)
            self.row_loss = (nll * weights).sum(axis=1)
            hits = pt.eq(predictions.reshape(y.shape), y)
            self.correct = (hits * weights).sum()
        else:
            self.row_loss = target_nll(logits, y) * weights
            self.correct = (pt.eq(predictions, y) * weights).sum()
        self.loss_sum = self.row_loss.sum()
        if weighting is not None:
            self.objective = (self._row_scale(weighting) * self.row_loss).sum()

    def _fused_lm(self, output, inputs, output_kwargs, y, weights, weighting):
        """The terms from :func:`output_nll.dense_softmax_nll` on the output
        layer's input rows."""
        h = get_output(output.input_layer, inputs, **output_kwargs)
        token_weights = (None if weighting is None
                         else self._row_scale(weighting)[:, None] * weights)
        loss, self.loss_sum, self.correct = fused_output_nll(output, h, y, weights,
                                                             token_weights)
        if weighting is not None:
            self.objective = loss

    def _row_scale(self, weighting):
        return self.row_weights(weighting) if isinstance(weighting, str) else weighting

    def row_weights(self, weighting):
        """Per-sequence weights turning summed losses into the batch objective."""
        if weighting == "tokens":
            return pt.ones_like(self.row_targets) / self.n_targets
        if weighting == "sequences":
            real = pt.gt(self.row_targets, 0)
            rows = real.sum()
            return pt.switch(real, 1.0 / (pt.maximum(self.row_targets, 1) * rows), 0)
        raise ValueError("unknown weighting %r: expected one of %s"
                         % (weighting, ", ".join(WEIGHTINGS)))


def fuses_output(model, backend):
    """Whether step functions on ``backend`` compute ``model``'s output layer
    and cross-entropy as one op: a language model whose output layer
    :func:`fusable_output` accepts, on a backend that runs the op well."""
    return (model.task == "lm" and fusable_output(model.l_out)
            and backend not in UNFUSED_BACKENDS)


def fusable_output(layer):
    """Whether ``layer`` gives logits as a dense layer without nonlinearity
    over rows, which :func:`output_nll.dense_softmax_nll` can replace."""
    return (isinstance(layer, DenseLayer) and layer.num_leading_axes == 1
            and layer.nonlinearity is nonlinearities.identity
            and len(layer.input_shape) == 2)


def fused_output_nll(output, h, y, mask, weights=None):
    """``(objective, loss sum, correct)`` of the dense layer ``output`` on its
    input rows ``h`` (:func:`output_nll.dense_softmax_nll`), for targets
    ``y`` and ``mask`` of one shape; the objective (None without ``weights``,
    and then no gradients are computed) weighs each token by ``weights``."""
    b = output.b if output.b is not None else pt.zeros((output.num_units,), h.dtype)
    flat_weights = pt.zeros_like(mask.flatten()) if weights is None else weights.flatten()
    loss, loss_sum, correct = dense_softmax_nll(h, output.W, b, y.flatten(), mask.flatten(),
                                                flat_weights, grads=weights is not None)
    return (None if weights is None else loss), loss_sum, correct


def noise_input():
    """The symbolic noise input of a training step: ``[step key, first row]``
    (see :mod:`lasagne_lstm.layers.noise`)."""
    return pt.tensor(dtype="uint32", shape=(2,), name="noise")


def noise_value(step, row_offset=0):
    """The value of :func:`noise_input`: the update number and the index of
    the micro-batch's first row within its window."""
    return np.array([step, row_offset], dtype="uint32")


def symbolic_inputs(task, masked):
    """Symbolic (X, mask, y) of dynamic shape; mask is None when not ``masked``."""
    floatx = pytensor.config.floatX
    X = pt.imatrix("X")
    mask = pt.matrix("mask", dtype=floatx) if masked else None
    y = pt.imatrix("y") if task == "lm" else pt.ivector("y")
    return [X, mask, y]


class StepFunctions:
    """Training and evaluation functions for one model.

    The graphs, the update expressions (and so the optimizer's state
    variables) are built at construction; functions are compiled on first
    use (once per input shape on static-shape backends).

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
        # dropout masks are a function of the update number and the row
        # (an input of each training step), so resumes and both modes agree
        self.noisy = model.has_noise
        self._fused = fuses_output(model, backend)
        rule = UpdateRule(optimizer, learning_rate, max_grad_norm)
        self._evaluate = None
        if mode == "masked":
            inputs, terms = self._terms(True, weighting=weighting, fused=self._fused)
            self._train = masked_step(inputs, terms.objective, self.params, rule,
                                      outputs=[terms.loss_sum, terms.n_targets],
                                      backend=backend, name="train", lazy=True)
            self._steps = [self._train]
        else:
            self.accumulator = GradientAccumulator(self.params, rule, backend=backend)
            self.accumulators = self.accumulator.accumulators
            # one compute-grad function per input kind: padded and masked,
            # or (dynamic-shape backends) single sequences without a mask
            self._compute_grad = {}
            for masked in (True, False):
                if masked or not backends.needs_static_shapes(backend):
                    inputs, terms = self._terms(masked)
                    self._compute_grad[masked] = self.accumulator.compute_grad_function(
                        inputs, terms.row_loss, sums=[terms.loss_sum, terms.n_targets],
                        lazy=True)
            # and for micro-batches of several rows, a language model's
            # output layer with its weights' gradient in one op: a single
            # sequence's few rows gain more from the factored gradient
            # (core.FactoredGradient), which needs the product h.T @ dz
            if self._fused:
                scale = pt.vector("scale", dtype=pytensor.config.floatX)
                inputs, terms = self._terms(True, weighting=scale, fused=True)
                self._compute_grad["rows"] = self.accumulator.compute_grad_function(
                    inputs, terms.objective, sums=[terms.loss_sum, terms.n_targets],
                    lazy=True, scale=scale)
            self.accumulated_loss, self.accumulated_targets = self.accumulator.sums
            self._steps = [self.accumulator]
        self.learning_rate = rule.learning_rate
        self.optimizer_state = rule.state

    def _terms(self, masked, deterministic=False, **kwargs):
        X, mask, y = symbolic_inputs(self.task, masked)
        noise = noise_input() if self.noisy and not deterministic else None
        terms = LossTerms(self.model.variant(masked=masked), X, mask, y, deterministic,
                          noise, **kwargs)
        inputs = ([X, mask, y] if masked else [X, y]) + ([noise] if noise is not None else [])
        return inputs, terms

    def _noise(self, step, row_offset=0):
        return [noise_value(step, row_offset)] if self.noisy else []

    @property
    def last_update_applied(self):
        """Whether the latest update was applied (False when its loss,
        gradients or new values were not all finite; None before any)."""
        step = self._train if self.mode == "masked" else self.accumulator
        return step.last_applied

    # -- masked mode ---------------------------------------------------------
    def train(self, X, mask, y, step=0):
        """One masked update on a padded batch; returns (loss sum, targets).
        ``step`` (the update number) keys the dropout masks."""
        self._require("masked")
        _, loss_sum, n = self._train(X, mask, y, *self._noise(step))
        return float(loss_sum), float(n)

    # -- accumulation mode ---------------------------------------------------
    def compute_grad(self, X, mask, y, scale, step=0, row_offset=0):
        """Add ``scale``-weighted gradients of one micro-batch into the
        accumulators.

        ``mask`` is None for single unpadded sequences (the graph then has no
        mask at all; not on static-shape backends); ``scale`` holds one
        weight per row (0 for padding rows). ``step`` and ``row_offset`` (the
        micro-batch's first row within its window) key the dropout masks.
        Returns nothing: the gradients stay in the accumulators.
        """
        self._require("accumulate")
        noise = self._noise(step, row_offset)
        if mask is None:
            if False not in self._compute_grad:
                raise ValueError("the %s backend takes padded, masked micro-batches "
                                 "only" % self.backend)
            self._compute_grad[False](X, y, *noise, scale)
        else:
            self._masked_compute_grad(len(X))(X, mask, y, *noise, scale)

    def _masked_compute_grad(self, rows):
        """The compute-grad function for a padded, masked micro-batch of ``rows``."""
        if rows > 1 and "rows" in self._compute_grad:
            return self._compute_grad["rows"]
        return self._compute_grad[True]

    def apply_mean_grad(self):
        """Apply the accumulated (already averaged) gradient with the update
        rule and zero the accumulators; returns (loss sum, targets) of the
        window."""
        self._require("accumulate")
        _, loss_sum, n = self.accumulator.apply_mean_grad()
        return float(loss_sum), float(n)

    def accumulate_batch(self, batch, micro_batch=1, step=0):
        """One accumulation cycle over a batch: ``compute_grad`` on each
        sequence (``micro_batch=1``: unpadded, no mask) or micro-batch, then
        ``apply_mean_grad``. Returns (loss sum, targets).

        On static-shape backends (JAX) single sequences are padded to the
        batch's padded widths (``pad_multiple``, ``pad_growth``) and masked,
        so that a handful of lengths, not every length, needs its own
        compiled function.
        """
        self.accumulate_rows(batch, micro_batch, step, batch.lengths)
        return self.apply_mean_grad()

    def accumulate_rows(self, rows, micro_batch, step, window_lengths, row_offset=0,
                        pad_rows=None):
        """``compute_grad`` over ``rows``, a Batch holding some consecutive
        rows of a window whose real lengths are ``window_lengths``, starting
        at row ``row_offset``: the weights and dropout masks are the whole
        window's (see the module text), so that the rows' gradients, added
        up with the other rows' (in this process or others), make the
        window's gradient. Applies nothing.

        ``pad_rows``: rows of each padded micro-batch on static-shape
        backends (default ``micro_batch``).
        """
        window_lengths = np.asarray(window_lengths, dtype=float)
        window_rows = len(window_lengths)
        total = window_rows if self.task == "classify" else window_lengths.sum()

        def scales(lens, n_rows):
            """One weight per row of a micro-batch of ``n_rows`` rows, 0 for
            the padding rows after the real ``lens``."""
            weights = np.zeros(n_rows)
            if self.task == "classify":
                lens = np.ones(len(lens))
            if self.weighting == "tokens":
                weights[:len(lens)] = 1.0 / total
            else:
                weights[:len(lens)] = 1.0 / (np.asarray(lens, dtype=float) * window_rows)
            return floatX(weights)

        if micro_batch == 1 and not backends.needs_static_shapes(self.backend):
            for row, (x, y) in enumerate(rows.sequences(), start=row_offset):
                self.compute_grad(np.asarray(x, dtype="int32")[None, :], None,
                                  np.asarray(y, dtype="int32")[None, ...],
                                  scales([len(x)], 1), step, row)
        else:
            offset = row_offset
            for mb in rows.micro_batches(micro_batch, pad_rows):
                self.compute_grad(mb.X, mb.mask, mb.y,
                                  scales(mb.lengths, len(mb.X)), step, offset)
                offset += len(mb)

    def train_batch(self, batch, micro_batch=1, step=0):
        """Update ``step`` (0-based) on a batch in this object's mode; returns
        (loss sum, targets)."""
        if self.mode == "masked":
            return self.train(batch.X, batch.mask, batch.y, step)
        return self.accumulate_batch(batch, micro_batch, step)

    def _require(self, mode):
        if self.mode != mode:
            raise RuntimeError("these step functions were built for %s mode, "
                               "not %s mode" % (self.mode, mode))

    # -- evaluation ----------------------------------------------------------
    def evaluate(self, X, mask, y):
        """Loss sum, number of targets and number correct on a padded batch,
        with dropout off; never updates anything."""
        loss_sum, n, correct = self._evaluation_function()(X, mask, y)
        return float(loss_sum), float(n), float(correct)

    def _evaluation_function(self):
        if self._evaluate is None:
            inputs, terms = self._terms(True, deterministic=True,
                                        fused=self._fused)
            self._evaluate = function(inputs, [terms.loss_sum, terms.n_targets,
                                               terms.correct],
                                      backend=self.backend, name="evaluate", lazy=True)
        return self._evaluate

    # -- compiling ahead of use ------------------------------------------------
    def compile_ahead(self, batches, micro_batch=1, evaluation=()):
        """Compile, in background threads, the functions that training on
        ``batches`` (in this mode, with ``micro_batch``) and evaluating
        ``evaluation`` batches will call, in the order of their first use
        (:func:`lasagne_lstm.theano.compile.compile_ahead`). Returns its
        :class:`~lasagne_lstm.theano.compile.AheadOfUse` handle, or None when
        nothing needs compiling (every shape seen already, or a backend that
        compiles once for all shapes)."""
        from ..theano.compile import compile_ahead
        if not backends.needs_static_shapes(self.backend):
            return None
        calls = {}  # one (function, arguments) per function and shape, in order

        def need(fn, batch=None, extra=()):
            # the batch's arrays are built once per shape, not per batch
            shape = None if batch is None else (batch.rows, batch.width)
            key = (id(fn), shape, tuple(np.shape(a) for a in extra))
            if key not in calls:
                calls[key] = (fn, ([] if batch is None else self._placeholders(batch))
                              + list(extra))

        # the factored gradients' products: first needed at the first window's end
        folds = [] if self.mode == "masked" else [
            (f.function, rows) for f in self.accumulator.factored.values()
            for rows in f.signatures()]
        for batch in batches:
            if self.mode == "masked":
                need(self._train.function, batch, self._noise(0))
                continue
            for mb in batch.micro_batches(micro_batch):
                need(self._masked_compute_grad(mb.rows).function, mb,
                     self._noise(0) + [np.zeros(mb.rows, dtype=pytensor.config.floatX)])
            for fn, rows in folds:
                need(fn, extra=rows)
            folds = ()
            need(self.accumulator.apply_function())
        for batch in evaluation:
            need(self._evaluation_function(), batch)
        return compile_ahead(calls.values())

    def _placeholders(self, batch):
        """Arrays of the shapes (and types) of ``batch``'s ``X, mask, y``,
        without building the batch's own."""
        shape = (batch.rows, batch.width)
        X = np.zeros(shape, dtype="int32")
        y = X if self.task == "lm" else np.zeros(batch.rows, dtype="int32")
        return [X, np.zeros(shape, dtype=pytensor.config.floatX), y]

    def _functions(self):
        found = [f.function for f in self._steps if hasattr(f, "function")]
        for step in self._steps:
            if isinstance(step, GradientAccumulator):
                found.extend(step.functions)
        if self._evaluate is not None:
            found.append(self._evaluate)
        return found

    @property
    def compiled_functions(self):
        """How many functions have been compiled so far (one per shape on JAX)."""
        return sum(f.compiled for f in self._functions())

    @property
    def compile_seconds(self):
        """Seconds calls spent compiling so far (each function's first call
        included) or waiting for a compilation ahead of use."""
        return sum(f.compile_seconds for f in self._functions())

    @property
    def compile_ahead_seconds(self):
        """Seconds spent compiling in the background (:meth:`compile_ahead`)."""
        return sum(f.ahead_seconds for f in self._functions())


class StreamStepFunctions:
    """Truncated backpropagation over a token stream, state carried between
    windows (the setting of Zaremba et al. 2014).

    The model must be a stateful language model (``config['stateful']``):
    each window ``(X, y)`` of shape (batch, num_steps) starts from the final
    states of the previous window, passed in through the recurrent layers'
    layer-valued ``hid_init``/``cell_init`` and returned as arrays; the
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
        self.noisy = model.has_noise
        self._fused = fuses_output(model, backend)
        inputs, objective, loss_sum, finals = self._graph(deterministic=False)
        self._train = masked_step(inputs, objective, self.params,
                                  optimizer, learning_rate, max_grad_norm,
                                  outputs=[loss_sum] + finals, backend=backend,
                                  name="stream_train", lazy=True)
        self.learning_rate = self._train.learning_rate
        self.optimizer_state = self._train.optimizer_state
        inputs, _, loss_sum, finals = self._graph(deterministic=True)
        self._evaluate = function(inputs, [loss_sum] + finals, backend=backend,
                                  name="stream_evaluate", lazy=True)

    def _graph(self, deterministic):
        """``(inputs, objective, loss sum, final states)`` of a window."""
        from .models import final_states
        X, _, y = symbolic_inputs("lm", False)
        states = [pt.matrix(dtype=pytensor.config.floatX, name=layer.name)
                  for layer in self.model.state_inputs]
        inputs = {self.model.l_in: X}
        inputs.update(zip(self.model.state_inputs, states))
        noise = noise_input() if self.noisy and not deterministic else None
        noise_kwargs = {} if noise is None else dict(noise_key=noise[0],
                                                     noise_row_offset=noise[1])
        output = self.model.l_out
        top = output.input_layer if self._fused else output
        outputs = get_output([top] + self.model.recurrent_layers, inputs,
                             deterministic=deterministic, **noise_kwargs)
        if self._fused:
            every = pt.ones_like(y, dtype=pytensor.config.floatX)
            objective, loss_sum, _ = fused_output_nll(
                output, outputs[0], y, every, None if deterministic else every / X.shape[0])
        else:
            loss_sum = target_nll(outputs[0], y.flatten()).sum()
            objective = loss_sum / X.shape[0]
        return ([X, y] + states + ([noise] if noise is not None else []), objective,
                loss_sum, final_states(self.model, outputs[1:]))

    def initial_states(self, batch_size):
        """Zero states for the first window."""
        return [np.zeros((batch_size, self.model.config["hidden"]),
                         dtype=pytensor.config.floatX)
                for _ in self.model.state_inputs]

    @property
    def last_update_applied(self):
        """Whether the latest update was applied (see :class:`StepFunctions`)."""
        return self._train.last_applied

    def train(self, X, y, states, step=0):
        """Update ``step`` on a window; returns (loss sum, tokens, final states)."""
        noise = [noise_value(step)] if self.noisy else []
        _, loss_sum, *finals = self._train(X, y, *states, *noise)
        return float(loss_sum), float(np.size(y)), finals

    def evaluate(self, X, y, states):
        """Loss sum, tokens and final states of a window (dropout off, no update)."""
        loss_sum, *finals = self._evaluate(X, y, *states)
        return float(loss_sum), float(np.size(y)), finals

    @property
    def compiled_functions(self):
        return self._train.compiled_functions + self._evaluate.compiled

    @property
    def compile_seconds(self):
        return self._train.compile_seconds + self._evaluate.compile_seconds

    #: Stream windows compile on their first update, never ahead of use.
    compile_ahead_seconds = 0.0
