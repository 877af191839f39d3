"""Layers that add noise during training (``lasagne.layers.noise``).

The noise is counter-based (:mod:`lasagne_lstm.random_bits`): the value at
element ``(r, i...)`` is a hash of the layer's seed, a *step key* and the
element's coordinates, the same on every backend. The step key comes from
``get_output(..., noise_key=k, noise_row_offset=o)`` when a training loop
gives it (the training framework passes the update number and the first
row's index in the window, so a resumed run, and an accumulation cycle over
the same rows, draw the same masks); otherwise from a shared counter of the
layer that every call of a compiled function advances, so a plain
``theano.function`` script gets new noise on each call, on JAX too.
"""
import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.graph.basic import Variable

from ..random import get_rng
from ..random_bits import row_normal, row_uniform
from .base import Layer

__all__ = ["DropoutLayer", "dropout", "dropout_channels", "spatial_dropout",
           "dropout_locations", "GaussianNoiseLayer", "NoiseLayer"]

_MAX_SEED = 2147462579


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


def _new_seed():
    """A layer seed drawn from the package generator (advancing it, as
    Lasagne's noise layers do at construction)."""
    rng = get_rng()
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(1, _MAX_SEED))
    return int(rng.randint(1, _MAX_SEED))  # the numpy.random module or a RandomState


class NoiseLayer(Layer):
    """Base of the layers that draw noise: a seed drawn at construction,
    and the step key of each draw (see the module text).

    Attributes
    ----------
    seed : int
        Part of every draw's key. Layers of two networks with the same seed
        (and the same step keys) draw the same noise.
    call_counter : shared uint32 scalar or None
        The step key of graphs built without ``noise_key`` (created on first
        use; every call of a function using it adds one).
    """

    def __init__(self, incoming, **kwargs):
        super().__init__(incoming, **kwargs)
        self.seed = _new_seed()
        self.call_counter = None

    def _step_key(self, noise_key):
        if noise_key is not None:
            return noise_key
        if self.call_counter is None:
            self.call_counter = pytensor.shared(
                np.uint32(0), name="%s.call_counter" % (self.name or "noise"))
            with warnings.catch_warnings():
                # PyTensor 3 deprecates default updates, but they are what
                # gives every call of a compiled function new noise
                warnings.simplefilter("ignore", DeprecationWarning)
                self.call_counter.default_update = self.call_counter + np.uint32(1)
        return self.call_counter

    def _draw(self, draw, shape, dtype, noise_key, noise_row_offset):
        # the counters are per row: a scalar is drawn as one row of one
        values = draw(self.seed, self._step_key(noise_key), tuple(shape) or (1,),
                      noise_row_offset, dtype=dtype)
        if not shape:
            return values[0]
        # The shape as given: sizes known here (a shared axis' 1) become
        # static (size 1 broadcasts), and shape inference stops here instead
        # of tracing the shape through every round of the hash.
        return pt.specify_shape(values, tuple(shape))

    def _uniform(self, shape, dtype, noise_key, noise_row_offset):
        return self._draw(row_uniform, shape, dtype, noise_key, noise_row_offset)

    def _normal(self, shape, dtype, noise_key, noise_row_offset):
        return self._draw(row_normal, shape, dtype, noise_key, noise_row_offset)


class DropoutLayer(NoiseLayer):
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
    ``None`` or differ from the data. The layer's seed is drawn from
    :func:`lasagne_lstm.random.get_rng` at construction; each draw's key is
    described in the module text (``noise_key``, ``noise_row_offset``).
    """

    def __init__(self, incoming, p=0.5, rescale=True, shared_axes=(),
                 **kwargs):
        super().__init__(incoming, **kwargs)
        self.p = p
        self.rescale = rescale
        self.shared_axes = tuple(shared_axes)

    def get_output_for(self, input, deterministic=False, noise_key=None,
                       noise_row_offset=0, **kwargs):
        if deterministic or _is_constant(self.p, 0):
            return input
        retain_prob = pt.cast(1 - pt.as_tensor_variable(self.p), input.dtype)
        if self.rescale:
            input = input / retain_prob
        shared = set(a % input.ndim for a in self.shared_axes)
        mask_shape = tuple(1 if axis in shared else size
                           for axis, size in enumerate(_runtime_shape(input)))
        unit = self._uniform(mask_shape, input.dtype, noise_key, noise_row_offset)
        return input * pt.cast(pt.lt(unit, retain_prob), input.dtype)


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


class GaussianNoiseLayer(NoiseLayer):
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
        self.sigma = sigma

    def get_output_for(self, input, deterministic=False, noise_key=None,
                       noise_row_offset=0, **kwargs):
        if deterministic or _is_constant(self.sigma, 0):
            return input
        noise = self._normal(_runtime_shape(input), input.dtype, noise_key,
                             noise_row_offset)
        return input + pt.cast(self.sigma, input.dtype) * noise
