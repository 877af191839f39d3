"""Network helpers (layers.helper), the Layer base classes, and the
statistics of the noise layers."""
import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lasagne_lstm import random as lrandom
from lasagne_lstm.layers import (
    ConcatLayer, DenseLayer, DropoutLayer, ElemwiseSumLayer,
    GaussianNoiseLayer, InputLayer, Layer, MergeLayer, NonlinearityLayer,
    count_params, dropout_channels, get_all_layers, get_all_param_values,
    get_all_params, get_output, get_output_shape, set_all_param_values)


# ---------------------------------------------------------------- layers

def test_get_all_layers_order():
    l_in = InputLayer((None, 3))
    l1 = DenseLayer(l_in, 2)
    l2 = DenseLayer(l_in, 2)
    l3 = DenseLayer(l1, 2)
    merge = ConcatLayer([l3, l2])
    assert get_all_layers(l3) == [l_in, l1, l3]
    assert get_all_layers([l2, l1]) == [l_in, l2, l1]
    assert get_all_layers(merge) == [l_in, l1, l3, l2, merge]
    assert get_all_layers([l3, merge]) == [l_in, l1, l3, l2, merge]
    # layers in treat_as_input are listed but not expanded
    assert get_all_layers(merge, treat_as_input=[l3]) == [l3, l_in, l2, merge]
    assert get_all_layers(l3, treat_as_input=[l3]) == [l3]
    # inputs given as shapes (None) are skipped
    half = ConcatLayer([(None, 2), l1])
    assert half.input_layers == [None, l1]
    assert get_all_layers(half) == [l_in, l1, half]


def test_diamond_lists_each_layer_once():
    l_in = InputLayer((None, 3))
    a = NonlinearityLayer(l_in)
    b = NonlinearityLayer(a)
    c = NonlinearityLayer(a)
    d = ElemwiseSumLayer([b, c, a])
    assert get_all_layers(d) == [l_in, a, b, c, d]


# ---------------------------------------------------------------- outputs

@pytest.fixture(scope="module")
def chain():
    l_in = InputLayer((None, 3), name="in")
    W = np.arange(6.).reshape(3, 2) / 10
    hidden = DenseLayer(l_in, 2, W=W, b=np.array([0.5, -2.]),
                        nonlinearity=None, name="hidden")
    out = NonlinearityLayer(hidden, pt.tanh)
    return l_in, hidden, out, W


def test_get_output_variants(chain):
    l_in, hidden, out, W = chain
    x = np.array([[1., 2., 3.], [-1., 0., 4.]])
    h = x @ W + np.array([0.5, -2.])
    y = pt.matrix("y")
    exprs = [get_output(out),                          # input_var
             get_output(out, y),                       # a variable
             get_output(out, {l_in: y}),               # dict on the input
             get_output(out, {hidden: y[:, :2]}),      # dict on a hidden layer
             get_output(out, x)]                       # a numpy array
    assert l_in.input_var.name == "in.input"
    lists = get_output([hidden, out], y)
    assert isinstance(lists, list) and len(lists) == 2
    fn = pytensor.function([l_in.input_var, y], exprs + lists)
    res = fn(x + 1, x)
    np.testing.assert_allclose(res[0], np.tanh((x + 1) @ W + [0.5, -2.]))
    for r in res[1:3] + [res[4]]:
        np.testing.assert_allclose(r, np.tanh(h))
    np.testing.assert_allclose(res[3], np.tanh(x[:, :2]))
    np.testing.assert_allclose(res[5], h)
    np.testing.assert_allclose(res[6], np.tanh(h))


def test_get_output_errors(chain):
    l_in, hidden, out, W = chain
    with pytest.raises(TypeError):
        get_output(out, {"not a layer": pt.matrix()})
    other = InputLayer((None, 3))
    merged = ElemwiseSumLayer([hidden, DenseLayer(other, 2)])
    with pytest.raises(ValueError):
        get_output(merged, pt.matrix())
    get_output(merged, {l_in: pt.matrix(), other: pt.matrix()})
    floating = DenseLayer((None, 3), 2)
    with pytest.raises(ValueError):
        get_output(floating)
    get_output(floating, {floating: pt.matrix()})


def test_get_output_kwargs_warnings(chain):
    l_in, hidden, out, W = chain
    drop = DropoutLayer(out)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_output(drop, deterministic=True)   # accepted everywhere
        get_output(out, deterministic=False)

    class Custom(Layer):
        def get_output_for(self, input, flavour="plain", **kwargs):
            return input

    custom = Custom(out)
    custom.get_output_kwargs = ["colour"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_output(custom, flavour="spicy", colour="red")
    with pytest.warns(UserWarning, match="deterministic"):
        get_output(drop, determinstic=True)     # misspelt: suggestion given
    with pytest.warns(UserWarning, match="unused kwarg 'xyzzy'"):
        get_output(out, xyzzy=1)


def test_get_output_shape(chain):
    l_in, hidden, out, W = chain
    assert get_output_shape(out) == (None, 2)
    assert get_output_shape(out, {}) == (None, 2)
    assert get_output_shape([hidden, out]) == [(None, 2), (None, 2)]
    assert get_output_shape(out, (7, 3)) == (7, 2)
    assert get_output_shape([l_in, out], {l_in: (5, 3)}) == [(5, 3), (5, 2)]
    assert get_output_shape(out, {hidden: (4, 9)}) == (4, 9)
    other = InputLayer((None, 4))
    both = ConcatLayer([hidden, other])
    assert get_output_shape(both, {l_in: (6, 3), other: (6, 4)}) == (6, 6)
    with pytest.raises(ValueError):
        get_output_shape(both, (6, 3))


# ---------------------------------------------------------------- params

def _net():
    l_in = InputLayer((None, 4))
    l1 = DenseLayer(l_in, 3, name="l1")
    l2 = DenseLayer(l1, 2, b=None, name="l2")
    l3 = DenseLayer(l1, 5, name="l3")
    out = ConcatLayer([l2, l3])
    return l_in, l1, l2, l3, out


def test_get_all_params_and_tags():
    l_in, l1, l2, l3, out = _net()
    names = lambda ps: [p.name for p in ps]  # noqa: E731
    assert names(get_all_params(out)) == ["l1.W", "l1.b", "l2.W", "l3.W",
                                          "l3.b"]
    assert names(get_all_params(out, regularizable=True)) == [
        "l1.W", "l2.W", "l3.W"]
    assert names(get_all_params(out, regularizable=False)) == ["l1.b", "l3.b"]
    assert names(get_all_params(out, trainable=True,
                                regularizable=False)) == ["l1.b", "l3.b"]
    assert get_all_params(out, trainable=False) == []
    l3.params[l3.W].remove("trainable")
    assert names(get_all_params(out, trainable=True)) == [
        "l1.W", "l1.b", "l2.W", "l3.b"]
    assert names(get_all_params(out, trainable=False)) == ["l3.W"]
    assert names(get_all_params(l2)) == ["l1.W", "l1.b", "l2.W"]
    assert count_params(out) == 4 * 3 + 3 + 3 * 2 + 3 * 5 + 5
    assert count_params(out, regularizable=True) == 12 + 6 + 15
    assert count_params(l_in) == 0


def test_add_param_and_expression_params():
    shared = pytensor.shared(np.ones((3, 2)), name="base")
    layer = DenseLayer((None, 3), 2, W=shared * 2, name="d")
    # an expression param is kept as is; unwrap_shared yields its inputs
    assert layer.get_params(unwrap_shared=False)[0] is layer.W
    assert layer.get_params() == [shared, layer.b]
    assert layer.get_params(regularizable=True) == [shared]
    assert get_all_params(layer, unwrap_shared=False)[0] is layer.W
    assert layer.W.name == "d.W"           # an unnamed variable gets named
    # add_param: only true tags are stored, trainable/regularizable default on
    plain = Layer((None, 3))
    p = plain.add_param(np.zeros(2), (2,), name="p", regularizable=False,
                        special=True, other=False)
    assert plain.params[p] == {"trainable", "special"}
    assert p.name == "p"
    assert plain.get_params(special=True) == [p]
    with pytest.raises(NotImplementedError):
        plain.get_output_for(pt.matrix())
    with pytest.raises(NotImplementedError):
        MergeLayer([(1, 2)]).output_shape
    with pytest.raises(ValueError):
        Layer((None, -1))
    with pytest.raises(ValueError):
        InputLayer((2, 0))
    with pytest.raises(ValueError):
        InputLayer((2, 3), input_var=pt.tensor3())


def test_symbolic_output_shape_is_rejected():
    class Bad(Layer):
        def get_output_shape_for(self, input_shape):
            return (pt.iscalar(),)
    with pytest.raises(ValueError):
        Bad((2,)).output_shape


def test_param_value_round_trip_and_mismatches():
    l_in, l1, l2, l3, out = _net()
    values = get_all_param_values(out)
    assert [v.shape for v in values] == [(4, 3), (3,), (3, 2), (3, 5), (5,)]
    new = [np.full(v.shape, i + 1.) for i, v in enumerate(values)]
    set_all_param_values(out, new)
    for got, want in zip(get_all_param_values(out), new):
        np.testing.assert_array_equal(got, want)
    # regularizable-only view
    reg = get_all_param_values(out, regularizable=True)
    assert [v.shape for v in reg] == [(4, 3), (3, 2), (3, 5)]
    set_all_param_values(out, [r * 0 for r in reg], regularizable=True)
    np.testing.assert_array_equal(l1.W.get_value(), 0)
    np.testing.assert_array_equal(l1.b.get_value(), 2.)
    before = get_all_param_values(out)
    with pytest.raises(ValueError):
        set_all_param_values(out, before[:-1])
    # a bad shape late in the list: nothing at all is changed
    bad = [v + 10 for v in before]
    bad[-1] = np.zeros(4)
    with pytest.raises(ValueError):
        set_all_param_values(out, bad)
    for got, want in zip(get_all_param_values(out), before):
        np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------- noise

def test_dropout_statistics():
    l_in = InputLayer((None, None, None))
    p = 0.3
    drop = DropoutLayer(l_in, p=p)
    keep_raw = DropoutLayer(l_in, p=p, rescale=False)
    shared = DropoutLayer(l_in, p=0.5, shared_axes=(0, -1))
    channels = dropout_channels(InputLayer((None, 30, 40, 3)), p=0.5)
    noise = GaussianNoiseLayer(l_in, sigma=0.5)
    after = NonlinearityLayer(drop, None)
    outs = get_output([drop, after, keep_raw, shared, noise])
    det = get_output([drop, noise], deterministic=True)
    ch_out = get_output(channels, l_in.input_var.dimshuffle(0, 1, 2, "x")
                        * pt.ones((1, 1, 1, 3)))
    fn = pytensor.function([l_in.input_var], outs + det + [ch_out])
    x = np.ones((20, 30, 40))        # declared shape is all None: runtime shape
    d1, d_after, raw, sh, nz, det_d, det_n, ch = fn(x)
    d2 = fn(x)[0]
    # rescaled dropout: values are 0 or 1/q, ~q kept, mean ~1
    q = 1 - p
    assert set(np.unique(np.round(d1, 10))) <= {0., round(1 / q, 10)}
    assert abs((d1 > 0).mean() - q) < 0.02
    assert abs(d1.mean() - 1) < 0.03
    assert set(np.unique(raw)) <= {0., 1.}
    assert abs(raw.mean() - q) < 0.02
    # one get_output call shares its mask; a new call draws a new one
    np.testing.assert_array_equal(d1, d_after)
    assert (d1 != d2).any()
    # shared axes: the mask is constant along axes 0 and 2
    assert (sh == sh[:1, :, :1]).all()
    assert 0 < (sh[0, :, 0] > 0).sum() < 30
    assert (ch == ch[:, :, :1, :1]).all()
    assert 0 < (ch[:, :, 0, 0] > 0).mean() < 1
    # Gaussian noise N(0, 0.25)
    assert abs((nz - 1).mean()) < 0.02
    assert abs((nz - 1).std() - 0.5) < 0.02
    np.testing.assert_array_equal(det_d, x)
    np.testing.assert_array_equal(det_n, x)


def test_noise_seeding_from_package_rng():
    old = lrandom.get_rng()
    l_in = InputLayer((5, 5))
    try:
        lrandom.set_rng(np.random.RandomState(7))
        a = DropoutLayer(l_in)
        lrandom.set_rng(np.random.RandomState(7))
        b = DropoutLayer(l_in)
        lrandom.set_rng(np.random.default_rng(7))   # a Generator works too
        c = DropoutLayer(l_in)
        lrandom.set_rng(np.random.RandomState(7))
        g = GaussianNoiseLayer(l_in)
        # the seed is drawn from (and advances) the package generator
        rng = np.random.RandomState(7)
        rng.randint(1, 2147462579)
        assert lrandom.get_rng().randint(1, 1000) == rng.randint(1, 1000)
    finally:
        lrandom.set_rng(old)
    outs = get_output([a, b, c, g])
    # the data need not match the declared (5, 5): masks follow the data
    res = pytensor.function([l_in.input_var], outs)(np.ones((3, 7)))
    assert all(r.shape == (3, 7) for r in res)
    np.testing.assert_array_equal(res[0], res[1])
    assert set(np.unique(res[0])) == {0., 2.}
    assert set(np.unique(res[2])) <= {0., 2.}
    assert not np.allclose(res[3], 1)
