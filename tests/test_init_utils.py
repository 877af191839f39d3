"""Initializers, nonlinearities and utilities against NumPy references."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lasagne_lstm import init, nonlinearities as nl, random as lrandom, utils

FLOATX = pytensor.config.floatX


@pytest.fixture
def seeded():
    """Use a RandomState(123) as the package RNG; restore afterwards."""
    old = lrandom.get_rng()
    lrandom.set_rng(np.random.RandomState(123))
    yield np.random.RandomState(123)      # an identical reference generator
    lrandom.set_rng(old)


# ---------------------------------------------------------------- init

def same(actual, desired):
    """Equal up to rounding in how the scale was computed."""
    np.testing.assert_allclose(actual, desired, rtol=1e-12, atol=0)


def test_numpy_random_module_as_rng():
    # the default generator is the numpy.random module: np.random.seed works
    old = lrandom.get_rng()
    lrandom.set_rng(np.random)
    try:
        np.random.seed(5)
        a = init.Normal()((3, 2))
        np.random.seed(5)
        np.testing.assert_array_equal(init.Normal()((3, 2)), a)
    finally:
        lrandom.set_rng(old)


def test_constant_normal_uniform(seeded):
    c = init.Constant(2.5)((2, 3))
    assert c.dtype == FLOATX and c.shape == (2, 3) and (c == 2.5).all()
    assert (init.Constant()((4,)) == 0).all()
    n = init.Normal(0.5, mean=1.0)((3, 4))
    np.testing.assert_array_equal(n, seeded.normal(1.0, 0.5, size=(3, 4)))
    u = init.Uniform(0.2)((5,))
    np.testing.assert_array_equal(u, seeded.uniform(-0.2, 0.2, size=(5,)))
    u = init.Uniform((1, 3))((2, 2))
    np.testing.assert_array_equal(u, seeded.uniform(1, 3, size=(2, 2)))
    assert init.Uniform((1, 3), mean=100).range == (1, 3)
    lo, hi = init.Uniform(std=2.0, mean=1.0).range
    np.testing.assert_allclose([lo, hi], [1 - 2 * np.sqrt(3), 1 + 2 * np.sqrt(3)])
    assert init.Uniform(0.5).range == (-0.5, 0.5)
    assert init.Normal().std == 0.01 and init.Normal().mean == 0.0
    with pytest.raises(NotImplementedError):
        init.Initializer()((2, 2))


def test_normal_statistics(seeded):
    big = init.Normal(std=0.3, mean=-1)((200, 200))
    assert abs(big.mean() + 1) < 0.01 and abs(big.std() - 0.3) < 0.01


def test_glorot(seeded):
    shape = (30, 50)
    bound = np.sqrt(6. / 80)
    same(init.GlorotUniform()(shape),
                                  seeded.uniform(-bound, bound, size=shape))
    std = np.sqrt(2. / 80) * np.sqrt(2)
    same(init.GlorotNormal(gain="relu")(shape),
                                  seeded.normal(0., std, size=shape))
    # receptive field: (n_in, n_out, 3, 2) -> rf 6
    std = 0.5 * np.sqrt(2. / ((4 + 5) * 6))
    same(init.GlorotNormal(gain=0.5)((4, 5, 3, 2)),
                                  seeded.normal(0., std, size=(4, 5, 3, 2)))
    # c01b: n_in = shape[0], n_out = shape[3], rf = shape[1] * shape[2]
    std = np.sqrt(2. / ((4 + 7) * 6))
    same(
        init.GlorotNormal(c01b=True)((4, 2, 3, 7)),
        seeded.normal(0., std, size=(4, 2, 3, 7)))
    g = init.Glorot(init.Normal)
    assert g.initializer is init.Normal and g.gain == 1.0
    with pytest.raises(RuntimeError):
        init.GlorotUniform()((5,))
    with pytest.raises(RuntimeError):
        init.GlorotUniform(c01b=True)((5, 3, 2))


def test_he(seeded):
    same(
        init.HeNormal()((20, 10)), seeded.normal(0., np.sqrt(1. / 20),
                                                 size=(20, 10)))
    std = np.sqrt(2) / np.sqrt(3 * 4 * 5)
    bound = np.sqrt(3) * std
    same(
        init.HeUniform(gain="relu")((2, 3, 4, 5)),
        seeded.uniform(-bound, bound, size=(2, 3, 4, 5)))
    std = 2. / np.sqrt(2 * 3 * 4)
    same(
        init.HeNormal(gain=2., c01b=True)((2, 3, 4, 5)),
        seeded.normal(0., std, size=(2, 3, 4, 5)))
    for bad, kw in [((5,), {}), ((2, 3, 4), {"c01b": True})]:
        with pytest.raises(RuntimeError):
            init.HeNormal(**kw)(bad)


def test_sparse(seeded):
    w = init.Sparse(sparsity=0.3, std=0.5)((10, 4))
    assert w.shape == (10, 4) and w.dtype == FLOATX
    assert ((w != 0).sum(axis=0) == 3).all()
    ref = np.zeros((10, 4))
    for k in range(4):
        idx = np.arange(10)
        seeded.shuffle(idx)
        ref[idx[:3], k] = seeded.normal(0., 0.5, size=3)
    np.testing.assert_array_equal(w, ref)
    with pytest.raises(RuntimeError):
        init.Sparse()((3, 3, 3))


def test_orthogonal(seeded):
    w = init.Orthogonal()((6, 4))
    np.testing.assert_allclose(w.T @ w, np.eye(4), atol=1e-12)
    a = seeded.normal(0., 1., (6, 4))
    u, _, _ = np.linalg.svd(a, full_matrices=False)
    np.testing.assert_allclose(w, u)
    w = init.Orthogonal(gain="relu")((3, 8))
    np.testing.assert_allclose(w @ w.T, 2 * np.eye(3), atol=1e-12)
    w = init.Orthogonal(gain=3.)((2, 3, 4))
    flat = w.reshape(2, 12)
    np.testing.assert_allclose(flat @ flat.T, 9 * np.eye(2), atol=1e-12)
    with pytest.raises(RuntimeError):
        init.Orthogonal()((5,))


# ---------------------------------------------------------------- nonlinearities

def test_nonlinearities_against_numpy():
    x = pt.matrix()
    a = np.array([[-3., -0.5, 0., 0.5, 2.], [1., -1., 4., -20., 0.1]])
    fns = [nl.sigmoid, nl.softmax, nl.tanh, nl.ScaledTanH(2 / 3., 1.7159),
           nl.ScaledTanh(), nl.rectify, nl.LeakyRectify(0.1),
           nl.leaky_rectify, nl.very_leaky_rectify, nl.elu, nl.softplus,
           nl.linear, nl.identity, nl.selu, nl.SELU(2., 3.)]
    res = pytensor.function([x], [f(x) for f in fns])(a)
    e = np.exp(a - a.max(axis=1, keepdims=True))

    def selu(v, s, sn):
        return s * np.where(v > 0, v, sn * (np.exp(v) - 1))
    expected = [1 / (1 + np.exp(-a)), e / e.sum(axis=1, keepdims=True),
                np.tanh(a), 1.7159 * np.tanh(2 / 3. * a), np.tanh(a),
                np.maximum(a, 0), np.maximum(a, 0.1 * a),
                np.maximum(a, 0.01 * a), np.maximum(a, a / 3.),
                np.where(a > 0, a, np.exp(a) - 1), np.log1p(np.exp(a)),
                a, a, selu(a, 1.0507009873554805, 1.6732632423543772),
                selu(a, 2., 3.)]
    for f, r, want in zip(fns, res, expected):
        np.testing.assert_allclose(r, want, rtol=1e-12, atol=1e-12,
                                   err_msg=repr(f))
    assert nl.ScaledTanh is nl.ScaledTanH
    assert nl.leaky_rectify.leakiness == 0.01
    assert nl.very_leaky_rectify.leakiness == pytest.approx(1 / 3.)


# ---------------------------------------------------------------- utils

def test_small_utils():
    assert utils.floatX([1, 2]).dtype == FLOATX
    s = utils.shared_empty(3)
    assert s.get_value().shape == (1, 1, 1) and s.dtype == FLOATX
    assert utils.shared_empty(dtype="int32").get_value().dtype == np.int32
    v = pt.matrix()
    assert utils.as_theano_expression(v) is v
    c = utils.as_theano_expression(np.arange(3))
    assert isinstance(c, pt.TensorConstant)
    with pytest.raises(TypeError):
        utils.as_theano_expression(object())
    assert utils.unique([3, 1, 3, 2, 1]) == [3, 1, 2]
    assert utils.as_tuple(2, 3) == (2, 2, 2)
    assert utils.as_tuple([1, 2], 2, int) == (1, 2)
    with pytest.raises(TypeError):
        utils.as_tuple([1, 2.5], 2, utils.int_types)
    with pytest.raises(ValueError):
        utils.as_tuple((1, 2), 3)
    assert isinstance(np.int64(3), utils.int_types)

    def f(a, b, c=1, *args, d=2, **kw):
        pass
    assert utils.inspect_kwargs(f) == ["c", "d"]


def test_collect_shared_vars():
    a = pytensor.shared(1., name="a")
    b = pytensor.shared(2., name="b")
    c = pytensor.shared(3., name="c")
    x = pt.scalar()
    assert utils.collect_shared_vars(a * x + b * a) == [a, b]
    assert utils.collect_shared_vars([c + x, (b + a) * c]) == [c, b, a]
    assert utils.collect_shared_vars(x) == []
    # left to right, depth first: a, then b inside the exp, then c
    e = (a * pt.exp(b * x)) + c * (b + a)
    assert utils.collect_shared_vars(e) == [a, b, c]
    assert utils.collect_shared_vars([b, e]) == [b, a, c]


def test_create_param():
    p = utils.create_param(init.Constant(1.5), (2, 1), name="w")
    assert p.name == "w" and p.dtype == FLOATX
    np.testing.assert_array_equal(p.get_value(), np.full((2, 1), 1.5))
    assert p.type.shape[1] == 1                # size-1 dims broadcast
    assert p.type.shape[0] in (None, 2)
    p = utils.create_param(0.25, (), name="s")
    assert p.get_value().shape == () and float(p.get_value()) == 0.25
    arr = np.arange(6, dtype="int32").reshape(2, 3)
    p = utils.create_param(arr, (2, 3))
    assert p.dtype == "int32" and p.get_value().dtype == np.int32
    np.testing.assert_array_equal(p.get_value(), arr)
    with pytest.raises(ValueError):
        utils.create_param(arr, (3, 2))
    var = pt.matrix()
    assert utils.create_param(var, (5, 6), name="v") is var
    assert var.name == "v"
    assert utils.create_param(var, (5, 6), name="other").name == "v"
    with pytest.raises(ValueError):
        utils.create_param(pt.vector(), (5, 6))
    for bad_shape in [(0, 3), (2, -1)]:
        with pytest.raises(ValueError):
            utils.create_param(init.Constant(), bad_shape)
    with pytest.raises(TypeError):
        utils.create_param("zeros", (2,))
    shared = pytensor.shared(np.zeros(3))
    assert utils.create_param(shared, (3,)) is shared


def test_one_hot_compute_norms_unroll_scan():
    labels = pt.ivector()
    x = pt.tensor3()
    m = pt.matrix()
    h0 = pt.vector()
    w = pt.matrix()

    def step(x_t, m_t, h_prev, s_prev, w):
        h = pt.tanh(pt.dot(x_t, w) + h_prev)
        return h, s_prev + m_t.sum()

    seqs = [x.dimshuffle(1, 0, 2), m]
    fwd = utils.unroll_scan(step, seqs, [h0, pt.constant(0.)], [w], 3)
    bwd = utils.unroll_scan(step, seqs, [h0, pt.constant(0.)], [w], 3,
                            go_backwards=True)
    single = utils.unroll_scan(lambda a, prev: prev + a, [m], [h0], [], 3)
    outs = [utils.one_hot(labels), utils.one_hot(labels, 5),
            utils.compute_norms(m), utils.compute_norms(x),
            utils.compute_norms(h0), utils.compute_norms(x, norm_axes=(0, 2))]
    outs += fwd + bwd + single
    fn = pytensor.function([labels, x, m, h0, w], outs,
                           on_unused_input="ignore")
    rng = np.random.RandomState(1)
    xv, mv = rng.randn(2, 3, 4), rng.randn(3, 2)
    wv, hv = rng.randn(4, 2), np.array([0.5, -0.5])
    res = fn(np.array([0, 2, 1], dtype="int32"), xv, mv, hv, wv)
    np.testing.assert_array_equal(res[0], np.eye(3)[[0, 2, 1]])
    np.testing.assert_array_equal(res[1], np.eye(5)[[0, 2, 1]])
    np.testing.assert_allclose(res[2], np.sqrt((mv ** 2).sum(axis=0)))
    np.testing.assert_allclose(res[3], np.sqrt((xv ** 2).sum(axis=(1, 2))))
    np.testing.assert_allclose(res[4], np.abs(hv))
    np.testing.assert_allclose(res[5], np.sqrt((xv ** 2).sum(axis=(0, 2))))

    def reference(order):
        h, s, hs, ss = hv, 0., [], []
        for t in order:
            h = np.tanh(xv[:, t] @ wv + h)
            s = s + mv[t].sum()
            hs.append(h)
            ss.append(s)
        return np.array(hs), np.array(ss)
    for got, want in zip(res[6:8], reference([0, 1, 2])):
        np.testing.assert_allclose(got, want)
    for got, want in zip(res[8:10], reference([2, 1, 0])):
        np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(res[10], hv + np.cumsum(mv, axis=0))
    assert len(single) == 1


def test_compute_norms_numpy_and_errors():
    a = np.arange(12.).reshape(3, 4)
    np.testing.assert_allclose(utils.compute_norms(a),
                               np.sqrt((a ** 2).sum(axis=0)))
    np.testing.assert_allclose(utils.compute_norms(a, norm_axes=[1]),
                               np.sqrt((a ** 2).sum(axis=1)))
    b = np.ones((2, 3, 4, 5, 6))
    np.testing.assert_allclose(utils.compute_norms(b),
                               np.full(2, np.sqrt(360.)))
    np.testing.assert_allclose(utils.compute_norms(np.array([-3., 4.])),
                               [3., 4.])
    with pytest.raises(ValueError):
        utils.compute_norms(np.ones((1,) * 6))
    with pytest.raises(ValueError):
        utils.compute_norms(pt.tensor(shape=(None,) * 6))
    with pytest.raises(RuntimeError):
        utils.compute_norms([1., 2.])


@pytest.mark.parametrize("backend", ["fast_compile", "jax"])
def test_pick_last_axis_and_its_gradient_against_numpy(backend):
    """pick_last_axis against NumPy's fancy indexing, and its closed-form
    gradient against the scatter of each row's weight to its index; no
    scatter (``AdvancedIncSubtensor``) is left in the compiled graph."""
    from pytensor.tensor.subtensor import AdvancedIncSubtensor, AdvancedIncSubtensor1
    from lasagne_lstm import backends
    rng = np.random.RandomState(5)
    v = rng.randn(2, 3, 7)
    k = rng.randint(-7, 7, size=(2, 3)).astype("int32")  # negative: from the end
    w = rng.randn(2, 3)
    V, K, W = pt.tensor3("V", dtype="float64"), pt.imatrix("K"), pt.matrix("W", dtype="float64")
    picked = utils.pick_last_axis(V, K)
    fn = pytensor.function([V, K, W], [picked, pytensor.grad((picked * W).sum(), V)],
                           mode=backends.get_mode(backend))
    got, got_grad = fn(v, k, w)
    rows, cols = np.indices(k.shape)
    np.testing.assert_array_equal(got, v[rows, cols, k])
    expected = np.zeros_like(v)
    np.add.at(expected, (rows, cols, k), w)
    np.testing.assert_array_equal(got_grad, expected)
    ops = [type(node.op) for node in fn.maker.fgraph.apply_nodes]
    assert AdvancedIncSubtensor not in ops and AdvancedIncSubtensor1 not in ops
