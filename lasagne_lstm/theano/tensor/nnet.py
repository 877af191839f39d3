"""``theano.tensor.nnet``: activations and losses, written on PyTensor
(which has no ``nnet``).

Convolution, pooling, neighbours, hierarchical softmax, CTC and batch
normalisation are not part of lasagne-lstm: their names raise
:class:`~lasagne_lstm.theano.core.NotPorted` on access.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.tensor.type import discrete_dtypes, float_dtypes

from ...utils import log_probabilities, pick_last_axis
from ..core import not_ported_getattr

__all__ = ["sigmoid", "ultra_fast_sigmoid", "hard_sigmoid", "softplus",
           "softsign", "relu", "elu", "selu", "softmax", "logsoftmax",
           "softmax_with_bias", "binary_crossentropy",
           "sigmoid_binary_crossentropy", "categorical_crossentropy",
           "crossentropy_categorical_1hot", "crossentropy_softmax_1hot",
           "crossentropy_softmax_1hot_with_bias"]

#: The logistic function ``1 / (1 + exp(-x))``.
sigmoid = pt.sigmoid
#: ``log(1 + exp(x))``, computed stably.
softplus = pt.softplus

# ultra_fast_sigmoid's piecewise approximation of tanh(t) for t >= 0
_UFS_KNEE = 1.7
_UFS_END = 3.0
_UFS_AT_KNEE = 0.935409070603099
_UFS_SLOPE = 0.0458812946797165
_UFS_TOP = 0.99505475368673

# SELU's constants (Klambauer et al., 2017)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _float(x):
    """``x`` as a tensor of a float dtype (integers become floatX)."""
    x = pt.as_tensor_variable(x)
    if x.dtype in float_dtypes:
        return x
    return pt.cast(x, pytensor.config.floatX)


def _const(value, like):
    """``value`` in the dtype of ``like``: Python floats would upcast a
    float32 graph to float64 under ``floatX='float64'``."""
    return np.asarray(value, dtype=like.dtype)


def ultra_fast_sigmoid(x):
    """Theano's ``ultra_fast_sigmoid``: its piecewise approximation.

    ``sigmoid(x) = (1 + tanh(x / 2)) / 2`` with tanh(t), for ``a = |t|``,
    replaced by ``1.5 a / (1 + a)`` below 1.7, the line
    ``0.935409070603099 + 0.0458812946797165 (a - 1.7)`` below 3 and
    ``0.99505475368673`` beyond (sign restored), as in Theano's
    ``UltraFastScalarSigmoid``. Its maximum error against the sigmoid is
    about 0.02. Unlike Theano (which backpropagated ``y (1 - y)``), the
    gradient is that of the piecewise function itself.
    """
    x = _float(x)
    half = _const(0.5, x)
    t = half * x
    a = abs(t)
    line = _const(_UFS_AT_KNEE, x) + _const(_UFS_SLOPE, x) * (
        a - _const(_UFS_KNEE, x))
    tanh_a = pt.switch(
        a < _UFS_KNEE, _const(1.5, x) * a / (1 + a),
        pt.switch(a < _UFS_END, line, _const(_UFS_TOP, x)))
    return half * (pt.switch(t >= 0, tanh_a, -tanh_a) + 1)


def hard_sigmoid(x):
    """Theano's ``hard_sigmoid``: ``clip(0.2 x + 0.5, 0, 1)``."""
    x = _float(x)
    return pt.clip(_const(0.2, x) * x + _const(0.5, x), 0, 1)


def softsign(x):
    """``x / (1 + |x|)``."""
    x = _float(x)
    return x / (1 + abs(x))


def relu(x, alpha=0):
    """Rectifier: ``x`` where ``x > 0``, else ``alpha * x`` (leaky for
    ``alpha != 0``), as Theano's ``relu(x, alpha=0)``."""
    x = pt.as_tensor_variable(x)
    if isinstance(alpha, (int, float)) and alpha == 0:
        return pt.maximum(x, 0)
    x = _float(x)
    return pt.switch(x > 0, x, _alpha(alpha, x) * x)


def _alpha(alpha, x):
    """A Python-number slope in ``x``'s dtype; a tensor one as it is."""
    return _const(alpha, x) if isinstance(alpha, (int, float)) else alpha


def elu(x, alpha=1):
    """Exponential linear unit: ``x`` where ``x > 0``, else
    ``alpha * (exp(x) - 1)``."""
    x = _float(x)
    return pt.switch(x > 0, x, _alpha(alpha, x) * pt.expm1(x))


def selu(x):
    """Scaled exponential linear unit: ``scale * elu(x, alpha)`` with
    SELU's constants."""
    y = elu(x, _SELU_ALPHA)
    return _const(_SELU_SCALE, y) * y


def softmax(x, axis=-1):
    """Softmax along ``axis``; Theano's default, on a matrix, is each row."""
    return pt.special.softmax(x, axis=axis)


def logsoftmax(x, axis=-1):
    """``log(softmax(x))`` along ``axis``, computed stably."""
    return pt.special.log_softmax(x, axis=axis)


def softmax_with_bias(x, b):
    """``softmax(x + b)`` of each row of ``x`` (``b`` a vector)."""
    return softmax(pt.as_tensor_variable(x) + b)


def binary_crossentropy(output, target):
    """``-(target log(output) + (1 - target) log(1 - output))``, elementwise.

    ``output`` holds probabilities; see :func:`sigmoid_binary_crossentropy`
    for logits.
    """
    output = pt.as_tensor_variable(output)
    return -(target * pt.log(output) + (1 - target) * pt.log(1 - output))


def sigmoid_binary_crossentropy(output, target):
    """:func:`binary_crossentropy` of ``sigmoid(output)``, computed stably:
    ``target softplus(-output) + (1 - target) softplus(output)``."""
    output = pt.as_tensor_variable(output)
    return target * pt.softplus(-output) + (1 - target) * pt.softplus(output)


def categorical_crossentropy(coding_dist, true_dist):
    """Theano's ``categorical_crossentropy(coding_dist, true_dist)``.

    Parameters
    ----------
    coding_dist : tensor
        Probabilities, the classes along the last axis (rows of a matrix).
    true_dist : tensor
        Either integer class indices with one dimension fewer than
        ``coding_dist``, giving ``-log(coding_dist[..., true_dist])``, or a
        tensor like ``coding_dist`` of one-hot or probability rows, giving
        ``-sum(true_dist * log(coding_dist), axis=-1)``.

    Returns
    -------
    tensor
        One loss per row: ``coding_dist``'s shape without the last axis.
    """
    coding_dist = pt.as_tensor_variable(coding_dist)
    true_dist = pt.as_tensor_variable(true_dist)
    if true_dist.ndim == coding_dist.ndim:
        return -pt.sum(true_dist * log_probabilities(coding_dist), axis=-1)
    if true_dist.ndim == coding_dist.ndim - 1:
        return crossentropy_categorical_1hot(coding_dist, true_dist)
    raise TypeError("categorical_crossentropy needs true_dist with as many "
                    "dimensions as coding_dist (%d) or one fewer, got %d"
                    % (coding_dist.ndim, true_dist.ndim))


def _pick(values, indices):
    """``values[..., indices]`` along the last axis, one element per row
    (:func:`lasagne_lstm.utils.pick_last_axis`)."""
    if indices.dtype not in discrete_dtypes:
        raise TypeError("class indices must be integers, got %s"
                        % indices.dtype)
    return pick_last_axis(values, indices)


def crossentropy_categorical_1hot(coding_dist, true_one_of_n):
    """``-log(coding_dist[i, true_one_of_n[i]])`` for integer targets."""
    log_p = log_probabilities(coding_dist)
    return -_pick(log_p, pt.as_tensor_variable(true_one_of_n))


def crossentropy_softmax_1hot_with_bias(x, b, y_idx):
    """``(nll, softmax(x + b))`` where ``nll[i] = -log softmax(x + b)[i, y_idx[i]]``
    (log-softmax, so no probability underflows to a log of zero)."""
    z = pt.as_tensor_variable(x) + b
    nll = -_pick(logsoftmax(z), pt.as_tensor_variable(y_idx))
    return nll, softmax(z)


def crossentropy_softmax_1hot(x, y_idx):
    """``(nll, softmax(x))``: :func:`crossentropy_softmax_1hot_with_bias`
    without a bias."""
    x = pt.as_tensor_variable(x)
    return crossentropy_softmax_1hot_with_bias(x, np.zeros((), x.dtype), y_idx)


_CONV = ("convolution is not ported",
         "lasagne-lstm covers dense and recurrent layers")
_POOL = ("pooling is not ported", None)
_BN = ("batch normalisation is not ported",
       "normalise with T.mean and T.var")

__getattr__ = not_ported_getattr(__name__, "theano.tensor.nnet", {
    **{name: _CONV for name in (
        "conv", "conv2d", "conv3d", "conv2d_transpose", "conv3d2d",
        "abstract_conv", "separable_conv2d", "ConvOp", "Conv3D", "conv3D",
        "corr", "corr3d", "CorrMM", "Corr3dMM", "conv2d_grad_wrt_inputs",
        "conv2d_grad_wrt_weights")},
    "pool": _POOL, "pool_2d": _POOL, "max_pool_2d": _POOL,
    "neighbours": ("image patches (neighbours) are not ported", None),
    "images2neibs": ("image patches (neighbours) are not ported", None),
    "neibs2images": ("image patches (neighbours) are not ported", None),
    "h_softmax": ("hierarchical softmax is not ported",
                  "use T.nnet.softmax over all classes"),
    "ctc": ("the CTC loss is not ported", None),
    "bn": _BN, "batch_normalization": _BN,
    "batch_normalization_train": _BN, "batch_normalization_test": _BN,
    "blocksparse": ("block-sparse products are not ported", None),
    "sparse_block_dot": ("block-sparse products are not ported", None),
    "SparseBlockGemv": ("block-sparse products are not ported", None),
    "SparseBlockOuter": ("block-sparse products are not ported", None),
    "confusion_matrix": ("confusion matrices are not ported",
                         "compute one with NumPy from the predictions"),
    "crossentropy_softmax_argmax_1hot_with_bias": (
        "its fused op is not ported",
        "use crossentropy_softmax_1hot_with_bias and T.argmax"),
})
