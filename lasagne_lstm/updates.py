"""Update rules for gradient-based training (``lasagne.updates``).

Every rule takes either a scalar loss expression or a list of gradient
expressions (one per parameter), plus the list of parameters to train, and
returns an :class:`~collections.OrderedDict` mapping each shared variable to
its update expression, ready for ``pytensor.function(..., updates=...)``.

Rules that keep state (velocities, running averages, moment estimates) create
one zero-initialised shared variable per parameter and kind of state, with the
parameter's shape, dtype and static shape (hence broadcast pattern). In the
returned dictionary a parameter's state variables come before the parameter
itself. Rules with a time step (:func:`adam`, :func:`adamax`, :func:`amsgrad`)
add the shared step counter ``t`` (a floatX scalar starting at 0) last.

``learning_rate`` and the other hyperparameters may be Python numbers or
symbolic scalars (for instance a shared variable, so that a schedule can change
the learning rate between calls). They are cast to each parameter's dtype, so a
float32 parameter gets a float32 update expression whatever ``floatX`` is.

The ``apply_*`` functions modify an existing dictionary of updates, so that
momentum can be combined with any other rule::

    updates = sgd(loss, params, learning_rate=0.1)
    updates = apply_momentum(updates, params, momentum=0.9)

Functions
---------
get_or_compute_grads, sgd, apply_momentum, momentum, apply_nesterov_momentum,
nesterov_momentum, adagrad, rmsprop, adadelta, adam, adamax, amsgrad,
norm_constraint, total_norm_constraint
"""
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Variable

from . import utils

__all__ = [
    "get_or_compute_grads",
    "sgd",
    "apply_momentum",
    "momentum",
    "apply_nesterov_momentum",
    "nesterov_momentum",
    "adagrad",
    "rmsprop",
    "adadelta",
    "adam",
    "adamax",
    "amsgrad",
    "norm_constraint",
    "total_norm_constraint",
]


# ---------------------------------------------------------------------------
# helpers (private)
# ---------------------------------------------------------------------------

def _as_dtype(value, dtype):
    """``value`` (a number or a symbolic scalar) as an expression of ``dtype``."""
    if isinstance(value, Variable):
        return value if value.dtype == dtype else pt.cast(value, dtype)
    return pt.constant(np.asarray(value, dtype=dtype))


def _float_dtype(var):
    """``var``'s dtype when it is a float type, else ``floatX``."""
    dtype = getattr(var, "dtype", None)
    if dtype is not None and np.dtype(dtype).kind == "f":
        return dtype
    return pytensor.config.floatX


def _zeros_like(param):
    """A zero shared variable with ``param``'s shape, dtype and static shape."""
    value = param.get_value(borrow=True)
    return pytensor.shared(np.zeros(value.shape, dtype=value.dtype),
                           shape=param.type.shape)


def _step_counter():
    """The shared time step ``t`` (floatX scalar, starting at 0)."""
    return pytensor.shared(utils.floatX(0.))


# ---------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------

def get_or_compute_grads(loss_or_grads, params):
    """Return the gradients of a loss, or check and pass on given gradients.

    Parameters
    ----------
    loss_or_grads : symbolic scalar or list of symbolic expressions
        A scalar loss, whose gradients with respect to ``params`` are computed
        with ``pytensor.grad``, or a list of gradient expressions, one per
        parameter, returned unchanged.
    params : list of shared variables
        The parameters the gradients belong to.

    Returns
    -------
    list of symbolic expressions
        One gradient per parameter, in the order of ``params``.

    Raises
    ------
    ValueError
        If a parameter is not a shared variable (an arbitrary expression
        cannot be updated; :func:`lasagne_lstm.utils.collect_shared_vars`
        extracts the shared variables it depends on), or if a list of
        gradients does not have one entry per parameter.
    """
    params = list(params)
    if any(not isinstance(p, SharedVariable) for p in params):
        raise ValueError("params must contain shared variables only; an "
                         "arbitrary expression cannot be updated. "
                         "lasagne_lstm.utils.collect_shared_vars() returns "
                         "the shared variables an expression depends on.")
    if isinstance(loss_or_grads, (list, tuple)):
        if len(loss_or_grads) != len(params):
            raise ValueError("Got %d gradient expressions for %d parameters; "
                             "pass exactly one gradient per parameter."
                             % (len(loss_or_grads), len(params)))
        return list(loss_or_grads)
    return pytensor.grad(loss_or_grads, params)


# ---------------------------------------------------------------------------
# plain gradient descent and momentum
# ---------------------------------------------------------------------------

def sgd(loss_or_grads, params, learning_rate):
    r"""Stochastic gradient descent (SGD).

    Each parameter takes a step against its gradient:

    .. math:: p \leftarrow p - \eta\, g

    Parameters
    ----------
    loss_or_grads : symbolic scalar or list of symbolic expressions
        A scalar loss or one gradient expression per parameter.
    params : list of shared variables
        The parameters to update.
    learning_rate : float or symbolic scalar
        The step size :math:`\eta`.

    Returns
    -------
    OrderedDict
        ``{param: updated param}``, in the order of ``params``.
    """
    grads = get_or_compute_grads(loss_or_grads, params)
    updates = OrderedDict()
    for param, grad in zip(params, grads):
        lr = _as_dtype(learning_rate, param.dtype)
        updates[param] = param - lr * grad
    return updates


def apply_momentum(updates, params=None, momentum=0.9):
    r"""Add classical momentum to an existing dictionary of updates.

    For each parameter :math:`p` with proposed new value
    :math:`u = \mathrm{updates}[p]`, a velocity :math:`v` (starting at zero)
    is kept, and

    .. math::

        x &= \mu v + u \\
        v &\leftarrow x - p \\
        p &\leftarrow x

    With :func:`sgd`'s :math:`u = p - \eta g` this is
    :math:`v \leftarrow \mu v - \eta g`, :math:`p \leftarrow p + v`.

    Parameters
    ----------
    updates : OrderedDict
        Updates to build on; it is copied, not modified.
    params : iterable of shared variables, optional
        The parameters to apply momentum to; by default every key of
        ``updates``.
    momentum : float or symbolic scalar, optional
        The momentum :math:`\mu` (default 0.9): how much of the previous step
        is kept.

    Returns
    -------
    OrderedDict
        A copy of ``updates`` with the parameters' entries replaced (keeping
        their positions) and one velocity entry per parameter appended.

    See Also
    --------
    momentum : :func:`sgd` followed by this function.

    Notes
    -----
    Higher momentum means a larger effective step size; consider lowering the
    learning rate when raising the momentum.
    """
    if params is None:
        params = list(updates.keys())
    updates = OrderedDict(updates)
    for param in params:
        velocity = _zeros_like(param)
        mu = _as_dtype(momentum, param.dtype)
        x = mu * velocity + updates[param]
        updates[velocity] = x - param
        updates[param] = x
    return updates


def momentum(loss_or_grads, params, learning_rate, momentum=0.9):
    r"""Stochastic gradient descent with classical momentum.

    .. math::

        v &\leftarrow \mu v - \eta g \\
        p &\leftarrow p + v

    Parameters
    ----------
    loss_or_grads : symbolic scalar or list of symbolic expressions
        A scalar loss or one gradient expression per parameter.
    params : list of shared variables
        The parameters to update.
    learning_rate : float or symbolic scalar
        The step size :math:`\eta`.
    momentum : float or symbolic scalar, optional
        The momentum :math:`\mu` (default 0.9).

    Returns
    -------
    OrderedDict
        The parameters' updates (in the order of ``params``) followed by the
        velocities' updates.

    See Also
    --------
    apply_momentum : adds momentum to any updates dictionary.

    References
    ----------
    .. [1] Sutskever, I., Martens, J., Dahl, G. and Hinton, G. (2013):
           On the importance of initialization and momentum in deep learning.
           Proceedings of the 30th International Conference on Machine
           Learning (ICML), 1139-1147.
    """
    updates = sgd(loss_or_grads, params, learning_rate)
    return apply_momentum(updates, params, momentum=momentum)


def apply_nesterov_momentum(updates, params=None, momentum=0.9):
    r"""Add Nesterov momentum to an existing dictionary of updates.

    For each parameter :math:`p` with proposed new value
    :math:`u = \mathrm{updates}[p]`, a velocity :math:`v` (starting at zero)
    is kept, and

    .. math::

        x &= \mu v + u - p \\
        v &\leftarrow x \\
        p &\leftarrow \mu x + u

    With :func:`sgd`'s :math:`u = p - \eta g` this is
    :math:`v \leftarrow \mu v - \eta g`,
    :math:`p \leftarrow p + \mu v - \eta g`: the formulation of Sutskever et
    al. (2013), in which the gradient is taken at the current parameters while
    the stored parameters already include the next momentum step.

    Parameters
    ----------
    updates : OrderedDict
        Updates to build on; it is copied, not modified.
    params : iterable of shared variables, optional
        The parameters to apply momentum to; by default every key of
        ``updates``.
    momentum : float or symbolic scalar, optional
        The momentum :math:`\mu` (default 0.9).

    Returns
    -------
    OrderedDict
        A copy of ``updates`` with the parameters' entries replaced (keeping
        their positions) and one velocity entry per parameter appended.

    See Also
    --------
    nesterov_momentum : :func:`sgd` followed by this function.

    References
    ----------
    .. [1] Nesterov, Y. (1983): A method for solving the convex programming
           problem with convergence rate O(1/k^2). Soviet Mathematics
           Doklady 27, 372-376.
    .. [2] Sutskever, I., Martens, J., Dahl, G. and Hinton, G. (2013):
           On the importance of initialization and momentum in deep learning.
           Proceedings of the 30th International Conference on Machine
           Learning (ICML), 1139-1147.
    """
    if params is None:
        params = list(updates.keys())
    updates = OrderedDict(updates)
    for param in params:
        velocity = _zeros_like(param)
        mu = _as_dtype(momentum, param.dtype)
        x = mu * velocity + updates[param] - param
        updates[velocity] = x
        updates[param] = mu * x + updates[param]
    return updates


def nesterov_momentum(loss_or_grads, params, learning_rate, momentum=0.9):
    r"""Stochastic gradient descent with Nesterov momentum.

    .. math::

        v &\leftarrow \mu v - \eta g \\
        p &\leftarrow p + \mu v - \eta g

    Parameters
    ----------
    loss_or_grads : symbolic scalar or list of symbolic expressions
        A scalar loss or one gradient expression per parameter.
    params : list of shared variables
        The parameters to update.
    learning_rate : float or symbolic scalar
        The step size :math:`\eta`.
    momentum : float or symbolic scalar, optional
        The momentum :math:`\mu` (default 0.9).

    Returns
    -------
    OrderedDict
        The parameters' updates (in the order of ``params``) followed by the
        velocities' updates.

    See Also
    --------
    apply_nesterov_momentum : adds Nesterov momentum to any updates dictionary.

    References
    ----------
    .. [1] Nesterov, Y. (1983): A method for solving the convex programming
           problem with convergence rate O(1/k^2). Soviet Mathematics
           Doklady 27, 372-376.
    .. [2] Sutskever, I., Martens, J., Dahl, G. and Hinton, G. (2013):
           On the importance of initialization and momentum in deep learning.
           Proceedings of the 30th International Conference on Machine
           Learning (ICML), 1139-1147.
    """
    updates = sgd(loss_or_grads, params, learning_rate)
    return apply_nesterov_momentum(updates, params, momentum=momentum)


# ---------------------------------------------------------------------------
# adaptive learning rates
# ---------------------------------------------------------------------------

def adagrad(loss_or_grads, params, learning_rate=1.0, epsilon=1e-6):
    r"""Adagrad: per-element step sizes from the sum of squared gradients.

    With an accumulator :math:`a` starting at zero:

    .. math::

        a &\leftarrow a + g^2 \\
        p &\leftarrow p - \frac{\eta\, g}{\sqrt{a + \epsilon}}

    (the new :math:`a` is used in the step).

    Parameters
    ----------
    loss_or_grads : symbolic scalar or list of symbolic expressions
        A scalar loss or one gradient expression per parameter.
    params : list of shared variables
        The parameters to update.
    learning_rate : float or symbolic scalar, optional
        The step size :math:`\eta` (default 1.0).
    epsilon : float or symbolic scalar, optional
        Added under the square root for numerical stability (default 1e-6).

    Returns
    -------
    OrderedDict
        Per parameter, the accumulator's update then the parameter's.

    Notes
    -----
    The accumulator only grows, so step sizes shrink over time.

    References
    ----------
    .. [1] Duchi, J., Hazan, E. and Singer, Y. (2011): Adaptive subgradient
           methods for online learning and stochastic optimization. Journal of
           Machine Learning Research 12, 2121-2159.
    """
    grads = get_or_compute_grads(loss_or_grads, params)
    updates = OrderedDict()
    for param, grad in zip(params, grads):
        dtype = param.dtype
        lr = _as_dtype(learning_rate, dtype)
        eps = _as_dtype(epsilon, dtype)
        accu = _zeros_like(param)
        accu_new = accu + grad ** 2
        updates[accu] = accu_new
        updates[param] = param - lr * grad / pt.sqrt(accu_new + eps)
    return updates


def rmsprop(loss_or_grads, params, learning_rate=1.0, rho=0.9, epsilon=1e-6):
    r"""RMSProp: steps scaled by a running average of squared gradients.

    With an accumulator :math:`a` starting at zero:

    .. math::

        a &\leftarrow \rho a + (1 - \rho) g^2 \\
        p &\leftarrow p - \frac{\eta\, g}{\sqrt{a + \epsilon}}

    (the new :math:`a` is used in the step).

    Parameters
    ----------
    loss_or_grads : symbolic scalar or list of symbolic expressions
        A scalar loss or one gradient expression per parameter.
    params : list of shared variables
        The parameters to update.
    learning_rate : float or symbolic scalar, optional
        The step size :math:`\eta` (default 1.0).
    rho : float or symbolic scalar, optional
        The decay :math:`\rho` of the running average (default 0.9).
    epsilon : float or symbolic scalar, optional
        Added under the square root for numerical stability (default 1e-6).

    Returns
    -------
    OrderedDict
        Per parameter, the accumulator's update then the parameter's.

    References
    ----------
    .. [1] Tieleman, T. and Hinton, G. (2012): Neural Networks for Machine
           Learning, Lecture 6.5 - rmsprop. Coursera.
           http://www.youtube.com/watch?v=O3sxAc4hxZU (formula @5:20)
    """
    grads = get_or_compute_grads(loss_or_grads, params)
    updates = OrderedDict()
    for param, grad in zip(params, grads):
        dtype = param.dtype
        one = _as_dtype(1, dtype)
        lr = _as_dtype(learning_rate, dtype)
        rho_ = _as_dtype(rho, dtype)
        eps = _as_dtype(epsilon, dtype)
        accu = _zeros_like(param)
        accu_new = rho_ * accu + (one - rho_) * grad ** 2
        updates[accu] = accu_new
        updates[param] = param - lr * grad / pt.sqrt(accu_new + eps)
    return updates


def adadelta(loss_or_grads, params, learning_rate=1.0, rho=0.95,
             epsilon=1e-6):
    r"""Adadelta: steps scaled by running averages of gradients and steps.

    With accumulators :math:`a` (squared gradients) and :math:`s` (squared
    steps), both starting at zero:

    .. math::

        a &\leftarrow \rho a + (1 - \rho) g^2 \\
        \Delta &= g \, \frac{\sqrt{s + \epsilon}}{\sqrt{a + \epsilon}} \\
        p &\leftarrow p - \eta \Delta \\
        s &\leftarrow \rho s + (1 - \rho) \Delta^2

    :math:`\Delta` uses the new :math:`a` and the previous :math:`s`. The
    learning rate scales the parameter step only; :math:`s` accumulates the
    unscaled :math:`\Delta`.

    Parameters
    ----------
    loss_or_grads : symbolic scalar or list of symbolic expressions
        A scalar loss or one gradient expression per parameter.
    params : list of shared variables
        The parameters to update.
    learning_rate : float or symbolic scalar, optional
        The step size :math:`\eta` (default 1.0, as in the paper, which has no
        learning rate).
    rho : float or symbolic scalar, optional
        The decay :math:`\rho` of both running averages (default 0.95).
    epsilon : float or symbolic scalar, optional
        Added under both square roots (default 1e-6); it also sets the size
        of the first steps, while :math:`s` is still zero.

    Returns
    -------
    OrderedDict
        Per parameter: the gradient accumulator :math:`a`, the parameter, then
        the step accumulator :math:`s`.

    References
    ----------
    .. [1] Zeiler, M. D. (2012): ADADELTA: An Adaptive Learning Rate Method.
           arXiv preprint arXiv:1212.5701.
    """
    grads = get_or_compute_grads(loss_or_grads, params)
    updates = OrderedDict()
    for param, grad in zip(params, grads):
        dtype = param.dtype
        one = _as_dtype(1, dtype)
        lr = _as_dtype(learning_rate, dtype)
        rho_ = _as_dtype(rho, dtype)
        eps = _as_dtype(epsilon, dtype)
        accu = _zeros_like(param)
        delta_accu = _zeros_like(param)
        accu_new = rho_ * accu + (one - rho_) * grad ** 2
        updates[accu] = accu_new
        step = grad * pt.sqrt(delta_accu + eps) / pt.sqrt(accu_new + eps)
        updates[param] = param - lr * step
        updates[delta_accu] = rho_ * delta_accu + (one - rho_) * step ** 2
    return updates


def _adam_like(loss_or_grads, params, learning_rate, beta1, beta2, epsilon,
               kind):
    """Shared body of :func:`adam`, :func:`adamax` and :func:`amsgrad`."""
    grads = get_or_compute_grads(loss_or_grads, params)
    t_prev = _step_counter()
    floatx = t_prev.dtype
    one_x = _as_dtype(1, floatx)
    t = t_prev + one_x
    b1_x = _as_dtype(beta1, floatx)
    lr_x = _as_dtype(learning_rate, floatx)
    if kind == "adamax":
        a_t = lr_x / (one_x - b1_x ** t)
    else:
        b2_x = _as_dtype(beta2, floatx)
        a_t = lr_x * pt.sqrt(one_x - b2_x ** t) / (one_x - b1_x ** t)
    updates = OrderedDict()
    for param, g_t in zip(params, grads):
        dtype = param.dtype
        one = _as_dtype(1, dtype)
        b1 = _as_dtype(beta1, dtype)
        b2 = _as_dtype(beta2, dtype)
        eps = _as_dtype(epsilon, dtype)
        alpha = _as_dtype(a_t, dtype)
        m_prev = _zeros_like(param)
        m_t = b1 * m_prev + (one - b1) * g_t
        updates[m_prev] = m_t
        if kind == "adamax":
            u_prev = _zeros_like(param)
            u_t = pt.maximum(b2 * u_prev, abs(g_t))
            updates[u_prev] = u_t
            denom = u_t + eps
        else:
            v_prev = _zeros_like(param)
            v_t = b2 * v_prev + (one - b2) * g_t ** 2
            updates[v_prev] = v_t
            if kind == "amsgrad":
                v_hat_prev = _zeros_like(param)
                v_hat_t = pt.maximum(v_hat_prev, v_t)
                updates[v_hat_prev] = v_hat_t
                denom = pt.sqrt(v_hat_t) + eps
            else:
                denom = pt.sqrt(v_t) + eps
        updates[param] = param - alpha * m_t / denom
    updates[t_prev] = t
    return updates


def adam(loss_or_grads, params, learning_rate=0.001, beta1=0.9, beta2=0.999,
         epsilon=1e-8):
    r"""Adam: steps from bias-corrected estimates of the gradient's moments.

    With moment estimates :math:`m`, :math:`v` (zero-initialised, one pair per
    parameter) and the step counter :math:`t` (shared by all parameters,
    starting at 0):

    .. math::

        t &\leftarrow t + 1 \\
        \alpha_t &= \eta \, \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t} \\
        m &\leftarrow \beta_1 m + (1 - \beta_1) g \\
        v &\leftarrow \beta_2 v + (1 - \beta_2) g^2 \\
        p &\leftarrow p - \frac{\alpha_t \, m}{\sqrt{v} + \epsilon}

    This is the efficient form from section 2 of the paper: :math:`\epsilon`
    is added to the square root of the *uncorrected* :math:`v`.

    Parameters
    ----------
    loss_or_grads : symbolic scalar or list of symbolic expressions
        A scalar loss or one gradient expression per parameter.
    params : list of shared variables
        The parameters to update.
    learning_rate : float or symbolic scalar, optional
        The step size :math:`\eta` (default 0.001).
    beta1 : float or symbolic scalar, optional
        Decay of the first-moment estimate (default 0.9).
    beta2 : float or symbolic scalar, optional
        Decay of the second-moment estimate (default 0.999).
    epsilon : float or symbolic scalar, optional
        Added to the denominator for numerical stability (default 1e-8).

    Returns
    -------
    OrderedDict
        Per parameter :math:`m`, :math:`v` then the parameter; the step
        counter :math:`t` (a floatX shared scalar) last.

    References
    ----------
    .. [1] Kingma, D. P. and Ba, J. (2014): Adam: A Method for Stochastic
           Optimization. arXiv preprint arXiv:1412.6980.
    """
    return _adam_like(loss_or_grads, params, learning_rate, beta1, beta2,
                      epsilon, "adam")


def adamax(loss_or_grads, params, learning_rate=0.002, beta1=0.9,
           beta2=0.999, epsilon=1e-8):
    r"""Adamax: Adam with the infinity norm in place of the second moment.

    With :math:`m`, :math:`u` (zero-initialised, one pair per parameter) and
    the step counter :math:`t` (shared, starting at 0):

    .. math::

        t &\leftarrow t + 1 \\
        \alpha_t &= \frac{\eta}{1 - \beta_1^t} \\
        m &\leftarrow \beta_1 m + (1 - \beta_1) g \\
        u &\leftarrow \max(\beta_2 u, |g|) \\
        p &\leftarrow p - \frac{\alpha_t \, m}{u + \epsilon}

    Parameters
    ----------
    loss_or_grads : symbolic scalar or list of symbolic expressions
        A scalar loss or one gradient expression per parameter.
    params : list of shared variables
        The parameters to update.
    learning_rate : float or symbolic scalar, optional
        The step size :math:`\eta` (default 0.002).
    beta1 : float or symbolic scalar, optional
        Decay of the first-moment estimate (default 0.9).
    beta2 : float or symbolic scalar, optional
        Decay of the weighted infinity norm (default 0.999).
    epsilon : float or symbolic scalar, optional
        Added to the denominator for numerical stability (default 1e-8).

    Returns
    -------
    OrderedDict
        Per parameter :math:`m`, :math:`u` then the parameter; the step
        counter :math:`t` (a floatX shared scalar) last.

    References
    ----------
    .. [1] Kingma, D. P. and Ba, J. (2014): Adam: A Method for Stochastic
           Optimization. arXiv preprint arXiv:1412.6980 (section 7.1).
    """
    return _adam_like(loss_or_grads, params, learning_rate, beta1, beta2,
                      epsilon, "adamax")


def amsgrad(loss_or_grads, params, learning_rate=0.001, beta1=0.9,
            beta2=0.999, epsilon=1e-8):
    r"""AMSGrad: Adam with a non-decreasing second-moment estimate.

    With :math:`m`, :math:`v`, :math:`\hat v` (zero-initialised, per
    parameter) and the step counter :math:`t` (shared, starting at 0):

    .. math::

        t &\leftarrow t + 1 \\
        \alpha_t &= \eta \, \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t} \\
        m &\leftarrow \beta_1 m + (1 - \beta_1) g \\
        v &\leftarrow \beta_2 v + (1 - \beta_2) g^2 \\
        \hat v &\leftarrow \max(\hat v, v) \\
        p &\leftarrow p - \frac{\alpha_t \, m}{\sqrt{\hat v} + \epsilon}

    Parameters
    ----------
    loss_or_grads : symbolic scalar or list of symbolic expressions
        A scalar loss or one gradient expression per parameter.
    params : list of shared variables
        The parameters to update.
    learning_rate : float or symbolic scalar, optional
        The step size :math:`\eta` (default 0.001).
    beta1 : float or symbolic scalar, optional
        Decay of the first-moment estimate (default 0.9).
    beta2 : float or symbolic scalar, optional
        Decay of the second-moment estimate (default 0.999).
    epsilon : float or symbolic scalar, optional
        Added to the denominator for numerical stability (default 1e-8).

    Returns
    -------
    OrderedDict
        Per parameter :math:`m`, :math:`v`, :math:`\hat v` then the
        parameter; the step counter :math:`t` (a floatX shared scalar) last.

    References
    ----------
    .. [1] Reddi, S. J., Kale, S. and Kumar, S. (2018): On the Convergence of
           Adam and Beyond. International Conference on Learning
           Representations (ICLR).
    """
    return _adam_like(loss_or_grads, params, learning_rate, beta1, beta2,
                      epsilon, "amsgrad")


# ---------------------------------------------------------------------------
# norm constraints
# ---------------------------------------------------------------------------

def norm_constraint(tensor_var, max_norm, norm_axes=None, epsilon=1e-7):
    r"""Rescale slices of a tensor whose Euclidean norm exceeds ``max_norm``.

    With :math:`n` the norm over ``norm_axes`` (kept as size-1 axes so that it
    broadcasts back):

    .. math::

        n &= \sqrt{\textstyle\sum x^2} \\
        x &\leftarrow x \, \frac{\min(n, \mathrm{max\_norm})}{\epsilon + n}

    Slices with a smaller norm are left (almost exactly) unchanged. Typically
    applied to a parameter's entry in an updates dictionary::

        updates[W] = norm_constraint(updates[W], max_norm=3.)

    Parameters
    ----------
    tensor_var : symbolic tensor
        The tensor to constrain, usually a weight update.
    max_norm : float or symbolic scalar
        The largest norm allowed for each slice.
    norm_axes : sequence of int, optional
        The axes to compute the norm over. By default, axis 0 for a 2-D tensor
        (one norm per output unit of a dense layer's weights) and every axis
        but the first for a 3-, 4- or 5-D tensor (one norm per filter of a
        convolution's weights).
    epsilon : float, optional
        Added to the norm in the denominator to avoid division by zero
        (default 1e-7).

    Returns
    -------
    symbolic tensor
        The constrained tensor.

    Raises
    ------
    ValueError
        If ``norm_axes`` is not given and ``tensor_var`` is not 2- to 5-D.

    Notes
    -----
    The constants are cast to the tensor's dtype (``floatX`` for a
    non-float tensor), so a float32 graph stays float32.

    References
    ----------
    .. [1] Srivastava, N., Hinton, G., Krizhevsky, A., Sutskever, I. and
           Salakhutdinov, R. (2014): Dropout: A Simple Way to Prevent Neural
           Networks from Overfitting. Journal of Machine Learning Research 15,
           1929-1958.
    """
    ndim = tensor_var.ndim
    if norm_axes is not None:
        sum_over = tuple(norm_axes)
    elif ndim == 2:
        sum_over = (0,)
    elif ndim in (3, 4, 5):
        sum_over = tuple(range(1, ndim))
    else:
        raise ValueError("Unsupported tensor dimensionality {}. Must specify "
                         "`norm_axes`".format(ndim))
    dtype = _float_dtype(tensor_var)
    norms = pt.sqrt(pt.sum(pt.sqr(tensor_var), axis=sum_over, keepdims=True))
    target_norms = pt.clip(norms, _as_dtype(0, dtype),
                           _as_dtype(max_norm, dtype))
    return tensor_var * (target_norms / (_as_dtype(epsilon, dtype) + norms))


def total_norm_constraint(tensor_vars, max_norm, epsilon=1e-7,
                          return_norm=False):
    r"""Rescale a list of tensors so that their joint norm is at most ``max_norm``.

    With :math:`N` the Euclidean norm of all tensors taken together (as if
    concatenated into one vector), every tensor is multiplied by the same
    factor:

    .. math::

        N &= \sqrt{\textstyle\sum_i \sum x_i^2} \\
        x_i &\leftarrow x_i \, \frac{\min(N, \mathrm{max\_norm})}{\epsilon + N}

    Typically applied to the gradients before an update rule (gradient
    clipping)::

        grads = pytensor.grad(loss, params)
        grads = total_norm_constraint(grads, max_norm=5.)
        updates = adam(grads, params)

    Parameters
    ----------
    tensor_vars : list of symbolic tensors
        The tensors to rescale together.
    max_norm : float or symbolic scalar
        The largest total norm allowed.
    epsilon : float, optional
        Added to the norm in the denominator to avoid division by zero
        (default 1e-7).
    return_norm : bool, optional
        Also return the total norm :math:`N` before rescaling (default
        False).

    Returns
    -------
    list of symbolic tensors, or (list, symbolic scalar)
        The rescaled tensors, with :math:`N` if ``return_norm``.

    Notes
    -----
    The constants are cast to the norm's dtype (``floatX`` for non-float
    tensors).

    References
    ----------
    .. [1] Sutskever, I., Vinyals, O. and Le, Q. V. (2014): Sequence to
           Sequence Learning with Neural Networks. Advances in Neural
           Information Processing Systems 27, 3104-3112.
    """
    tensor_vars = list(tensor_vars)
    # One sum over the concatenated squares, not a chain of adds: PyTensor
    # merges a chain into one n-ary Add, whose Python implementation (used
    # by FAST_COMPILE) fails beyond 32 inputs.
    norm = pt.sqrt(pt.sum(pt.concatenate([pt.sqr(t).flatten() for t in tensor_vars])))
    dtype = _float_dtype(norm)
    target_norm = pt.clip(norm, _as_dtype(0, dtype),
                          _as_dtype(max_norm, dtype))
    multiplier = target_norm / (_as_dtype(epsilon, dtype) + norm)
    scaled = [t * multiplier for t in tensor_vars]
    if return_norm:
        return scaled, norm
    return scaled
