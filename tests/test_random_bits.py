"""The counter-based generator (lasagne_lstm.random_bits) against an
independent NumPy transcription of Threefry-2x32-20, the published
known-answer vectors, JAX's own Threefry, and statistical checks.

Compiled functions are few: one FAST_COMPILE function for everything on the
Python backend, one small function per compiled backend.
"""
import math

import numpy as np
import pytest
import pytensor
import pytensor.tensor as pt

from lasagne_lstm import random_bits as rb
from lasagne_lstm.backends import get_mode


# ---------------------------------------------------------------------------
# NumPy reference, written from the Threefry specification (Salmon et al.,
# SC 2011) with real shifts, independently of the library's mul/div rotations

_ROTATION_GROUPS = ((13, 15, 26, 6), (17, 29, 16, 24))


def _rotl_numpy(x, r):
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def threefry2x32_numpy(k0, k1, c0, c1):
    """Threefry-2x32, 20 rounds, on uint32 arrays (five groups of four
    rounds, a key injection after each group)."""
    with np.errstate(over="ignore"):
        ks = [np.uint32(k0), np.uint32(k1),
              np.uint32(k0) ^ np.uint32(k1) ^ np.uint32(0x1BD11BDA)]
        x0 = np.asarray(c0, np.uint32) + ks[0]
        x1 = np.asarray(c1, np.uint32) + ks[1]
        for group in range(5):
            for r in _ROTATION_GROUPS[group % 2]:
                x0 = x0 + x1
                x1 = _rotl_numpy(x1, r) ^ x0
            x0 = x0 + ks[(group + 1) % 3]
            x1 = x1 + ks[(group + 2) % 3] + np.uint32(group + 1)
    return x0.astype(np.uint32), x1.astype(np.uint32)


def random_bits_numpy(key, shape, position=0):
    """Element i: word i % 2 of threefry((k0, k1), (b + i // 2, k2)),
    b = position * ceil(size / 2)."""
    key = list(key) + [0] * (3 - len(key))
    size = int(np.prod(shape, dtype=np.int64))
    blocks = (size + 1) // 2
    counters = (np.arange(blocks, dtype=np.uint64) + position * blocks) \
        % 2 ** 32
    w0, w1 = threefry2x32_numpy(key[0], key[1], counters.astype(np.uint32),
                                np.full(blocks, key[2], np.uint32))
    return np.stack([w0, w1], axis=1).ravel()[:size].reshape(shape)


def uniform_numpy(key, shape, dtype, position=0):
    """float32: top 24 bits of one word; float64: 27 + 26 bits of two."""
    if dtype == "float32":
        bits = random_bits_numpy(key, shape, position)
        return ((bits >> 8).astype(np.float64) / 2.0 ** 24).astype(np.float32)
    bits = random_bits_numpy(key, tuple(shape) + (2,), position)
    high = (bits[..., 0] >> 5).astype(np.float64)
    low = (bits[..., 1] >> 6).astype(np.float64)
    return (high * 2.0 ** 26 + low) / 2.0 ** 53


def normal_numpy(key, shape, dtype, position=0):
    """Box-Muller on the element's two uniforms, cosine branch."""
    words = 1 if dtype == "float32" else 2
    bits = random_bits_numpy(key, tuple(shape) + (2 * words,), position)
    if words == 1:
        u = (bits >> 8).astype(np.float64) / 2.0 ** 24
        u1, u2 = u[..., 0], u[..., 1]
    else:
        u = [((bits[..., 2 * j] >> 5).astype(np.float64) * 2.0 ** 26
              + (bits[..., 2 * j + 1] >> 6)) / 2.0 ** 53 for j in range(2)]
        u1, u2 = u
    z = np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)
    return z.astype(dtype)


# ---------------------------------------------------------------------------
# the reference itself

# Random123's kat_vectors for threefry2x32 with 20 rounds: counter, key, output
_KNOWN_ANSWERS = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6b200159, 0x99ba4efe)),
    ((0xffffffff, 0xffffffff), (0xffffffff, 0xffffffff),
     (0x1cb996fc, 0xbb002be7)),
    ((0x243f6a88, 0x85a308d3), (0x13198a2e, 0x03707344),
     (0xc4923a9c, 0x483df7a0)),
]


@pytest.mark.parametrize("counter,key,expected", _KNOWN_ANSWERS)
def test_numpy_reference_matches_published_vectors(counter, key, expected):
    out = threefry2x32_numpy(key[0], key[1], [counter[0]], [counter[1]])
    assert (int(out[0][0]), int(out[1][0])) == expected


def test_numpy_reference_matches_jax_threefry():
    jax_random = pytest.importorskip("jax.extend.random")
    import jax.numpy as jnp
    rng = np.random.RandomState(0)
    c0, c1 = rng.randint(0, 2 ** 32, size=(2, 50), dtype=np.uint64) \
        .astype(np.uint32)
    key = np.array([0xdeadbeef, 12345], np.uint32)
    # JAX pairs the first half of its counts with the second half
    out = jax_random.threefry_2x32(jnp.asarray(key),
                                   jnp.asarray(np.concatenate([c0, c1])))
    w0, w1 = threefry2x32_numpy(key[0], key[1], c0, c1)
    np.testing.assert_array_equal(np.asarray(out), np.concatenate([w0, w1]))


# ---------------------------------------------------------------------------
# the symbolic generator on the Python backend (one compiled function)

_N = 2 ** 17
_BIT_SHAPE = (256, 256)


@pytest.fixture(scope="module")
def python_draws():
    """One FAST_COMPILE function: bits of a symbolic shape, float64
    uniforms (and an affine map of the same draw, which PyTensor merges with
    it), Bernoulli and normal values, and float32 uniforms at a loop
    position from a two-word key; the key and sizes are inputs."""
    key = pt.vector("key", dtype="uint32")
    x = pt.matrix("x")
    n = pt.lscalar("n")
    position = pt.lscalar("position")
    outputs = [
        rb.random_bits(key, x.shape),
        rb.uniform(key, (n,), dtype="float64"),
        rb.uniform(key, (n,), low=-2.0, high=3.0, dtype="float64"),
        rb.bernoulli(key, 0.3, (n,), dtype="int8"),
        rb.normal(key, (n,), dtype="float64"),
        rb.uniform([key[0], key[1]], (5,), dtype="float32",
                   position=position),
    ]
    fn = pytensor.function([key, x, n, position], outputs,
                           mode=get_mode("fast_compile"))

    def draw(key_words, bit_shape=_BIT_SHAPE, n=_N, position=3):
        return fn(np.asarray(key_words, np.uint32), np.zeros(bit_shape), n,
                  position)
    return draw


def test_bits_equal_reference_python(python_draws):
    key = (7, 0xfffffffe, 123456789)
    bits, u64, spread, bern, z, at = python_draws(key, bit_shape=(3, 5), n=9)
    assert bits.dtype == np.uint32
    np.testing.assert_array_equal(bits, random_bits_numpy(key, (3, 5)))
    np.testing.assert_array_equal(u64, uniform_numpy(key, (9,), "float64"))
    np.testing.assert_allclose(
        spread, -2.0 + 5.0 * uniform_numpy(key, (9,), "float64"), rtol=1e-15)
    np.testing.assert_array_equal(
        bern, (uniform_numpy(key, (9,), "float64") < 0.3).astype(np.int8))
    np.testing.assert_allclose(z, normal_numpy(key, (9,), "float64"),
                               rtol=1e-12, atol=1e-12)
    # a two-word key is padded with a zero word; position 3 of size 5 starts
    # at block 3 * 3
    assert at.dtype == np.float32
    np.testing.assert_array_equal(
        at, uniform_numpy(key[:2] + (0,), (5,), "float32", position=3))


def test_prefix_of_a_larger_draw_is_the_same(python_draws):
    key = (1, 2, 3)
    small = python_draws(key, bit_shape=(1, 7), n=3)[0].ravel()
    large = python_draws(key, bit_shape=(4, 5), n=3)[0].ravel()
    np.testing.assert_array_equal(small, large[:7])


def test_every_bit_is_balanced(python_draws):
    bits = python_draws((11, 0, 0))[0].ravel()
    freq = np.array([((bits >> np.uint32(b)) & np.uint32(1)).mean()
                     for b in range(32)])
    se = math.sqrt(0.25 / bits.size)
    assert np.all(np.abs(freq - 0.5) < 5 * se), freq


def test_uniform_moments_and_chi_square(python_draws):
    u = python_draws((2024, 5, 0))[1]
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / _N)
    # standard error of the sample variance of U(0, 1): (1/80 - 1/144) / n
    assert abs(u.var() - 1 / 12) < 5 * math.sqrt((1 / 80 - 1 / 144) / _N)
    counts = np.bincount((u * 64).astype(int), minlength=64)
    expected = _N / 64
    chi2 = ((counts - expected) ** 2 / expected).sum()
    # 63 degrees of freedom: 23 and 132 are about the 1e-6 tails
    assert 23 < chi2 < 132, chi2


def _correlation(a, b):
    return float(np.corrcoef(a, b)[0, 1])


def test_neighbours_and_adjacent_keys_are_uncorrelated(python_draws):
    bound = 5 / math.sqrt(_N)
    base = python_draws((99, 4, 10))[1]
    assert abs(_correlation(base[:-1], base[1:])) < bound
    # next call (counter + 1), next draw id, next seed: same elements
    for key in ((99, 4, 11), (99, 5, 10), (100, 4, 10)):
        other = python_draws(key)[1]
        assert abs(_correlation(base, other)) < bound, key


def test_bernoulli_frequency(python_draws):
    bern = python_draws((5, 6, 7))[3]
    assert set(np.unique(bern)) <= {0, 1}
    assert abs(bern.mean() - 0.3) < 5 * math.sqrt(0.3 * 0.7 / _N)


def test_normal_moments_and_kolmogorov_smirnov(python_draws):
    z = python_draws((31, 41, 59))[4]
    assert np.all(np.isfinite(z))
    assert abs(z.mean()) < 5 / math.sqrt(_N)
    assert abs(z.std() - 1) < 5 * math.sqrt(1 / (2 * _N))
    z = np.sort(z)
    cdf = 0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))
    empirical = np.arange(1, _N + 1) / _N
    distance = max(np.max(empirical - cdf), np.max(cdf - (empirical - 1 / _N)))
    # Kolmogorov-Smirnov at a 1e-6 level: sqrt(-ln(5e-7) / (2 n))
    assert distance < math.sqrt(-math.log(5e-7) / (2 * _N)), distance


# ---------------------------------------------------------------------------
# the same bits on the compiled backends

@pytest.mark.parametrize("backend", ["c", "numba", "jax"])
def test_bits_equal_reference_on_backend(backend):
    """Bits, float32 uniforms and normals computed by the backend's own code
    (the key is an input, so nothing is constant-folded in Python), and a
    stream's masks: new ones on every call, the seed's sequence again after
    ``seed`` (on JAX this is an ordinary shared update). The three key draws
    hash the same 12 words, which PyTensor computes once: one compile less."""
    if backend == "jax":
        pytest.importorskip("jax")
    previous = pytensor.config.floatX
    pytensor.config.floatX = "float32"
    try:
        mode = get_mode(backend)
        key = pt.vector("key", dtype="uint32")
        x = pt.matrix("x", shape=(3, 4))
        stream = rb.CounterStreams(seed=77)
        mask = stream.binomial(x.shape, p=0.5, dtype="float32")
        fn = pytensor.function(
            [key, x], [rb.random_bits(key, (6, 2)),
                       rb.uniform(key, (6, 2), dtype="float32"),
                       rb.normal(key, (6,), dtype="float32"), mask],
            mode=mode)
        words = (0x9e3779b9, 17, 4000000000)
        xs = np.zeros((3, 4), np.float32)
        bits, u, z, first = fn(np.asarray(words, np.uint32), xs)
        second = fn(np.asarray(words, np.uint32), xs)[3]
        stream.seed(77)
        again = fn(np.asarray(words, np.uint32), xs)[3]
    finally:
        pytensor.config.floatX = previous
        if backend == "jax":
            get_mode("jax")  # x64 back on for the float64 session
    np.testing.assert_array_equal(bits, random_bits_numpy(words, (6, 2)))
    np.testing.assert_array_equal(u, uniform_numpy(words, (6, 2), "float32"))
    np.testing.assert_allclose(z, normal_numpy(words, (6,), "float32"),
                               rtol=2e-6, atol=2e-6)
    # the stream's first draw: key (seed, draw 0, call counter)
    for counter, got in ((0, first), (1, second)):
        expected = uniform_numpy((77, 0, counter), (3, 4), "float32") < 0.5
        np.testing.assert_array_equal(got, expected.astype(np.float32))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(again, first)


# ---------------------------------------------------------------------------
# argument checking (no compilation)

def test_key_and_shape_errors():
    with pytest.raises(ValueError, match="1 to 3 words"):
        rb.random_bits([1, 2, 3, 4], (2,))
    with pytest.raises(ValueError, match=r"\[0, 2\*\*32\)"):
        rb.random_bits([2 ** 32], (2,))
    with pytest.raises(TypeError, match="integer dtype"):
        rb.random_bits(pt.vector("k"), (2,))
    with pytest.raises(ValueError, match="not be negative"):
        rb.random_bits([1], (2, -1))
    with pytest.raises(ValueError, match="ndim=3 does not match"):
        rb.random_bits([1], (2, 2), ndim=3)
    with pytest.raises(ValueError, match="pass ndim="):
        rb.random_bits([1], pt.lvector("shape"))
    with pytest.raises(ValueError, match="dtype must be one of"):
        rb.uniform([1], (2,), dtype="int32")


def test_graph_types():
    key = pt.vector("key", dtype="uint32")
    x = pt.tensor3("x")
    assert rb.random_bits(key, (2, 3)).type.shape == (2, 3)
    assert rb.random_bits(key, x.shape).ndim == 3
    assert rb.random_bits(key, pt.lvector("s"), ndim=2).ndim == 2
    assert rb.random_bits(key, ()).ndim == 0
    assert rb.uniform(key, (2,), dtype="float32").dtype == "float32"
    assert rb.normal(key, (2,), dtype="float16").dtype == "float16"
    assert rb.bernoulli(key, 0.5, (2,), dtype="int8").dtype == "int8"
