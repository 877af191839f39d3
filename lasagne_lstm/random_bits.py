"""Counter-based random numbers in plain PyTensor integer ops.

Randomness here is a pure function of a *key* and a *position*: element
``i`` of ``random_bits(key, shape)`` is a hash of ``(key, i)``, so the same
key gives the same bits on every backend (Python, C, Numba, JAX) and no
random state is hidden in the compiled function. (PyTensor's JAX linker
compiles with a copy of every shared random generator and never advances it,
so a stateful generator would repeat its masks there.)

The hash is Threefry-2x32 with 20 rounds (Salmon, Moraes, Dror and Shaw,
"Parallel random numbers: as easy as 1, 2, 3", SC 2011), the generator JAX
uses by default; it passes TestU01's BigCrush and uses only 32-bit additions,
rotations and exclusive-ors, all of which PyTensor has for ``uint32`` on every
backend. PyTensor has no shift ops, so a rotation is a wrapping multiplication
by ``2**r`` (the bits that leave the word drop off modulo ``2**32``) plus an
unsigned floor division by ``2**(32 - r)``.

A key is three ``uint32`` words ``(k0, k1, k2)``: ``(k0, k1)`` is Threefry's
key, and each block counter is ``(b, k2)``, where block ``b`` yields the two
words of elements ``2b`` and ``2b + 1`` (offset by a *position*, e.g. a loop
step, see :func:`random_bits`). :class:`CounterStreams`, the base of the
Theano-style ``RandomStreams`` and ``MRG_RandomStreams``, uses
``(seed, draw id, call counter)``.

Everything is ``uint32``: JAX with 64-bit mode off (the project's float32
setting) has no 64-bit integers. A draw holds fewer than ``2**31`` elements.
(float64 draws need 64-bit floats: on JAX, x64 on, as
:func:`lasagne_lstm.backends.get_mode` sets for ``floatX='float64'``.)
"""
import threading
import warnings
from contextlib import contextmanager

import numpy as np
import pytensor
import pytensor.scalar as ps
import pytensor.tensor as pt
from pytensor.graph.basic import Variable
from pytensor.tensor.elemwise import Elemwise
from pytensor.tensor.type import integer_dtypes

__all__ = ["random_bits", "uniform", "bernoulli", "normal", "as_key",
           "as_shape", "CounterStreams", "loop_step", "current_position",
           "KEY_WORDS", "row_words", "row_uniform", "row_normal"]

#: Words in a key: Threefry's two key words and the high counter word.
KEY_WORDS = 3
#: Threefry-2x32 rotation distances, applied in turn, eight per cycle.
_ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)
#: Threefry's key-schedule parity constant for 32-bit words.
_PARITY = 0x1BD11BDA
#: Rounds of Threefry-2x32 (a key is injected after every fourth).
_ROUNDS = 20
#: Bits of a float's significand (the implicit bit included).
_SIGNIFICAND_BITS = {"float16": 11, "float32": 24, "float64": 53}


def _u32(value):
    """A ``uint32`` constant: a plain Python int would upcast to int64."""
    return pt.constant(np.uint32(value), dtype="uint32")


class _WrappingAdd(ps.Add):
    """Binary ``uint32`` addition modulo ``2**32``, kept out of PyTensor's
    sum rewrites.

    The rewriter flattens nested additions into one n-ary ``Add``, whose
    Python implementation (used by FAST_COMPILE and by constant folding on
    every backend) sums Python ints and then fails to store a sum of
    ``2**32`` or more in ``uint32`` instead of wrapping. A distinct op class
    is not merged; the C, Numba and JAX code of ``Add`` is inherited.
    """

    nin = 2
    associative = False

    def impl(self, x, y):
        return np.uint32((int(x) + int(y)) & 0xFFFFFFFF)


_add = Elemwise(_WrappingAdd(ps.upcast_out, name="add_mod_2_32"))


def _low_word(x):
    """``x`` modulo ``2**32``: a no-op on ``uint32`` values, but Numba
    computes ``uint32`` sums and products of a fused loop in 64 bits and
    truncates only when storing, so a carry would reach a later division."""
    return pt.bitwise_and(x, _u32(0xFFFFFFFF))


def _rotate_left(x, r):
    """Rotate every 32-bit word of ``x`` left by ``r`` bits (0 < r < 32)."""
    x = _low_word(x)
    return pt.bitwise_or(x * _u32(1 << r), x // _u32(1 << (32 - r)))


def threefry2x32(key0, key1, counter0, counter1):
    """Threefry-2x32-20 of the counter pairs ``(counter0, counter1)``.

    Parameters
    ----------
    key0, key1 : uint32 tensors
        The two key words (usually scalars).
    counter0, counter1 : uint32 tensors
        The two counter words; they broadcast against each other.

    Returns
    -------
    tuple of two uint32 tensors
        The two output words of every counter.
    """
    schedule = (key0, key1,
                pt.bitwise_xor(pt.bitwise_xor(key0, key1), _u32(_PARITY)))
    x0 = _add(counter0, schedule[0])
    x1 = _add(counter1, schedule[1])
    for r in range(_ROUNDS):
        x0 = _add(x0, x1)
        x1 = pt.bitwise_xor(_rotate_left(x1, _ROTATIONS[r % 8]), x0)
        if r % 4 == 3:
            # key injection s adds the schedule rotated by s, and s itself
            s = r // 4 + 1
            x0 = _add(x0, schedule[s % 3])
            x1 = _add(_add(x1, schedule[(s + 1) % 3]), _u32(s))
    return _low_word(x0), _low_word(x1)


def as_key(key):
    """Return ``key`` as a ``uint32`` vector of :data:`KEY_WORDS` words.

    Parameters
    ----------
    key : int, sequence of ints and/or symbolic integer scalars, or a
        symbolic integer vector
        One to three words; missing trailing words are zero. Python ints
        must lie in ``[0, 2**32)``. A symbolic vector of unknown length is
        read as three words (a shorter one fails when the function runs).

    Raises
    ------
    ValueError, TypeError
        For a key of the wrong length, range or dtype.
    """
    if isinstance(key, Variable):
        key = pt.as_tensor_variable(key)
        if key.ndim == 0:
            key = [key]
        else:
            _check_integer(key, "key")
            try:
                length = pt.get_vector_length(key)
            except ValueError:
                # a key input of unknown length is read as a full key
                length = KEY_WORDS
            if not 1 <= length <= KEY_WORDS:
                raise ValueError("a key has 1 to %d words, got %d"
                                 % (KEY_WORDS, length))
            key = [key[i] for i in range(length)]
    elif np.ndim(key) == 0:
        key = [key]
    words = list(key)
    if not 1 <= len(words) <= KEY_WORDS:
        raise ValueError("a key has 1 to %d words, got %d"
                         % (KEY_WORDS, len(words)))
    words += [0] * (KEY_WORDS - len(words))
    return pt.stack([_as_word(w) for w in words])


def _as_word(word):
    """One key word as a uint32 scalar (symbolic words are cast, which
    wraps negative values modulo ``2**32``)."""
    if isinstance(word, Variable):
        word = pt.as_tensor_variable(word)
        _check_integer(word, "a key word")
        if word.ndim != 0:
            raise ValueError("a key word must be a scalar, got %d dimensions"
                             % word.ndim)
        return pt.cast(word, "uint32")
    if not isinstance(word, (int, np.integer)) or isinstance(word, bool):
        raise TypeError("a key word must be an integer, got %r" % (word,))
    if not 0 <= int(word) < 2 ** 32:
        raise ValueError("a key word must lie in [0, 2**32), got %d" % word)
    return _u32(int(word))


def _check_integer(var, what):
    if var.dtype not in integer_dtypes:
        raise TypeError("%s must be of an integer dtype, got %s"
                        % (what, var.dtype))


def as_shape(shape, ndim=None):
    """Return ``(shape vector, ndim)`` for a shape given as Theano took it.

    Parameters
    ----------
    shape : int, tuple/list of ints and/or symbolic integer scalars, or a
        symbolic integer vector (such as ``x.shape``)
        The shape of a draw.
    ndim : int, optional
        The number of dimensions, needed only when ``shape`` is a symbolic
        vector of unknown length; else checked against it.

    Returns
    -------
    shape : int64 TensorVariable (a constant when the shape is all ints)
    ndim : int
    """
    if isinstance(shape, Variable):
        shape = pt.as_tensor_variable(shape)
        _check_integer(shape, "size")
        if shape.ndim == 0:
            return as_shape((shape,), ndim)
        if shape.ndim != 1:
            raise ValueError("size must be a vector of lengths, got %d "
                             "dimensions" % shape.ndim)
        try:
            length = pt.get_vector_length(shape)
        except ValueError:
            if ndim is None:
                raise ValueError("the length of size is not known when the "
                                 "graph is built: pass ndim=") from None
            length = ndim
        _check_ndim(length, ndim)
        return pt.cast(shape, "int64"), length
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    dims = tuple(shape)
    _check_ndim(len(dims), ndim)
    if all(isinstance(d, (int, np.integer)) for d in dims):
        if any(d < 0 for d in dims):
            raise ValueError("size must not be negative, got %r" % (dims,))
        return pt.constant(np.array(dims, dtype="int64")), len(dims)
    lengths = []
    for d in dims:
        d = pt.as_tensor_variable(d)
        _check_integer(d, "every length in size")
        if d.ndim != 0:
            raise ValueError("every length in size must be a scalar")
        lengths.append(pt.cast(d, "int64"))
    return pt.stack(lengths), len(dims)


def _check_ndim(length, ndim):
    if ndim is not None and ndim != length:
        raise ValueError("ndim=%d does not match a size of %d dimensions"
                         % (ndim, length))


def random_bits(key, shape, ndim=None, position=None):
    """Uniformly random ``uint32`` words, a pure function of key and index.

    Element ``i`` (in C order) is word ``i % 2`` of
    ``threefry2x32(key=(k0, k1), counter=(b + i // 2, k2))``, where
    ``b = position * ceil(size / 2)`` (0 without a position); so a prefix of
    a larger draw with the same key holds the same bits, and the draws of
    positions 0, 1, 2, ... (the steps of a loop) use disjoint counters.

    Parameters
    ----------
    key : see :func:`as_key`
    shape : see :func:`as_shape`
    ndim : int, optional
        See :func:`as_shape`.
    position : int or symbolic integer scalar, optional
        Which of a sequence of same-shaped draws this is. Counters are 32-bit:
        keep ``(position + 1) * ceil(size / 2)`` below ``2**32``.

    Returns
    -------
    uint32 TensorVariable of the given shape
    """
    key = as_key(key)
    shape, ndim = as_shape(shape, ndim)
    size = pt.prod(shape)
    n_blocks = (size + 1) // 2
    blocks = pt.cast(pt.arange(n_blocks), "uint32")
    if position is not None:
        offset = pt.cast(position, "uint32") * pt.cast(n_blocks, "uint32")
        blocks = _add(blocks, offset)
    word0, word1 = threefry2x32(key[0], key[1], blocks, key[2])
    # interleave so that the bits of an element do not depend on the size
    flat = pt.stack([word0, word1], axis=1).reshape((-1,))[:size]
    return pt.reshape(flat, shape, ndim=ndim)


def _float_dtype(dtype):
    dtype = pytensor.config.floatX if dtype is None else str(dtype)
    if dtype not in _SIGNIFICAND_BITS:
        raise ValueError("dtype must be one of %s, got %r"
                         % (", ".join(_SIGNIFICAND_BITS), dtype))
    return dtype


def _words_per_float(dtype):
    return 2 if _SIGNIFICAND_BITS[dtype] > 32 else 1


def _unit_floats(key, shape, ndim, dtype, count, position):
    """``count`` independent arrays of uniform floats in [0, 1): one or two
    words per float, its top significand-many bits, so every value is exact
    and none rounds up to 1."""
    shape, ndim = as_shape(shape, ndim)
    words = _words_per_float(dtype)
    bits = random_bits(key, pt.concatenate([shape, [count * words]]),
                       ndim=ndim + 1, position=position)
    mantissa = _SIGNIFICAND_BITS[dtype]
    floats = []
    for j in range(count):
        if words == 1:
            top = bits[..., j] // _u32(1 << (32 - mantissa))
            value = pt.cast(top, dtype) * np.asarray(2.0 ** -mantissa, dtype)
        else:
            # 27 high bits of one word and 26 of the next: 53 in all
            high = pt.cast(bits[..., 2 * j] // _u32(1 << 5), dtype)
            low = pt.cast(bits[..., 2 * j + 1] // _u32(1 << 6), dtype)
            value = (high * np.asarray(2.0 ** 26, dtype) + low) \
                * np.asarray(2.0 ** -53, dtype)
        floats.append(value)
    return floats


def row_words(seed, step, shape, row_offset=0):
    """Two words of random bits per element of ``shape``, keyed by the
    element's *coordinates*: element ``(r, i...)`` holds
    ``threefry2x32(key=(seed, step), counter=(j, row_offset + r))``, where
    ``j`` is the C-order index of ``(i...)`` within its row.

    The bits of a position thus depend neither on how many rows a batch has
    nor on how far its rows are padded: a row split off into a micro-batch
    (with its ``row_offset``) or padded to another width draws the same
    numbers at its real positions. This is what makes dropout masks equal in
    masked and accumulation training.

    Parameters
    ----------
    seed, step : int or uint32 scalar tensors
        The key: a layer's seed and the update number, for instance.
    shape : see :func:`as_shape`
        At least one dimension (the rows).
    row_offset : int or uint32 scalar tensor
        The global index of the first row.

    Returns
    -------
    tuple of two uint32 tensors of ``shape``
    """
    shape, ndim = as_shape(shape)
    if ndim < 1:
        raise ValueError("row_words needs at least one dimension (the rows)")
    rows = pt.cast(pt.arange(shape[0]), "uint32")
    row_counter = _add(rows, pt.cast(row_offset, "uint32"))
    within = pt.cast(pt.arange(pt.prod(shape[1:])), "uint32")
    within = within.reshape(shape[1:], ndim=ndim - 1)
    row_counter = row_counter.reshape((-1,) + (1,) * (ndim - 1), ndim=ndim)
    return threefry2x32(pt.cast(seed, "uint32"), pt.cast(step, "uint32"),
                        within[None], row_counter)


def _unit_from_words(high, low, dtype):
    """Uniform floats in [0, 1) from one word (float32: its top 24 bits) or
    two (float64: 27 + 26 bits)."""
    mantissa = _SIGNIFICAND_BITS[dtype]
    if _words_per_float(dtype) == 1:
        top = high // _u32(1 << (32 - mantissa))
        return pt.cast(top, dtype) * np.asarray(2.0 ** -mantissa, dtype)
    high = pt.cast(high // _u32(1 << 5), dtype)
    low = pt.cast(low // _u32(1 << 6), dtype)
    return (high * np.asarray(2.0 ** 26, dtype) + low) * np.asarray(2.0 ** -53, dtype)


def row_uniform(seed, step, shape, row_offset=0, dtype=None):
    """Uniform floats in [0, 1), keyed by coordinates (see :func:`row_words`)."""
    dtype = _float_dtype(dtype)
    high, low = row_words(seed, step, shape, row_offset)
    return _unit_from_words(high, low, dtype)


def row_normal(seed, step, shape, row_offset=0, dtype=None):
    """Standard normal floats keyed by coordinates (see :func:`row_words`):
    Box-Muller on the two words of each element (float32 precision)."""
    dtype = _float_dtype(dtype)
    work = "float32" if dtype == "float16" else dtype
    high, low = row_words(seed, step, shape, row_offset)
    # 24 bits of each word: u1 < 1 exactly, so log(1 - u1) is finite
    u1 = pt.cast(_unit_from_words(high, None, "float32"), work)
    u2 = pt.cast(_unit_from_words(low, None, "float32"), work)
    radius = pt.sqrt(np.asarray(-2.0, work) * pt.log(np.asarray(1.0, work) - u1))
    return pt.cast(radius * pt.cos(np.asarray(2.0 * np.pi, work) * u2), dtype)


def _as_float_param(value, dtype):
    return pt.cast(pt.as_tensor_variable(value), dtype)


def uniform(key, shape, low=0.0, high=1.0, dtype=None, ndim=None,
            position=None):
    """Uniform floats in ``[low, high)`` (up to rounding of the affine map).

    Parameters
    ----------
    key, shape, ndim, position : see :func:`random_bits`
    low, high : float or tensors broadcasting to ``shape``
    dtype : {'float16', 'float32', 'float64'}, optional
        Default ``floatX``. float32 uses the top 24 bits of one word,
        float64 53 bits of two words.
    """
    dtype = _float_dtype(dtype)
    (unit,) = _unit_floats(key, shape, ndim, dtype, 1, position)
    if _is_number(low, 0.0) and _is_number(high, 1.0):
        return unit
    low = _as_float_param(low, dtype)
    high = _as_float_param(high, dtype)
    return low + (high - low) * unit


def _is_number(value, number):
    return isinstance(value, (int, float)) and value == number


def bernoulli(key, p, shape, dtype=None, ndim=None, position=None):
    """0/1 values, 1 with probability ``p`` (``uniform < p``).

    Parameters
    ----------
    key, shape, ndim, position : see :func:`random_bits`
    p : float or tensor broadcasting to ``shape``
        The probability of a one.
    dtype : str, optional
        Of the result; default ``floatX``. The comparison uses uniforms of
        ``p``'s float dtype (``floatX`` for a Python number).
    """
    dtype = pytensor.config.floatX if dtype is None else str(dtype)
    # a Python float would be typed float32 when exact in it (0.5): floatX
    compare = getattr(p, "dtype", None)
    if compare not in _SIGNIFICAND_BITS:
        compare = pytensor.config.floatX
    p = pt.as_tensor_variable(p)
    unit = uniform(key, shape, dtype=compare, ndim=ndim, position=position)
    return pt.cast(pt.lt(unit, pt.cast(p, compare)), dtype)


def normal(key, shape, avg=0.0, std=1.0, dtype=None, ndim=None,
           position=None):
    """Normal floats by the Box-Muller transform of two uniforms.

    Parameters
    ----------
    key, shape, ndim, position : see :func:`random_bits`
    avg, std : float or tensors broadcasting to ``shape``
    dtype : {'float16', 'float32', 'float64'}, optional
        Default ``floatX`` (float16 computes in float32).
    """
    dtype = _float_dtype(dtype)
    work = "float32" if dtype == "float16" else dtype
    u1, u2 = _unit_floats(key, shape, ndim, work, 2, position)
    # 1 - u1 lies in (0, 1]: log never sees 0
    radius = pt.sqrt(np.asarray(-2.0, work) * pt.log(np.asarray(1.0, work) - u1))
    z = radius * pt.cos(np.asarray(2.0 * np.pi, work) * u2)
    z = pt.cast(z, dtype)
    if _is_number(avg, 0.0) and _is_number(std, 1.0):
        return z
    return _as_float_param(avg, dtype) + _as_float_param(std, dtype) * z


_loops = threading.local()


@contextmanager
def loop_step(step, length):
    """Give the stream draws built inside the context a loop position.

    :func:`lasagne_lstm.theano.scan` builds its step function inside this
    context, so a draw made in a loop body gets new numbers at every step,
    as Theano's streams did inside ``scan``: step ``t`` of a loop of at most
    ``length`` steps (nested loops: ``t_outer * length_inner + t_inner``)
    is the draw's :func:`random_bits` position.

    Parameters
    ----------
    step : symbolic integer scalar
        The step index inside the loop body.
    length : int or symbolic integer scalar
        An upper bound of the number of steps.
    """
    stack = getattr(_loops, "stack", None)
    if stack is None:
        stack = _loops.stack = []
    stack.append((step, length))
    try:
        yield
    finally:
        stack.pop()


def current_position():
    """The loop position of draws built now (None outside loops)."""
    stack = getattr(_loops, "stack", None)
    if not stack:
        return None
    position = pt.cast(stack[0][0], "uint32")
    for step, length in stack[1:]:
        position = _add(position * pt.cast(length, "uint32"),
                        pt.cast(step, "uint32"))
    return position


class CounterStreams:
    """Random streams on :func:`random_bits`: Theano's stream interface,
    the same bits on every backend.

    Draw ``d`` of the stream (its ``d``-th call of :meth:`uniform`,
    :meth:`normal` or :meth:`binomial`, counted while the graph is built) on
    the ``c``-th call of a compiled function has the key ``(seed, d, c)``.
    ``c`` is one shared ``uint32`` counter per stream whose default update
    adds one, so each call of a function using the stream gets new samples,
    on JAX too (it is an ordinary shared update). A draw built inside the
    step function of :func:`lasagne_lstm.theano.scan` gets new numbers at
    every step (see :func:`loop_step`); one built inside ``pytensor.scan``
    directly repeats its numbers at every step of a call.

    The numbers differ from those of Theano's own generators (same
    distributions, not the same values).

    Parameters
    ----------
    seed : int or None
        In ``[0, 2**32)``. None draws one from the package generator
        (:func:`lasagne_lstm.random.get_rng`), so ``numpy.random.seed`` or
        ``lasagne.random.set_rng`` make it reproducible.
    """

    def __init__(self, seed=None):
        self._seed = pytensor.shared(np.uint32(0), name="stream_seed")
        self._counter = pytensor.shared(np.uint32(0), name="stream_counter")
        with warnings.catch_warnings():
            # PyTensor 3 deprecates default updates, but they are what gives
            # every call of a compiled function new samples
            warnings.simplefilter("ignore", DeprecationWarning)
            self._counter.default_update = self._counter + _u32(1)
        self._draws = 0
        self.seed(seed)

    def seed(self, seed=None):
        """Restart the stream: set the seed and rewind the call counter, so
        already-built draws repeat the sequence of a fresh stream."""
        if seed is None:
            seed = _seed_from_package_rng()
        self._seed.set_value(np.uint32(_check_seed(seed)))
        self._counter.set_value(np.uint32(0))

    @property
    def state_variables(self):
        """The shared ``uint32`` scalars (seed, call counter) that hold the
        stream's whole state: save and restore them for checkpoints."""
        return [self._seed, self._counter]

    @property
    def state_updates(self):
        """Theano's attribute: the ``(shared, update)`` pairs of the stream."""
        return self.updates()

    def updates(self):
        """``[(counter, counter + 1)]``: the update a compiled function
        applies by default, for code that passes updates explicitly."""
        return [(self._counter, self._counter + _u32(1))]

    def _next_key(self):
        draw = self._draws
        self._draws += 1
        return as_key([self._seed, _u32(draw), self._counter])

    def uniform(self, size=(), low=0.0, high=1.0, ndim=None, dtype=None):
        """Uniform floats in ``[low, high)`` of shape ``size``.

        ``dtype`` defaults to ``floatX``, upcast to the dtype of a
        symbolic ``low``/``high``.
        """
        size = _params_size(size, low, high)
        dtype = _default_float(dtype, low, high)
        return uniform(self._next_key(), size, low, high, dtype, ndim,
                       current_position())

    def normal(self, size=(), avg=0.0, std=1.0, ndim=None, dtype=None):
        """Normal floats of mean ``avg`` and standard deviation ``std``."""
        size = _params_size(size, avg, std)
        dtype = _default_float(dtype, avg, std)
        return normal(self._next_key(), size, avg, std, dtype, ndim,
                      current_position())

    def binomial(self, size=(), n=1, p=0.5, ndim=None, dtype="int64"):
        """The number of successes in ``n`` trials of probability ``p``.

        ``n`` must be a Python int; ``n > 1`` sums ``n`` Bernoulli draws.
        """
        size = _params_size(size, p)
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) \
                or n < 1:
            raise ValueError("binomial needs n to be a positive Python int, "
                             "got %r" % (n,))
        key = self._next_key()
        position = current_position()
        if n == 1:
            return bernoulli(key, p, size, dtype, ndim, position)
        shape, ndim = as_shape(size, ndim)
        trials = bernoulli(key, p, pt.concatenate([[n], shape]), "int64",
                           ndim + 1, position)
        return pt.cast(trials.sum(axis=0), dtype)


def _seed_from_package_rng():
    """A seed from :func:`lasagne_lstm.random.get_rng`: ``numpy.random``,
    a ``RandomState`` or a ``Generator``."""
    from .random import get_rng
    rng = get_rng()
    draw = rng.integers if hasattr(rng, "integers") else rng.randint
    return int(draw(0, 2 ** 31))


def _check_seed(seed):
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError("seed must be an int in [0, 2**32), got %r" % (seed,))
    if not 0 <= int(seed) < 2 ** 32:
        raise ValueError("seed must lie in [0, 2**32), got %d" % seed)
    return int(seed)


def _params_size(size, *params):
    """Theano's ``size=None``: the broadcast shape of the parameters."""
    if size is not None:
        return size
    tensors = [pt.as_tensor_variable(p) for p in params]
    if all(t.ndim == 0 for t in tensors):
        return ()
    return tuple(pt.broadcast_shape(*tensors))


def _default_float(dtype, *params):
    if dtype is not None:
        return str(dtype)
    dtypes = [pytensor.config.floatX]
    dtypes += [p.dtype for p in params if isinstance(p, Variable)
               and p.dtype in _SIGNIFICAND_BITS]
    return pytensor.scalar.upcast(*dtypes)
