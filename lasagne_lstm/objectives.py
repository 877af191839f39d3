"""Loss functions and metrics (``lasagne.objectives``).

Every function here returns an element-wise (or item-wise) expression;
:func:`aggregate` reduces it to a scalar, optionally weighted::

    loss = aggregate(categorical_crossentropy(predictions, targets))
"""
import numpy as np
import pytensor.tensor as pt

from .utils import log_probabilities, one_hot, pick_last_axis

__all__ = ["binary_crossentropy", "categorical_crossentropy", "squared_error",
           "aggregate", "binary_hinge_loss", "multiclass_hinge_loss",
           "huber_loss", "binary_accuracy", "categorical_accuracy",
           "align_targets"]


def _as_tensor(x):
    return pt.as_tensor_variable(x)


def align_targets(predictions, targets):
    """Give 1-D targets a trailing axis when predictions are ``(N, 1)``.

    A :class:`DenseLayer` with one unit outputs a matrix whose second axis has
    static size 1; a vector of targets then becomes ``(N, 1)`` so that the
    element-wise losses do not broadcast to ``(N, N)``. Anything else is
    returned unchanged.

    Returns
    -------
    (predictions, targets)
    """
    predictions = _as_tensor(predictions)
    targets = _as_tensor(targets)
    if (predictions.ndim == 2 and predictions.type.shape[1] == 1
            and targets.ndim == 1):
        targets = targets.dimshuffle(0, "x")
    return predictions, targets


def binary_crossentropy(predictions, targets):
    """Binary cross-entropy: ``-t log(p) - (1 - t) log(1 - p)``.

    Parameters
    ----------
    predictions : tensor
        Probabilities in (0, 1), e.g. from a sigmoid.
    targets : tensor
        Targets in [0, 1], shaped like ``predictions``.
    """
    predictions, targets = align_targets(predictions, targets)
    return -(targets * pt.log(predictions)
             + (1 - targets) * pt.log1p(-predictions))


def categorical_crossentropy(predictions, targets):
    """Categorical cross-entropy between predicted and target distributions.

    Parameters
    ----------
    predictions : tensor
        Class probabilities, one distribution per row (last axis).
    targets : tensor
        Either distributions of the same rank, giving
        ``-Σ_c t_c log(p_c)`` over the last axis, or integer class indices of
        one rank less, giving ``-log(p[i, t_i])`` (``predictions`` must then
        be a matrix).

    Raises
    ------
    TypeError
        For any other rank combination, or non-integer index targets.
    """
    predictions = _as_tensor(predictions)
    targets = _as_tensor(targets)
    log_p = log_probabilities(predictions)
    if targets.ndim == predictions.ndim:
        return -pt.sum(targets * log_p, axis=predictions.ndim - 1)
    if targets.ndim == predictions.ndim - 1:
        if predictions.ndim != 2:
            raise TypeError("integer targets need a matrix of predictions, "
                            "got %d dimensions" % predictions.ndim)
        if targets.dtype[:3] not in ("int", "uin"):
            raise TypeError("class index targets must be integers, got %s"
                            % targets.dtype)
        return -pick_last_axis(log_p, targets)
    raise TypeError("rank mismatch between targets (%d) and predictions (%d)"
                    % (targets.ndim, predictions.ndim))


def squared_error(a, b):
    """Element-wise squared difference ``(a - b)²``."""
    a, b = align_targets(a, b)
    return pt.square(a - b)


def aggregate(loss, weights=None, mode="mean"):
    """Reduce an element-wise loss to a scalar.

    Parameters
    ----------
    loss : tensor
        The element-wise loss.
    weights : tensor or None
        Multiplies the loss element-wise (broadcasting) before reducing, e.g.
        a 0/1 mask of valid time steps.
    mode : {'mean', 'sum', 'normalized_sum'}
        ``'mean'``: mean of ``loss * weights``; ``'sum'``: its sum;
        ``'normalized_sum'``: ``Σ(loss·w) / Σw`` (needs ``weights``), the
        mean over the weighted (e.g. unmasked) elements.

    Raises
    ------
    ValueError
        For an unknown mode, or ``'normalized_sum'`` without weights.
    """
    loss = _as_tensor(loss)
    if weights is not None:
        weights = _as_tensor(weights)
        loss = loss * weights
    if mode == "mean":
        return loss.mean()
    if mode == "sum":
        return loss.sum()
    if mode == "normalized_sum":
        if weights is None:
            raise ValueError("require weights for mode='normalized_sum'")
        return loss.sum() / weights.sum()
    raise ValueError("mode must be 'mean', 'sum' or 'normalized_sum', got %r"
                     % (mode,))


def binary_hinge_loss(predictions, targets, delta=1, log_odds=None,
                      binary=True):
    """Binary hinge loss ``max(0, delta - p·t)``.

    Parameters
    ----------
    predictions : tensor
        Log-odds (``log_odds=True``) or probabilities (``log_odds=False``,
        converted with ``log(p / (1 - p))``).
    targets : tensor
        0/1 targets (``binary=True``, mapped to -1/+1) or -1/+1 targets.
    delta : scalar
        The margin.
    log_odds : bool
        Must be given explicitly.
    binary : bool
        Whether targets are 0/1.

    Raises
    ------
    FutureWarning
        If ``log_odds`` is left as None (as Lasagne does, this is raised,
        not merely warned).
    """
    if log_odds is None:
        raise FutureWarning(
            "The `log_odds` argument to `binary_hinge_loss` will change its "
            "default to `False` in a future version. Explicitly give "
            "`log_odds=True` to keep treating predictions as log-odds, or "
            "`log_odds=False` for probabilities.")
    predictions = _as_tensor(predictions)
    targets = _as_tensor(targets)
    if not log_odds:
        predictions = pt.log(predictions / (1 - predictions))
    if binary:
        targets = 2 * targets - 1
    predictions, targets = align_targets(predictions, targets)
    return pt.maximum(0, delta - predictions * targets)


def multiclass_hinge_loss(predictions, targets, delta=1):
    """Multi-class hinge loss ``max(0, max_{j≠y} p_j - p_y + delta)``.

    Parameters
    ----------
    predictions : tensor, shape (N, C)
        Class scores.
    targets : tensor
        Integer classes of shape (N,), or one-hot rows of shape (N, C).
    delta : scalar
        The margin.

    Raises
    ------
    TypeError
        If the ranks do not fit either form.
    """
    predictions = _as_tensor(predictions)
    targets = _as_tensor(targets)
    num_classes = predictions.shape[1]
    if targets.ndim == predictions.ndim - 1:
        targets = one_hot(targets, num_classes)
    elif targets.ndim != predictions.ndim:
        raise TypeError("rank mismatch between targets (%d) and predictions "
                        "(%d)" % (targets.ndim, predictions.ndim))
    correct = pt.sum(predictions * targets, axis=1)
    others = pt.switch(pt.gt(targets, 0), -np.inf, predictions)
    return pt.maximum(0, pt.max(others, axis=1) - correct + delta)


def huber_loss(predictions, targets, delta=1):
    """Huber loss: quadratic for small errors, linear for large ones.

    ``½(t - p)²`` where ``|t - p| ≤ delta``, else
    ``delta·(|t - p| - delta/2)``.
    """
    predictions, targets = align_targets(predictions, targets)
    abs_diff = abs(targets - predictions)
    quadratic = 0.5 * pt.square(targets - predictions)
    linear = delta * (abs_diff - delta / 2.)
    return pt.switch(pt.le(abs_diff, delta), quadratic, linear)


def binary_accuracy(predictions, targets, threshold=0.5):
    """1 where ``(p ≥ threshold) == t``, else 0 (targets are 0/1)."""
    predictions, targets = align_targets(predictions, targets)
    return pt.eq(pt.ge(predictions, threshold), targets)


def categorical_accuracy(predictions, targets, top_k=1):
    """1 where the target class is among the ``top_k`` highest predictions.

    Parameters
    ----------
    predictions : tensor
        Class scores over the last axis.
    targets : tensor
        Integer classes (one rank less) or one-hot/probability rows of the
        same rank (arg-maxed).
    top_k : int
        How many of the best classes count as correct.

    Raises
    ------
    TypeError
        If the ranks fit neither form.
    """
    predictions = _as_tensor(predictions)
    targets = _as_tensor(targets)
    if targets.ndim == predictions.ndim:
        targets = pt.argmax(targets, axis=-1)
    elif targets.ndim != predictions.ndim - 1:
        raise TypeError("rank mismatch between targets (%d) and predictions "
                        "(%d)" % (targets.ndim, predictions.ndim))
    if top_k == 1:
        return pt.eq(pt.argmax(predictions, axis=-1), targets)
    best = pt.argsort(predictions, axis=-1)[..., -top_k:]
    return pt.any(pt.eq(best, pt.shape_padright(targets)), axis=-1)
