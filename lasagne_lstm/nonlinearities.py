"""Activation functions (``lasagne.nonlinearities``), all symbolic and element-wise
except :func:`softmax`, which normalises each row."""
import pytensor.tensor as pt


def sigmoid(x):
    """Logistic sigmoid: 1 / (1 + exp(-x))."""
    return pt.sigmoid(x)


def softmax(x):
    """Row-wise softmax: exp(x_j) / Σ_k exp(x_k) over the last axis."""
    return pt.special.softmax(x, axis=-1)


def tanh(x):
    """Hyperbolic tangent."""
    return pt.tanh(x)


class ScaledTanH:
    """``scale_out * tanh(scale_in * x)`` (LeCun et al. 1998 use 2/3 and 1.7159)."""

    def __init__(self, scale_in=1, scale_out=1):
        self.scale_in = scale_in
        self.scale_out = scale_out

    def __call__(self, x):
        return pt.tanh(x * self.scale_in) * self.scale_out


ScaledTanh = ScaledTanH


def rectify(x):
    """Rectified linear unit max(0, x), computed as (x + |x|) / 2."""
    return 0.5 * (x + abs(x))


class LeakyRectify:
    """Leaky rectifier max(x, leakiness·x) for leakiness ≤ 1."""

    def __init__(self, leakiness=0.01):
        self.leakiness = leakiness

    def __call__(self, x):
        f1 = 0.5 * (1 + self.leakiness)
        f2 = 0.5 * (1 - self.leakiness)
        return f1 * x + f2 * abs(x)


leaky_rectify = LeakyRectify()
very_leaky_rectify = LeakyRectify(1.0 / 3)


def elu(x):
    """Exponential linear unit: x for x > 0, exp(x) - 1 otherwise (Clevert et al. 2015)."""
    return pt.switch(x > 0, x, pt.expm1(x))


class SELU:
    """Scaled ELU: ``scale * (x if x > 0 else scale_neg * (exp(x) - 1))``."""

    def __init__(self, scale=1, scale_neg=1):
        self.scale = scale
        self.scale_neg = scale_neg

    def __call__(self, x):
        return self.scale * pt.switch(x > 0.0, x, self.scale_neg * pt.expm1(x))


selu = SELU(scale=1.0507009873554805, scale_neg=1.6732632423543772)


def softplus(x):
    """log(1 + exp(x))."""
    return pt.softplus(x)


def linear(x):
    """The identity."""
    return x


identity = linear
