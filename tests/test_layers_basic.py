"""Forward values, shapes, parameters and errors of the non-recurrent layers.

Every expected value is computed independently with NumPy. To keep compile
time low, the outputs of (almost) all layers come from one compiled function
built in a module-scoped fixture.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lasagne_lstm import nonlinearities
from lasagne_lstm.layers import (
    BiasLayer, ConcatLayer, DenseLayer, DimshuffleLayer, DropoutLayer,
    ElemwiseMergeLayer, ElemwiseSumLayer, EmbeddingLayer, ExpressionLayer,
    FlattenLayer, GaussianNoiseLayer, InputLayer, InverseLayer, NINLayer,
    NonlinearityLayer, PadLayer, ReshapeLayer, ScaleLayer, SliceLayer,
    autocrop, autocrop_array_shapes, concat, dimshuffle, dropout,
    dropout_channels, dropout_locations, flatten, get_output, pad, reshape,
    spatial_dropout, standardize)

RNG = np.random.RandomState(42)
X = RNG.randn(2, 3, 4)
IDX = np.array([[0, 4, 2], [1, 1, 3]], dtype="int32")
W12 = RNG.randn(12, 5)
W4 = RNG.randn(4, 5)
B5 = RNG.randn(5)
W_NIN = RNG.randn(3, 2)
B_NIN = RNG.randn(2, 4)
B3 = RNG.randn(3)
S34 = RNG.randn(3, 4)
OFFSET = RNG.randn(3)
SCALE = RNG.rand(3) + 0.5
W_EMB = RNG.randn(5, 2)
W_INV = RNG.randn(12, 6)


def relu(a):
    return np.maximum(a, 0)


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


@pytest.fixture(scope="module")
def net():
    """Build every layer on one input, compile once, return values by key."""
    l_in = InputLayer((None, 3, 4))
    l_idx = InputLayer((2, 3), input_var=pt.imatrix("idx"))
    narrow = SliceLayer(l_in, slice(0, 2), axis=1)        # (N, 2, 4)
    short = SliceLayer(l_in, slice(1, 4), axis=2)         # (N, 3, 3)
    first_row = SliceLayer(l_in, slice(0, 1), axis=1)     # (N, 1, 4)
    inv_base = DenseLayer(l_in, 6, W=W_INV, b=None, nonlinearity=None)
    layers = dict(
        dense=DenseLayer(l_in, 5, W=W12, b=B5),
        dense_lead2=DenseLayer(l_in, 5, W=W4, b=B5, num_leading_axes=2,
                               nonlinearity=None),
        dense_neg=DenseLayer(l_in, 5, W=W4, b=None, num_leading_axes=-1,
                             nonlinearity=nonlinearities.sigmoid),
        nin=NINLayer(l_in, 2, W=W_NIN, b=B_NIN[:, 0], nonlinearity=None),
        nin_untied=NINLayer(l_in, 2, untie_biases=True, W=W_NIN, b=B_NIN),
        nonlin=NonlinearityLayer(l_in, nonlinearities.sigmoid),
        nonlin_none=NonlinearityLayer(l_in, None),
        bias=BiasLayer(l_in, b=B3),
        bias_axis0=BiasLayer(l_in, b=S34, shared_axes=0),
        bias_none=BiasLayer(l_in, b=None),
        scale=ScaleLayer(l_in, scales=B3),
        scale_02=ScaleLayer(l_in, scales=S34[0], shared_axes=(0, 1)),
        standardize=standardize(l_in, OFFSET, SCALE),
        expr=ExpressionLayer(l_in, lambda x: x.sum(axis=2) * 2, "auto"),
        inverse=InverseLayer(inv_base, inv_base),
        embed=EmbeddingLayer(l_idx, 5, 2, W=W_EMB),
        flatten=FlattenLayer(l_in),
        flatten1=flatten(l_in, outdim=1),
        flatten3=FlattenLayer(l_in, outdim=3),
        reshape=ReshapeLayer(l_in, ([0], 2, -1)),
        reshape_ref=reshape(l_in, (-1, [1])),
        dimshuffle=DimshuffleLayer(l_in, (2, "x", 0, 1)),
        dimshuffle_drop=dimshuffle(first_row, (0, 2)),
        slice_int=SliceLayer(l_in, 1, axis=1),
        slice_step=SliceLayer(l_in, slice(None, None, 2)),
        slice_neg=SliceLayer(l_in, slice(-2, None), axis=-2),
        pad_int=PadLayer(l_in, 1, batch_ndim=1),
        pad_pairs=pad(l_in, [(1, 2)], val=3),
        pad_list=PadLayer(l_in, [2, (0, 1)], batch_ndim=1),
        concat=ConcatLayer([l_in, narrow]),
        concat_last=concat([l_in, short], axis=-1),
        concat_crop=ConcatLayer([l_in, narrow], axis=2,
                                cropping=[None, "lower"]),
        max_merge=ElemwiseMergeLayer([l_in, short, l_in], pt.maximum,
                                     cropping=[None, None, "upper"]),
        sum_center=ElemwiseSumLayer([l_in, narrow], coeffs=[1, -2],
                                    cropping=[None, "center"]),
        sum_scalar=ElemwiseSumLayer([l_in, l_in, l_in], coeffs=0.5),
        dropout_det=DropoutLayer(l_in, p=0.9),
        dropout_p0=DropoutLayer(l_in, p=0.0),
        noise_sigma0=GaussianNoiseLayer(l_in, sigma=0),
    )
    det = ("dropout_det",)
    keys = list(layers)
    outs = get_output([layers[k] for k in keys if k not in det])
    outs += get_output([layers[k] for k in det], deterministic=True)
    keys = [k for k in keys if k not in det] + list(det)
    fn = pytensor.function([l_in.input_var, l_idx.input_var], outs)
    values = dict(zip(keys, fn(X, IDX)))
    return layers, values


def check(net, key, expected, shape=None):
    layers, values = net
    np.testing.assert_allclose(values[key], expected, rtol=1e-10, atol=1e-12)
    # the declared shape agrees with the data, None standing for the batch
    declared = layers[key].output_shape
    assert len(declared) == values[key].ndim
    for d, actual in zip(declared, values[key].shape):
        assert d is None or d == actual
    if shape is not None:
        assert declared == shape


# ---------------------------------------------------------------- dense

def test_dense_forward(net):
    check(net, "dense", relu(X.reshape(2, 12) @ W12 + B5), (None, 5))
    check(net, "dense_lead2", X @ W4 + B5, (None, 3, 5))
    check(net, "dense_neg", sigmoid(X @ W4), (None, 3, 5))


def test_dense_params_and_tags():
    l_in = InputLayer((None, 3, 4))
    layer = DenseLayer(l_in, 7, name="fc")
    assert [p.name for p in layer.get_params()] == ["fc.W", "fc.b"]
    assert layer.W.get_value().shape == (12, 7)
    assert layer.b.get_value().shape == (7,)
    np.testing.assert_array_equal(layer.b.get_value(), 0)
    assert layer.params[layer.W] == {"trainable", "regularizable"}
    assert layer.params[layer.b] == {"trainable"}
    assert layer.get_params(regularizable=True) == [layer.W]
    # Glorot-uniform bound sqrt(6 / (12 + 7))
    assert np.abs(layer.W.get_value()).max() <= np.sqrt(6. / 19)
    unnamed = DenseLayer(l_in, 2, b=None, num_leading_axes=2)
    assert [p.name for p in unnamed.get_params()] == ["W"]
    assert unnamed.W.get_value().shape == (4, 2)
    assert unnamed.nonlinearity is nonlinearities.rectify


def test_dense_errors():
    l_in = InputLayer((None, 3, 4))
    for bad in (3, 4, -4):
        with pytest.raises(ValueError):
            DenseLayer(l_in, 2, num_leading_axes=bad)
    with pytest.raises(ValueError):
        DenseLayer(InputLayer((None, None, 4)), 2)
    DenseLayer(InputLayer((None, None, 4)), 2, num_leading_axes=2)
    with pytest.raises(TypeError):
        DenseLayer(l_in, 2, nonlinearty=None)   # misspelt kwarg
    with pytest.raises(ValueError):
        DenseLayer(l_in, 2, W=np.zeros((3, 2)))  # wrong param shape
    with pytest.raises(ValueError):
        DenseLayer((None, 0, 4), 2)               # non-positive input dim


def test_nin_forward_and_params(net):
    layers, _ = net
    tied = np.einsum("ncp,cu->nup", X, W_NIN) + B_NIN[:, 0][None, :, None]
    check(net, "nin", tied, (None, 2, 4))
    untied = np.einsum("ncp,cu->nup", X, W_NIN) + B_NIN[None]
    check(net, "nin_untied", relu(untied), (None, 2, 4))
    assert layers["nin_untied"].b.get_value().shape == (2, 4)
    fresh = NINLayer((None, 3, 5, 6), 4, untie_biases=True, name="nin")
    assert fresh.output_shape == (None, 4, 5, 6)
    assert [p.name for p in fresh.get_params()] == ["nin.W", "nin.b"]
    assert fresh.b.get_value().shape == (4, 5, 6)
    assert fresh.params[fresh.b] == {"trainable"}
    assert NINLayer((None, 3), 4, b=None).get_params()[0].get_value().shape \
        == (3, 4)


# ---------------------------------------------------------------- special

def test_nonlinearity_layer(net):
    check(net, "nonlin", sigmoid(X))
    check(net, "nonlin_none", X)
    assert NonlinearityLayer((2, 3)).nonlinearity is nonlinearities.rectify


def test_bias_layer(net):
    layers, _ = net
    check(net, "bias", X + B3[None, :, None])
    check(net, "bias_axis0", X + S34[None])
    check(net, "bias_none", X)
    assert layers["bias"].shared_axes == (0, 2)
    assert layers["bias_axis0"].shared_axes == (0,)
    assert layers["bias_none"].get_params() == []
    named = BiasLayer((None, 3, 5, 6), name="bl")
    assert named.b.name == "bl.b" and named.b.get_value().shape == (3,)
    assert named.params[named.b] == {"trainable"}
    assert BiasLayer((None, 3, 5), shared_axes=(0, 1)).b.get_value().shape \
        == (5,)
    # negative axes are not normalized: nothing is shared
    assert BiasLayer((2, 3), shared_axes=(-1,)).b.get_value().shape == (2, 3)
    with pytest.raises(ValueError):
        BiasLayer((None, 3, 5), shared_axes=(1,))


def test_scale_layer(net):
    layers, _ = net
    check(net, "scale", X * B3[None, :, None])
    check(net, "scale_02", X * S34[0][None, None, :])
    fresh = ScaleLayer((None, 3, 2), name="s")
    assert fresh.scales.name == "s.scales"
    np.testing.assert_array_equal(fresh.scales.get_value(), np.ones(3))
    assert fresh.params[fresh.scales] == {"trainable"}
    with pytest.raises(ValueError):
        ScaleLayer((2, None), shared_axes=0)


def test_standardize(net):
    layers, _ = net
    check(net, "standardize",
          (X - OFFSET[None, :, None]) / SCALE[None, :, None])
    layer = layers["standardize"]
    assert isinstance(layer, ScaleLayer)
    assert isinstance(layer.input_layer, BiasLayer)
    for l in (layer, layer.input_layer):
        assert l.get_params(trainable=True) == []
        assert len(l.get_params()) == 1


def test_expression_layer(net):
    layers, _ = net
    check(net, "expr", X.sum(axis=2) * 2, (None, 3))
    fn = lambda x: x.sum(axis=2)  # noqa: E731
    # output_shape None means "same as the input", even when that is wrong
    assert ExpressionLayer((None, 3, 4), fn).output_shape == (None, 3, 4)
    assert ExpressionLayer((None, 3, 4), fn, (7, 7)).output_shape == (7, 7)
    assert ExpressionLayer((None, 3, 4), fn,
                           lambda s: s[:2]).output_shape == (None, 3)
    assert ExpressionLayer((None, 3, 4), fn, "auto").output_shape == (None, 3)
    flat = ExpressionLayer((None, 3, 4), lambda x: x.reshape((x.shape[0], 12)),
                           output_shape="auto")
    assert flat.output_shape == (None, 12)
    assert ExpressionLayer((5, 3), lambda x: x[:, 1:] ** 2,
                           output_shape="auto").output_shape == (5, 2)


def test_inverse_layer(net):
    layers, _ = net
    # For y = x W (flattened), d(sum(g * y))/dx = g W^T, reshaped like x.
    y = X.reshape(2, 12) @ W_INV
    check(net, "inverse", (y @ W_INV.T).reshape(2, 3, 4), (None, 3, 4))
    assert layers["inverse"].get_params() == []


# ---------------------------------------------------------------- embedding

def test_embedding(net):
    layers, values = net
    check(net, "embed", W_EMB[IDX], (2, 3, 2))
    layer = EmbeddingLayer((None, 7), 10, 3, name="emb")
    assert layer.output_shape == (None, 7, 3)
    assert layer.W.name == "emb.W" and layer.W.get_value().shape == (10, 3)
    assert layer.params[layer.W] == {"trainable", "regularizable"}
    assert np.abs(layer.W.get_value()).max() < 0.1   # Normal(std=0.01)


# ---------------------------------------------------------------- shape

def test_flatten(net):
    check(net, "flatten", X.reshape(2, 12), (None, 12))
    check(net, "flatten1", X.reshape(24), (None,))
    check(net, "flatten3", X, (None, 3, 4))
    assert FlattenLayer((5, None, 4)).output_shape == (5, None)
    assert FlattenLayer((5, 3, 4, 2), outdim=3).output_shape == (5, 3, 8)
    with pytest.raises(ValueError):
        FlattenLayer((5, 3), outdim=0)


def test_reshape_forward(net):
    check(net, "reshape", X.reshape(2, 2, 6), (None, 2, 6))
    check(net, "reshape_ref", X.reshape(-1, 3), (None, 3))


@pytest.mark.parametrize("in_shape,spec,expected", [
    ((None, 3, 4), ([0], [1], 2, 2), (None, 3, 2, 2)),
    ((None, 3, 4), ([0], -1), (None, 12)),
    ((None, 3, 4), (-1, [2]), (None, 4)),
    ((None, None, 4), ([0], [1], 2, -1), (None, None, 2, 2)),
    ((None, None, 4), ([1], [0], -1), (None, None, 4)),
    ((None, 3, 4), ([0], [0], -1), (None, None, None)),
    ((6, 4), (-1, 3), (8, 3)),
    ((6, 4), (2, [1], -1), (2, 4, 3)),
    ((6, 4), (pt.iscalar(), -1), (None, None)),
    ((6, 4), (pt.iscalar(), 24), (None, 24)),
])
def test_reshape_shapes(in_shape, spec, expected):
    assert ReshapeLayer(in_shape, spec).output_shape == expected


@pytest.mark.parametrize("spec", [
    (0, -1), (-2, 12), ([1, 2], -1), (["a"], -1), ([-1], -1), ("a", -1),
    (2.0, -1), (pt.ivector(), -1), (-1, -1), ([5], -1), (5, -1), (7,),
])
def test_reshape_errors(spec):
    with pytest.raises(ValueError):
        ReshapeLayer((3, 4), spec)


def test_dimshuffle(net):
    layers, _ = net
    check(net, "dimshuffle", X.transpose(2, 0, 1)[:, None], (4, 1, None, 3))
    check(net, "dimshuffle_drop", X[:, 0, :], (None, 4))
    assert DimshuffleLayer((2, None), (0,)).output_shape == (2,)
    for bad in [(0, 0, 1, 2), (0, 1, "y"), (0, 1, 2, 3), (0, 1), (0, 1.0, 2)]:
        with pytest.raises(ValueError):
            DimshuffleLayer((2, 3, 4), bad)


def test_slice(net):
    check(net, "slice_int", X[:, 1, :], (None, 4))
    check(net, "slice_step", X[:, :, ::2], (None, 3, 2))
    check(net, "slice_neg", X[:, -2:, :], (None, 2, 4))
    assert SliceLayer((None, None), slice(0, 3)).output_shape == (None, None)
    assert SliceLayer((None, 10), slice(-3, None, 2)).output_shape == (None, 2)
    assert SliceLayer((None, 10), 0, axis=0).output_shape == (10,)


def test_pad(net):
    check(net, "pad_int", np.pad(X, [(0, 0), (1, 1), (1, 1)]), (None, 5, 6))
    check(net, "pad_pairs",
          np.pad(X, [(0, 0), (0, 0), (1, 2)], constant_values=3),
          (None, 3, 7))
    check(net, "pad_list", np.pad(X, [(0, 0), (2, 2), (0, 1)]), (None, 7, 5))
    assert PadLayer((None, None, 4), 2).output_shape == (None, None, 8)


# ---------------------------------------------------------------- merge

def test_concat(net):
    check(net, "concat", np.concatenate([X, X[:, :2]], axis=1), (None, 5, 4))
    check(net, "concat_last", np.concatenate([X, X[:, :, 1:]], axis=2),
          (None, 3, 7))
    check(net, "concat_crop", np.concatenate([X[:, :2], X[:, :2]], axis=2),
          (None, 2, 8))
    assert ConcatLayer([(None, 3), (5, None)], axis=1).output_shape \
        == (5, None)
    assert ConcatLayer([(2, 3), (4, 3)], axis=0).output_shape == (6, 3)
    for shapes, axis in [([(2, 3), (2, 4)], 0), ([(2, 3), (2, 3, 1)], 1),
                         ([(2, 3, 4), (2, 5, 5)], 1)]:
        with pytest.raises(ValueError):
            ConcatLayer(shapes, axis=axis).output_shape


def test_elemwise_merge(net):
    check(net, "max_merge", np.maximum(X[:, :, 1:], X[:, :, 1:]),
          (None, 3, 3))
    # "center" keeps (3 - 2) // 2 = 0 as the first row of the longer input
    check(net, "sum_center", X[:, 0:2] - 2 * X[:, :2], (None, 2, 4))
    check(net, "sum_scalar", 1.5 * X, (None, 3, 4))
    assert ElemwiseSumLayer([(None, 3), (4, None)]).output_shape == (4, 3)
    with pytest.raises(ValueError):
        ElemwiseSumLayer([(2, 3), (2, 4)]).output_shape
    with pytest.raises(ValueError):
        ElemwiseSumLayer([(2, 3), (2, 3, 1)]).output_shape
    with pytest.raises(ValueError):
        ElemwiseSumLayer([(2, 3), (2, 3)], coeffs=[1, 2, 3])
    layer = ElemwiseMergeLayer([(2, 3), (2, 3)], pt.mul)
    assert layer.get_params() == [] and layer.output_shape == (2, 3)


def test_autocrop_shapes_and_errors():
    shapes = [(1, 2, 3, 4), (5, 6, None, 2), (7, 1, 8, 9)]
    assert autocrop_array_shapes(shapes, None) is shapes
    assert autocrop_array_shapes(shapes, [None, "lower", "center"]) == [
        (1, 1, None, 4), (5, 1, None, 2), (7, 1, None, 9)]
    assert autocrop_array_shapes(shapes, ["upper", None, None, "center"]) == [
        (1, 2, 3, 2), (1, 6, None, 2), (1, 1, 8, 2)]
    with pytest.raises(ValueError):
        autocrop_array_shapes(shapes, ["middle"])
    with pytest.raises(ValueError):
        autocrop_array_shapes([(1, 2), (1, 2, 3)], ["lower"])
    with pytest.raises(ValueError):
        autocrop([pt.matrix(), pt.tensor3()], ["lower"])
    with pytest.raises(ValueError):
        autocrop([pt.matrix(), pt.matrix()], [None, "sideways"])
    a, b = pt.matrix(), pt.matrix()
    assert autocrop([a, b], None) == [a, b]


def test_autocrop_values():
    a = np.arange(5 * 4.).reshape(5, 4)
    b = np.arange(2 * 7.).reshape(2, 7)
    va, vb = pt.matrix(), pt.matrix()
    outs = (autocrop([va, vb], ["lower", "upper"])
            + autocrop([va, vb], ["center", "center"]))
    res = pytensor.function([va, vb], outs)(a, b)
    expected = [a[:2, -4:], b[:2, -4:],
                a[1:3, :], b[:, 1:5]]
    for r, e in zip(res, expected):
        np.testing.assert_array_equal(r, e)


# ---------------------------------------------------------------- noise

def test_noise_identity_cases(net):
    layers, _ = net
    check(net, "dropout_det", X)
    check(net, "dropout_p0", X)
    check(net, "noise_sigma0", X)
    assert dropout is DropoutLayer


def test_noise_constructors():
    l_in = InputLayer((None, 3, 4, 5))
    d = DropoutLayer(l_in)
    assert (d.p, d.rescale, d.shared_axes) == (0.5, True, ())
    assert dropout_channels(l_in, p=0.2).shared_axes == (2, 3)
    assert spatial_dropout(l_in).shared_axes == (2, 3)
    assert dropout_locations(l_in, 0.3).shared_axes == (1,)
    assert dropout_locations(l_in, 0.3).p == 0.3
    assert GaussianNoiseLayer(l_in).sigma == 0.1
    for layer in (d, GaussianNoiseLayer(l_in)):
        assert layer.get_params() == []
        assert layer.output_shape == (None, 3, 4, 5)
    with pytest.raises(TypeError):
        DropoutLayer(l_in, prob=0.5)
