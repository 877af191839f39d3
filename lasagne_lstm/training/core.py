"""The step core: the two training modes for any network and loss.

**Masked mode** (:func:`masked_step`) compiles one function doing forward,
backward and the update on a padded batch::

    train = masked_step([X, mask, y], (row_loss, row_tokens), params,
                        updates.adam, learning_rate=1e-3)
    objective = train(X_batch, mask_batch, y_batch)

**Accumulation mode** (:func:`accumulation_functions`) compiles two functions
sharing accumulators that stay on the device::

    compute_grad, apply_mean_grad = accumulation_functions(
        [x, y], row_loss, params, updates.sgd, learning_rate=0.1)
    for x_i, y_i in window:
        compute_grad(x_i, y_i, scale_i)   # adds grad(sum_i scale_i * loss_i)
    apply_mean_grad()                     # one update, accumulators zeroed

``compute_grad`` returns nothing; ``apply_mean_grad`` hands the accumulated
gradient to the update rule (through its gradient-list form) and zeros the
accumulators.

When one accumulation cycle equals one masked step
--------------------------------------------------
For a window of rows with per-row loss sums ``l_i`` and real-token counts
``n_i``, the masked step minimises ``L = Σ_i l_i / Σ_i n_i``. An accumulation
cycle over the same rows gives the same gradient, and so the same update
with any rule, when each row's ``scale`` is ``1 / Σ_i n_i`` over the *whole
window* (for a per-sequence mean, ``1 / (n_i · rows)``). The scale has to be
known before differentiation: Lasagne's per-step ``grad_clipping`` clips the
gate gradients at every step, which is not linear, so dividing an
accumulated sum afterwards gives another update as soon as a clip is active.
Dropout breaks the equality too, unless both modes draw the same masks.

Large dense weights: rows instead of products
---------------------------------------------
A call on one sequence gives a dense layer's weight gradient ``A.T @ B``
from a few rows of ``A`` (the layer's inputs) and ``B`` (its outputs'
gradient); forming that ``k x n`` matrix and adding it into the accumulator
costs ``k x n`` reads and writes per call whatever the rows. For parameters
of at least :data:`FACTORED_MIN_SIZE` values (a 10k-way output layer), on
the host's CPU, ``compute_grad`` returns the rows instead and
:class:`FactoredGradient` adds them :data:`FOLD_ROWS` at a time; the
accumulator holds the whole sum after :meth:`GradientAccumulator.fold`,
which ``apply_mean_grad`` (and the MPI all-reduce) calls first.

On a static-shape backend (JAX) every function is compiled once per
signature of input shapes (:func:`lasagne_lstm.theano.function`).
"""
import inspect
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.tensor.math import Dot

from .. import backends, updates
from ..theano import function
from ..utils import floatX
from .cycle_constants import MIN_SIZE as CYCLE_CONSTANT_MIN_SIZE, CycleConstants

__all__ = ["OPTIMIZERS", "DEFAULT_LEARNING_RATES", "UpdateRule", "masked_step",
           "MaskedStep", "GradientAccumulator", "FactoredGradient",
           "accumulation_functions", "guard_updates", "product_factors"]

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
#: Each named rule's default learning rate in the training framework
#: (Lasagne's, where it has one; rmsprop's 1.0 is rarely usable, so 1e-3).
DEFAULT_LEARNING_RATES = {"sgd": 1.0, "momentum": 0.1, "nesterov_momentum": 0.1,
                          "adagrad": 1.0, "rmsprop": 1e-3, "adadelta": 1.0,
                          "adam": 1e-3, "adamax": 2e-3, "amsgrad": 1e-3}


class UpdateRule:
    """An update rule of :mod:`lasagne_lstm.updates` with its learning rate
    in a shared variable (so schedules change it without recompiling) and an
    optional global gradient-norm clip.

    Parameters
    ----------
    rule : str or callable
        A name of :data:`OPTIMIZERS` or a rule ``rule(grads, params,
        learning_rate=..., **kwargs)`` (any of :mod:`lasagne_lstm.updates`,
        or a ``functools.partial`` of one).
    learning_rate : float, optional
        Default: the named rule's :data:`DEFAULT_LEARNING_RATES` entry, or
        the callable's own default.
    max_grad_norm : float, optional
        Rescale the gradients to at most this global norm
        (:func:`lasagne_lstm.updates.total_norm_constraint`) first.
    **kwargs
        More hyperparameters of the rule (``momentum``, ``beta1``, ...).

    Attributes
    ----------
    learning_rate : shared scalar
    state : list of shared variables
        The rule's own variables (moments, step count), in the rule's
        deterministic order, once :meth:`updates` has been called.
    """

    def __init__(self, rule="sgd", learning_rate=None, max_grad_norm=None, **kwargs):
        if isinstance(rule, str):
            if rule not in OPTIMIZERS:
                raise ValueError("unknown optimizer %r: expected one of %s"
                                 % (rule, ", ".join(OPTIMIZERS)))
            if learning_rate is None:
                learning_rate = DEFAULT_LEARNING_RATES[rule]
            rule = OPTIMIZERS[rule]
        elif not callable(rule):
            raise TypeError("an update rule is a name or a callable, not %r" % (rule,))
        if learning_rate is None:
            learning_rate = _default_learning_rate(rule)
        if not np.isfinite(float(learning_rate)):
            raise ValueError("the learning rate must be finite, not %r" % (learning_rate,))
        self.rule = rule
        self.kwargs = kwargs
        self.max_grad_norm = max_grad_norm
        self.learning_rate = pytensor.shared(floatX(learning_rate), name="learning_rate")
        self.state = []

    def updates(self, grads, params):
        """The rule's updates of ``params`` given their gradients ``grads``."""
        grads = list(grads)
        if self.max_grad_norm:
            grads = updates.total_norm_constraint(grads, self.max_grad_norm)
        result = self.rule(grads, params, learning_rate=self.learning_rate, **self.kwargs)
        params = set(params)
        self.state = [v for v in result if v not in params]
        return result


def _default_learning_rate(rule):
    try:
        parameter = inspect.signature(rule).parameters.get("learning_rate")
    except (TypeError, ValueError):
        parameter = None
    if parameter is None or parameter.default is inspect.Parameter.empty:
        raise ValueError("%s has no default learning rate: give learning_rate"
                         % getattr(rule, "__name__", "the update rule"))
    return parameter.default


def _as_rule(update_rule, learning_rate, max_grad_norm, kwargs):
    if isinstance(update_rule, UpdateRule):
        if learning_rate is not None or max_grad_norm is not None or kwargs:
            raise ValueError("give learning_rate, max_grad_norm and the rule's "
                             "settings to the UpdateRule itself")
        return update_rule
    return UpdateRule(update_rule, learning_rate, max_grad_norm, **kwargs)


def _objective(loss):
    """The scalar a masked step minimises: ``loss`` itself, or ``Σ row_loss /
    Σ row_counts`` for a ``(row_loss, row_counts)`` pair."""
    if isinstance(loss, (tuple, list)):
        if len(loss) != 2:
            raise ValueError("loss is a scalar or a (row_loss, row_counts) pair")
        row_loss, row_counts = (pt.as_tensor_variable(v) for v in loss)
        return row_loss.sum() / row_counts.sum()
    loss = pt.as_tensor_variable(loss)
    if loss.ndim != 0:
        raise ValueError("loss must be a scalar or a (row_loss, row_counts) pair, "
                         "not a %d-d tensor" % loss.ndim)
    return loss


def guard_updates(updates, checked):
    """Updates that take effect only when everything is finite.

    Parameters
    ----------
    updates : OrderedDict
        shared variable -> new value (parameters and the rule's state).
    checked : list of tensors
        More values that must be finite (the loss, the gradients).

    Returns
    -------
    (OrderedDict, bool scalar tensor)
        Each update becomes ``switch(finite, new, old)``, so a non-finite
        loss, gradient or new value leaves every parameter and every state
        variable as it was; ``finite`` says whether the update was applied.

    Notes
    -----
    ``finite`` says whether every floating-point array's sum is finite: NaN
    and infinities carry through sums, and one sum per array costs a single
    reduction, where ``all(isfinite(v))`` makes XLA write a boolean array
    and reduce it (the check then took 18% of a masked step's CPU time on
    JAX: ``python benchmarks/profile_steps.py``). A sum that overflows (values
    near the float type's limit, a run that has diverged in any case) counts
    as not finite too.
    """
    floatx = pytensor.config.floatX
    sums = [pt.cast(pt.sum(v), floatx) for v in list(checked) + list(updates.values())
            if pt.as_tensor_variable(v).dtype.startswith(("float", "complex"))]
    # the per-array sums checked as one small vector, not added up: PyTensor
    # rewrites a sum of many scalars into one add of all of them, which its
    # Python-mode Elemwise cannot run (NumPy ufuncs take at most 32 inputs)
    finite = pt.all(pt.isfinite(pt.stack(sums))) if sums else pt.as_tensor_variable(True)
    guarded = OrderedDict((var, pt.switch(finite, new, var)) for var, new in updates.items())
    return guarded, finite


def _trainable(params):
    params = list(params)
    if not params:
        raise ValueError("no parameters to train")
    return params


class MaskedStep:
    """One compiled training update (see :func:`masked_step`); call it with
    the inputs' values.

    Attributes
    ----------
    params : list of shared variables
    learning_rate : shared scalar
    optimizer_state : list of shared variables (saved in checkpoints)
    function : :class:`lasagne_lstm.theano.compile.BackendFunction`
    """

    def __init__(self, inputs, loss, params, rule, outputs=None, backend=None,
                 name="train", givens=None, lazy=False):
        self.params = _trainable(params)
        self.rule = rule
        objective = _objective(loss)
        grads = pytensor.grad(objective, self.params)
        upd, finite = guard_updates(rule.updates(grads, self.params), [objective] + grads)
        self.learning_rate = rule.learning_rate
        self.optimizer_state = rule.state
        self._single = outputs is None
        returned = [objective] + list(outputs or []) + [finite]
        self.function = function(list(inputs), returned, updates=upd, givens=givens,
                                 backend=backend, name=name, lazy=lazy)
        self.last_applied = None

    def __call__(self, *args):
        *returned, finite = self.function(*args)
        self.last_applied = bool(finite)
        return returned[0] if self._single else returned

    @property
    def compiled_functions(self):
        return self.function.compiled

    @property
    def compile_seconds(self):
        return self.function.compile_seconds


def masked_step(inputs, loss, params, update_rule="sgd", learning_rate=None,
                max_grad_norm=None, outputs=None, backend=None, name="train",
                givens=None, lazy=False, **rule_kwargs):
    """Compile one training update: forward, backward and the update rule.

    Parameters
    ----------
    inputs : list of symbolic variables
        The function's arguments (e.g. ``[X, mask, y]``).
    loss : scalar tensor, or a pair ``(row_loss, row_counts)``
        What is minimised: a ready scalar, or per-row loss sums and per-row
        target counts (real tokens) whose ratio of sums is minimised.
    params : list of shared variables
        The trainable parameters (``get_all_params(net, trainable=True)``).
    update_rule : str, callable or :class:`UpdateRule`
        A rule of :mod:`lasagne_lstm.updates` (or its name).
    learning_rate, max_grad_norm, **rule_kwargs
        See :class:`UpdateRule`.
    outputs : list of tensors, optional
        Returned after the objective (e.g. the loss sum and target count).
    backend : str, optional
        A backend of :mod:`lasagne_lstm.backends` (default: the project's).
    name, givens, lazy
        As for :func:`lasagne_lstm.theano.function`.

    Returns
    -------
    MaskedStep
        ``train(*values)`` returns the objective (before the update), or
        ``[objective, *outputs]`` when ``outputs`` are given. An update whose
        objective, gradients or new values are not all finite is not applied
        (see :func:`guard_updates`); ``train.last_applied`` tells.
    """
    rule = _as_rule(update_rule, learning_rate, max_grad_norm, rule_kwargs)
    return MaskedStep(inputs, loss, params, rule, outputs=outputs, backend=backend,
                      name=name, givens=givens, lazy=lazy)


#: Parameters with at least this many values whose gradient is one matrix
#: product are accumulated as the rows of its factors
#: (:class:`FactoredGradient`), when the step runs on the host's CPU.
FACTORED_MIN_SIZE = 2 ** 20
#: Rows of the factors added into an accumulator by one product.
FOLD_ROWS = 512
#: On static-shape backends the last product of a window pads its rows up
#: to a multiple of this, so that a handful of shapes is compiled.
FOLD_MULTIPLE = 64


def product_factors(grad):
    """``(A, B)`` with ``grad == A.T @ B`` when ``grad`` is a single product
    of two matrices (a dense layer's weight gradient: ``A`` holds the rows of
    its input, ``B`` the gradient rows of its output), else None."""
    node = grad.owner
    if node is None or not isinstance(node.op, Dot):
        return None
    left, right = node.inputs
    if left.ndim != 2 or right.ndim != 2:
        return None
    return left.T, right


class FactoredGradient:
    """One parameter's accumulated gradient ``Σ A.T @ B``, kept as the rows
    of ``A`` and ``B`` that each call gives and added into the parameter's
    accumulator ``FOLD_ROWS`` rows at a time by a compiled product.

    Why: a call on one sequence gives a few rows, and forming their ``k x n``
    product and adding it into the accumulator reads and writes ``k x n``
    values per call (for a 10k-way output layer, 10 MB twice, about 40% of
    single-sequence ``compute_grad`` in ``benchmarks/output_layer_floor.py``).
    Kept rows cost ``rows x (k + n)`` values and the products their rows'
    arithmetic only, as in a masked step. The sum is the same; only the
    order of the additions differs.

    Parameters
    ----------
    accumulator : shared variable
        The parameter's accumulator, a ``k x n`` matrix.
    backend : str, optional
        The backend of the product (static shapes: the last rows of a window
        are padded with zero rows to a multiple of :data:`FOLD_MULTIPLE`).
    """

    def __init__(self, accumulator, backend=None):
        self.accumulator = accumulator
        self.static = backends.needs_static_shapes(backend or backends.default_backend())
        left = pt.matrix("rows.left", dtype=accumulator.dtype)
        right = pt.matrix("rows.right", dtype=accumulator.dtype)
        self.function = function(
            [left, right], [], updates={accumulator: accumulator + pt.dot(left.T, right)},
            backend=backend, name="fold." + (accumulator.name or "accumulator"), lazy=True)
        self._left, self._right = [], []
        self.rows = 0

    def keep(self, left, right):
        """Keep one call's rows (host arrays of ``r x k`` and ``r x n``);
        adds every full ``FOLD_ROWS`` into the accumulator."""
        self._left.append(left)
        self._right.append(right)
        self.rows += len(left)
        while self.rows >= FOLD_ROWS:
            self._add(FOLD_ROWS)

    def fold(self):
        """Add every kept row into the accumulator."""
        if self.rows:
            self._add(self.rows)

    def signatures(self):
        """Arguments of every shape :meth:`fold` and :meth:`keep` can pass to
        the compiled product on a static-shape backend, for compiling ahead
        of use (none on dynamic-shape backends, which compile once). They
        are zero-stride views: only their shapes and types are read."""
        if not self.static:
            return []
        k, n = self.accumulator.get_value(borrow=True).shape
        zero = np.zeros((), self.accumulator.dtype)
        return [[np.broadcast_to(zero, (r, k)), np.broadcast_to(zero, (r, n))]
                for r in range(FOLD_MULTIPLE, FOLD_ROWS + 1, FOLD_MULTIPLE)]

    def _add(self, count):
        padded = count
        if self.static:
            padded = min(FOLD_ROWS, -(-count // FOLD_MULTIPLE) * FOLD_MULTIPLE)
        # new arrays every time: a backend that runs asynchronously (JAX)
        # may still be reading the last ones
        left = np.empty((padded,) + tuple(self._left[0].shape[1:]), self._left[0].dtype)
        right = np.empty((padded,) + tuple(self._right[0].shape[1:]), self._right[0].dtype)
        left[count:] = 0
        right[count:] = 0
        filled = 0
        while filled < count:
            a, b = np.asarray(self._left[0]), np.asarray(self._right[0])
            take = min(len(a), count - filled)
            left[filled:filled + take] = a[:take]
            right[filled:filled + take] = b[:take]
            filled += take
            if take == len(a):
                del self._left[0], self._right[0]
            else:
                self._left[0], self._right[0] = a[take:], b[take:]
        self.rows -= count
        self.function(left, right)


class GradientAccumulator:
    """Accumulators for the gradients of ``params``, the functions that add
    into them (:meth:`compute_grad_function`, one per kind of input) and the
    function that applies their sum (:meth:`apply_mean_grad`).

    The accumulated objective ``Σ scale_i · loss_i`` and any number of
    scalar sums (e.g. loss sums and token counts) are kept beside the
    gradients and returned by :meth:`apply_mean_grad`.

    Parameters
    ----------
    params : list of shared variables
    update_rule : str, callable or :class:`UpdateRule`
    learning_rate, max_grad_norm, **rule_kwargs
        See :class:`UpdateRule`.
    backend : str, optional
    factored_min_size : int or None
        Parameters with at least this many values whose gradient is one
        matrix product are accumulated as the product's rows
        (:class:`FactoredGradient`) when the backend runs on the host's CPU;
        None never does. Their accumulators hold the sum after
        :meth:`fold` (which :meth:`apply_mean_grad` calls).
    constant_min_size : int or None
        Rearrangements of the parameters alone (transposes, concatenations)
        of at least this many values are computed once per cycle, not per
        call (:class:`~lasagne_lstm.training.cycle_constants.CycleConstants`);
        None keeps them in every call.

    Attributes
    ----------
    accumulators : list of shared variables, one per parameter
    factored : dict
        Parameter index -> :class:`FactoredGradient`, for the parameters
        accumulated as rows.
    constants : CycleConstants or None
        The rearrangements computed once per cycle.
    accumulated_objective : shared scalar
    sums : list of shared scalars (see :meth:`compute_grad_function`)
    learning_rate, optimizer_state
        As for :class:`MaskedStep`.
    """

    def __init__(self, params, update_rule="sgd", learning_rate=None,
                 max_grad_norm=None, backend=None, factored_min_size=FACTORED_MIN_SIZE,
                 constant_min_size=CYCLE_CONSTANT_MIN_SIZE, **rule_kwargs):
        self.params = _trainable(params)
        self.backend = backend
        self.factored_min_size = factored_min_size
        self.factored = {}
        self.constants = (None if constant_min_size is None else
                          CycleConstants(self.params, backend, constant_min_size))
        self.accumulators = [
            pytensor.shared(np.zeros_like(p.get_value()), shape=p.type.shape,
                            name="accumulated." + (p.name or "param"))
            for p in self.params]
        self.accumulated_objective = pytensor.shared(floatX(0.0),
                                                     name="accumulated.objective")
        self.sums = None
        self.rule = _as_rule(update_rule, learning_rate, max_grad_norm, rule_kwargs)
        # the accumulated gradient is the rule's gradient
        self._updates = self.rule.updates(self.accumulators, self.params)
        self.learning_rate = self.rule.learning_rate
        self.optimizer_state = self.rule.state
        self._compute_grads = []
        self._apply = None
        self.last_applied = None

    def compute_grad_function(self, inputs, loss, sums=(), name="compute_grad",
                              givens=None, lazy=False, scale=None):
        """Compile ``compute_grad(*inputs, scale)`` adding the gradient of
        ``Σ_i scale_i · loss_i`` into the accumulators; returns nothing.

        Parameters
        ----------
        inputs : list of symbolic variables
        loss : tensor
            Per-row losses (a vector; ``scale`` is then one weight per row)
            or a scalar (``scale`` a scalar).
        sums : list of scalar tensors
            Added into :attr:`sums` at every call. Every compute-grad
            function of one accumulator gives the same number of sums.
        name, givens, lazy
            As for :func:`lasagne_lstm.theano.function`.
        scale : tensor, optional
            The symbolic ``scale`` input, when ``loss`` is already the
            weighted scalar ``Σ_i scale_i · loss_i`` built with it (a loss
            whose gradient is computed with its weights, as
            :mod:`lasagne_lstm.training.output_nll` does).
        """
        loss = pt.as_tensor_variable(loss)
        if loss.ndim > 1:
            raise ValueError("loss must be per-row (a vector) or a scalar, not %d-d"
                             % loss.ndim)
        if scale is not None and loss.ndim:
            raise ValueError("with its scale given, loss must be the weighted scalar")
        sums = [pt.as_tensor_variable(s) for s in sums]
        if self.sums is None:
            self.sums = [pytensor.shared(floatX(0.0), name="accumulated.sum%d" % k)
                         for k in range(len(sums))]
        elif len(sums) != len(self.sums):
            raise ValueError("this accumulator keeps %d sums, not %d"
                             % (len(self.sums), len(sums)))
        if scale is None:
            scale = pt.tensor(dtype=pytensor.config.floatX, shape=(None,) * loss.ndim,
                              name="scale")
            weighted = (scale * loss).sum()
        else:
            weighted = loss
        grads = pytensor.grad(weighted, self.params)
        upd = OrderedDict()
        rows, kept = [], []  # the factors' rows returned, and by whom kept
        for index, (acc, g) in enumerate(zip(self.accumulators, grads)):
            factors = self._factors(index, g)
            if factors is None:
                upd[acc] = acc + g
            else:
                rows.extend(factors)
                kept.append(self.factored[index])
        upd[self.accumulated_objective] = self.accumulated_objective + weighted
        for total, value in zip(self.sums, sums):
            upd[total] = total + value
        constants = self.constants
        if constants is not None:
            new = constants.substitute(rows + list(upd.values()))
            rows, upd = new[:len(rows)], OrderedDict(zip(upd, new[len(rows):]))
        # the rows stay JAX arrays until a product needs them, so that a
        # call does not wait for its own end
        fn = function(list(inputs) + [scale], rows, updates=upd, givens=givens,
                      backend=self.backend, name=name, lazy=lazy, device_outputs=True)
        self._compute_grads.append(fn)

        def compute_grad(*args):
            if constants is not None:
                constants.refresh()
            values = fn(*args)
            for k, factored in enumerate(kept):
                factored.keep(values[2 * k], values[2 * k + 1])
        compute_grad.function = fn
        return compute_grad

    def _factors(self, index, grad):
        """The factors' rows ``(A, B)`` of parameter ``index``'s gradient
        when it is accumulated as rows (see ``factored_min_size``), else
        None."""
        size = self.accumulators[index].get_value(borrow=True).size
        if self.factored_min_size is None or size < self.factored_min_size:
            return None
        factors = product_factors(grad)
        if factors is None or not backends.runs_on_host(self.backend):
            return None
        if index not in self.factored:
            self.factored[index] = FactoredGradient(self.accumulators[index], self.backend)
        return factors

    def fold(self):
        """Add the rows kept for the factored parameters into their
        accumulators, which then hold the whole accumulated gradient."""
        for factored in self.factored.values():
            factored.fold()

    def apply_mean_grad(self):
        """Apply the accumulated gradient with the update rule, zero the
        accumulators; returns the accumulated objective, or ``[objective,
        *sums]`` when the accumulator keeps sums. A non-finite objective,
        gradient or new value skips the update (the accumulators are zeroed
        all the same); ``last_applied`` tells."""
        apply = self.apply_function()
        self.fold()
        *result, finite = apply()
        self.last_applied = bool(finite)
        if self.constants is not None:
            self.constants.changed()  # C and Numba may update in place
        if not self.sums:
            return result[0]
        return result

    def apply_function(self):
        """The compiled function behind :meth:`apply_mean_grad` (built on
        first use)."""
        if self._apply is None:
            self._apply = self._build_apply_function()
        return self._apply

    def _build_apply_function(self):
        totals = [self.accumulated_objective] + list(self.sums or [])
        upd, finite = guard_updates(self._updates, [self.accumulated_objective]
                                    + self.accumulators)
        for var in self.accumulators + totals:
            upd[var] = pt.zeros_like(var)
        return function([], totals + [finite], updates=upd, backend=self.backend,
                        name="apply_mean_grad", lazy=True)

    @property
    def functions(self):
        folds = [f.function for f in self.factored.values()]
        constants = ([self.constants.function] if self.constants is not None
                     and self.constants.function is not None else [])
        return (self._compute_grads + folds + constants
                + ([self._apply] if self._apply is not None else []))

    @property
    def compiled_functions(self):
        return sum(f.compiled for f in self.functions)

    @property
    def compile_seconds(self):
        return sum(f.compile_seconds for f in self.functions)


class Accumulation(tuple):
    """``(compute_grad, apply_mean_grad)``, unpacked like a pair, with the
    :class:`GradientAccumulator` behind them as ``.accumulator``."""

    def __new__(cls, accumulator, compute_grad):
        pair = super().__new__(cls, (compute_grad, accumulator.apply_mean_grad))
        pair.accumulator = accumulator
        return pair


def accumulation_functions(inputs, loss, params, update_rule="sgd",
                           learning_rate=None, max_grad_norm=None, sums=(),
                           backend=None, givens=None, **rule_kwargs):
    """Compile N-step gradient accumulation: ``compute_grad`` and
    ``apply_mean_grad``, two separately compiled functions.

    Parameters
    ----------
    inputs : list of symbolic variables
        ``compute_grad``'s arguments, before its last one, ``scale``.
    loss : tensor
        Per-row losses (a vector) or one scalar per call.
    params, update_rule, learning_rate, max_grad_norm, **rule_kwargs
        As for :func:`masked_step`.
    sums : list of scalar tensors
        Summed over the calls and returned by ``apply_mean_grad`` after the
        objective.

    Returns
    -------
    Accumulation
        ``compute_grad, apply_mean_grad = accumulation_functions(...)``:

        * ``compute_grad(*values, scale)`` adds the gradient of
          ``Σ_i scale_i · loss_i`` (``scale · loss`` for a scalar loss) into
          on-device accumulators and returns nothing;
        * ``apply_mean_grad()`` applies the accumulated gradient with the
          update rule, zeros the accumulators and returns the accumulated
          objective (``[objective, *sums]`` with ``sums``).

        With ``scale = 1 / N`` over N calls the update uses the mean
        gradient; see the module text for when a cycle equals a masked step.
    """
    accumulator = GradientAccumulator(params, update_rule, learning_rate,
                                      max_grad_norm, backend=backend, **rule_kwargs)
    compute_grad = accumulator.compute_grad_function(inputs, loss, sums, givens=givens)
    return Accumulation(accumulator, compute_grad)
