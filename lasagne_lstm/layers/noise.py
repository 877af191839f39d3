"""Layers that add noise during training (``lasagne.layers.noise``)."""
import warnings

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Variable
from pytensor.tensor.random import shared_rng

from ..random import get_rng
from .base import Layer

__all__ = ["DropoutLayer", "dropout", "dropout_channels", "spatial_dropout",
           "dropout_locations", "GaussianNoiseLayer"]

_MAX_SEED = 2147462579


class _NoiseStream:
    """A source of random tensors, like Theano's shared random streams.

    Every draw gets its own shared ``numpy.random.Generator`` (spawned from
    one seed) whose state advances automatically each time a compiled
    function using the draw runs. This is what PyTensor's deprecated
    ``RandomStream`` does, written against the ``shared_rng`` API so that no
    deprecation warnings are raised on each draw.

    Parameters
    ----------
    seed : int
        Seeds every generator this stream creates.
    """

    def __init__(self, seed):
        self.seed(seed)
        self.state_updates = []

    def seed(self, seed):
        """Restart the sequence of generators handed to future draws."""
        self._seeds = np.random.SeedSequence(seed)

    def updates(self):
        """The ``(shared generator, next state)`` pairs of every draw so far."""
        return list(self.state_updates)

    def _draw(self, distribution, *args, **kwargs):
        (child,) = self._seeds.spawn(1)
        rng = shared_rng(np.random.default_rng(child))
        next_rng, sample = getattr(rng, distribution)(*args, **kwargs)
        with warnings.catch_warnings():
            # PyTensor 3 deprecates automatic updates, but they are what makes
            # a compiled training function draw new noise on every call.
            warnings.simplefilter("ignore", DeprecationWarning)
            rng.default_update = next_rng
        self.state_updates.append((rng, next_rng))
        return sample

    def bernoulli(self, p, size):
        """0/1 integers, 1 with probability ``p``."""
        return self._draw("bernoulli", p, size=size)

    def normal(self, loc, scale, size):
        """Samples of N(loc, scale²)."""
        return self._draw("normal", loc, scale, size=size)


def _is_constant(value, number):
    """Whether ``value`` is a plain (non-symbolic) scalar equal to ``number``."""
    return (not isinstance(value, Variable) and np.ndim(value) == 0
            and value == number)


def _runtime_shape(x):
    """The shape of ``x``: static sizes where its type fixes them (which
    helps backends needing static shapes, such as JAX), symbolic elsewhere.
    The layer's declared shape is deliberately not used: the data may differ.
    """
    return tuple(size if size is not None else x.shape[axis]
                 for axis, size in enumerate(x.type.shape))


def _new_stream():
    """A random stream seeded from the package generator (advancing it)."""
    rng = get_rng()
    if isinstance(rng, np.random.Generator):
        seed = rng.integers(1, _MAX_SEED)
    else:  # the numpy.random module or a RandomState
        seed = rng.randint(1, _MAX_SEED)
    return _NoiseStream(int(seed))


class DropoutLayer(Layer):
    """Dropout (Srivastava et al. 2014): zeroes inputs with probability ``p``.

    During training, ``y = x * m / q`` with ``q = 1 - p`` and
    ``m ~ Bernoulli(q)`` drawn independently per element (or shared along
    ``shared_axes``); the ``1 / q`` rescaling keeps the expectation equal to
    ``x``. With ``deterministic=True`` (at test time) or ``p == 0`` the layer
    is the identity.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The layer feeding into this layer, or the expected input shape.
    p : float or scalar tensor
        The probability of dropping an element.
    rescale : bool
        Whether to divide the kept values by ``q``.
    shared_axes : tuple of int
        Axes along which the mask is the same (its size there is 1), e.g.
        ``(2, 3)`` drops whole feature maps. Negative axes count from the end.

    Notes
    -----
    The mask has the input's runtime shape, so the declared shape may hold
    ``None`` or differ from the data. Each layer owns a random stream seeded
    from :func:`lasagne_lstm.random.get_rng` at construction.
    """

    def __init__(self, incoming, p=0.5, rescale=True, shared_axes=(),
                 **kwargs):
        super().__init__(incoming, **kwargs)
        self._srng = _new_stream()
        self.p = p
        self.rescale = rescale
        self.shared_axes = tuple(shared_axes)

    def get_output_for(self, input, deterministic=False, **kwargs):
        if deterministic or _is_constant(self.p, 0):
            return input
        retain_prob = pt.cast(1 - pt.as_tensor_variable(self.p), input.dtype)
        if self.rescale:
            input = input / retain_prob
        shared = set(a % input.ndim for a in self.shared_axes)
        mask_shape = tuple(1 if axis in shared else size
                           for axis, size in enumerate(_runtime_shape(input)))
        mask = self._srng.bernoulli(retain_prob, size=mask_shape)
        return input * pt.cast(mask, input.dtype)


dropout = DropoutLayer


def dropout_channels(incoming, *args, **kwargs):
    """Channel-wise dropout: a :class:`DropoutLayer` sharing its mask over
    every axis from the third on, so whole channels of a ``(N, C, ...)``
    input are dropped (Tompson et al. 2015)."""
    shape = incoming if isinstance(incoming, tuple) else incoming.output_shape
    kwargs["shared_axes"] = tuple(range(2, len(shape)))
    return DropoutLayer(incoming, *args, **kwargs)


spatial_dropout = dropout_channels


def dropout_locations(incoming, *args, **kwargs):
    """Location-wise dropout: a :class:`DropoutLayer` sharing its mask over
    the channel axis 1, so all channels at a position are dropped together."""
    kwargs["shared_axes"] = (1,)
    return DropoutLayer(incoming, *args, **kwargs)


class GaussianNoiseLayer(Layer):
    """Adds Gaussian noise: ``y = x + ε`` with ``ε ~ N(0, sigma²)``.

    The layer is the identity with ``deterministic=True`` or ``sigma == 0``.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The layer feeding into this layer, or the expected input shape.
    sigma : float or scalar tensor
        The standard deviation of the noise.
    """

    def __init__(self, incoming, sigma=0.1, **kwargs):
        super().__init__(incoming, **kwargs)
        self._srng = _new_stream()
        self.sigma = sigma

    def get_output_for(self, input, deterministic=False, **kwargs):
        if deterministic or _is_constant(self.sigma, 0):
            return input
        noise = self._srng.normal(0.0, self.sigma, size=_runtime_shape(input))
        return input + pt.cast(noise, input.dtype)
