"""Parameter initializers (``lasagne.init``).

Every initializer is a callable taking a shape and returning a numpy array of
dtype floatX. Samples are drawn in float64 from
:func:`lasagne_lstm.random.get_rng` and then cast, so seeding that generator
makes initialisation reproducible.
"""
import numpy as np

from .random import get_rng
from .utils import floatX


class Initializer:
    """Base class: ``init(shape)`` returns ``init.sample(shape)``."""

    def __call__(self, shape):
        return self.sample(shape)

    def sample(self, shape):
        """Return an array of ``shape``; subclasses implement this."""
        raise NotImplementedError()


class Normal(Initializer):
    """Samples from a normal distribution N(``mean``, ``std``²)."""

    def __init__(self, std=0.01, mean=0.0):
        self.std = std
        self.mean = mean

    def sample(self, shape):
        return floatX(get_rng().normal(self.mean, self.std, size=shape))


class Uniform(Initializer):
    """Samples from a uniform distribution.

    Parameters
    ----------
    range : float or tuple of float
        A number ``r`` samples U(-r, r); a pair ``(a, b)`` samples U(a, b).
    std : float, optional
        If given, samples U(mean - √3·std, mean + √3·std) instead.
    mean : float
        The centre when ``std`` is given (ignored otherwise).
    """

    def __init__(self, range=0.01, std=None, mean=0.0):
        if std is not None:
            a = mean - np.sqrt(3) * std
            b = mean + np.sqrt(3) * std
        else:
            try:
                a, b = range
            except TypeError:
                a, b = -range, range
        self.range = (a, b)

    def sample(self, shape):
        return floatX(get_rng().uniform(low=self.range[0], high=self.range[1],
                                        size=shape))


def _gain_value(gain):
    return np.sqrt(2) if gain == "relu" else gain


class Glorot(Initializer):
    """Glorot & Bengio (2010) scaling around an initializer class.

    ``std = gain * sqrt(2 / ((n_in + n_out) * receptive_field))``, with
    ``n_in, n_out = shape[0], shape[1]`` and the receptive field the product of
    the remaining dimensions (``c01b`` reads a (channels, rows, cols, batch)
    layout for 4-D shapes).
    """

    def __init__(self, initializer, gain=1.0, c01b=False):
        self.initializer = initializer
        self.gain = _gain_value(gain)
        self.c01b = c01b

    def sample(self, shape):
        if self.c01b:
            if len(shape) != 4:
                raise RuntimeError("If c01b is True, only shapes of length 4 "
                                   "are accepted")
            n1, n2 = shape[0], shape[3]
            receptive_field_size = shape[1] * shape[2]
        else:
            if len(shape) < 2:
                raise RuntimeError("This initializer only works with shapes "
                                   "of length >= 2")
            n1, n2 = shape[:2]
            receptive_field_size = int(np.prod(shape[2:]))
        std = self.gain * np.sqrt(2.0 / ((n1 + n2) * receptive_field_size))
        return self.initializer(std=std).sample(shape)


class GlorotNormal(Glorot):
    """Glorot initialisation with a normal distribution."""

    def __init__(self, gain=1.0, c01b=False):
        super().__init__(Normal, gain, c01b)


class GlorotUniform(Glorot):
    """Glorot initialisation with a uniform distribution (bound √3·std)."""

    def __init__(self, gain=1.0, c01b=False):
        super().__init__(Uniform, gain, c01b)


class He(Initializer):
    """He et al. (2015) scaling: ``std = gain / sqrt(fan_in)``.

    ``fan_in`` is ``shape[0]`` for 2-D shapes and the product of all but the
    first dimension for larger ones (the first three for ``c01b``).
    """

    def __init__(self, initializer, gain=1.0, c01b=False):
        self.initializer = initializer
        self.gain = _gain_value(gain)
        self.c01b = c01b

    def sample(self, shape):
        if self.c01b:
            if len(shape) != 4:
                raise RuntimeError("If c01b is True, only shapes of length 4 "
                                   "are accepted")
            fan_in = int(np.prod(shape[:3]))
        elif len(shape) == 2:
            fan_in = shape[0]
        elif len(shape) > 2:
            fan_in = int(np.prod(shape[1:]))
        else:
            raise RuntimeError("This initializer only works with shapes of "
                               "length >= 2")
        std = self.gain * np.sqrt(1.0 / fan_in)
        return self.initializer(std=std).sample(shape)


class HeNormal(He):
    """He initialisation with a normal distribution."""

    def __init__(self, gain=1.0, c01b=False):
        super().__init__(Normal, gain, c01b)


class HeUniform(He):
    """He initialisation with a uniform distribution."""

    def __init__(self, gain=1.0, c01b=False):
        super().__init__(Uniform, gain, c01b)


class Constant(Initializer):
    """Fills the array with ``val``."""

    def __init__(self, val=0.0):
        self.val = val

    def sample(self, shape):
        return floatX(np.ones(shape) * self.val)


class Sparse(Initializer):
    """A 2-D matrix whose columns each hold ``int(sparsity * n_in)`` N(0, std²) values."""

    def __init__(self, sparsity=0.1, std=0.01):
        self.sparsity = sparsity
        self.std = std

    def sample(self, shape):
        if len(shape) != 2:
            raise RuntimeError("sparse initializer only works with shapes of "
                               "length 2")
        w = floatX(np.zeros(shape))
        n_inputs, n_outputs = shape
        size = int(self.sparsity * n_inputs)
        for k in range(n_outputs):
            indices = np.arange(n_inputs)
            get_rng().shuffle(indices)
            indices = indices[:size]
            w[indices, k] = floatX(get_rng().normal(0.0, self.std, size=size))
        return w


class Orthogonal(Initializer):
    """An orthogonal matrix (Saxe et al. 2013), from the SVD of a Gaussian sample.

    Shapes of more than two dimensions are treated as ``(shape[0], prod(rest))``.
    """

    def __init__(self, gain=1.0):
        self.gain = _gain_value(gain)

    def sample(self, shape):
        if len(shape) < 2:
            raise RuntimeError("Only shapes of length 2 or more are supported.")
        flat_shape = (shape[0], int(np.prod(shape[1:])))
        a = get_rng().normal(0.0, 1.0, flat_shape)
        u, _, v = np.linalg.svd(a, full_matrices=False)
        q = u if u.shape == flat_shape else v
        q = q.reshape(shape)
        return floatX(self.gain * q)
