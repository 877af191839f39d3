"""lasagne_lstm.theano: Theano's names on PyTensor, each checked against
NumPy or a hand-computed value. Few compiled functions, FAST_COMPILE except
for one JAX check."""
import importlib.util
import math
import warnings

import numpy as np
import pytest
import pytensor
import pytensor.tensor as pt

import lasagne_lstm.theano as theano
import lasagne_lstm.theano.tensor as T
from lasagne_lstm.backends import get_mode
from lasagne_lstm.theano import core, gradient, ifelse, printing, sandbox
from lasagne_lstm.theano.core import NotPorted
from test_random_bits import normal_numpy, uniform_numpy


def _compile(inputs, outputs, **kwargs):
    return pytensor.function(inputs, outputs, mode=get_mode("fast_compile"),
                             **kwargs)


# ---------------------------------------------------------------------------
# T.nnet against NumPy: one compiled function

def _np_softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_ultra_fast_sigmoid(x):
    """Theano's piecewise tanh approximation, transcribed from its
    documented formula element by element."""
    out = []
    for value in np.ravel(x):
        t = abs(value / 2)
        if t < 1.7:
            tanh = 1.5 * t / (1 + t)
        elif t < 3:
            tanh = 0.935409070603099 + 0.0458812946797165 * (t - 1.7)
        else:
            tanh = 0.99505475368673
        out.append(0.5 * (math.copysign(tanh, value) + 1))
    return np.array(out)


_X = np.array([-7.0, -2.5, -0.3, 0.0, 0.4, 1.0, 2.0, 4.5, 10.0])
_P = np.array([[0.1, 0.6, 0.3], [0.25, 0.25, 0.5]])
_Y = np.array([1, 2], np.int32)
_Z = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]])
_OUT = np.array([0.2, 0.7, 0.9])
_TARGET = np.array([0.0, 1.0, 0.3])


@pytest.fixture(scope="module")
def nnet_values():
    x, o, t = pt.vector("x"), pt.vector("o"), pt.vector("t")
    p, z = pt.matrix("p"), pt.matrix("z")
    y = pt.ivector("y")
    nn = T.nnet
    onehot = T.extra_ops.to_one_hot(y, 3)
    cce_int = nn.categorical_crossentropy(p, y)
    cce_logits = nn.categorical_crossentropy(nn.softmax(z), y)
    nll, sm = nn.crossentropy_softmax_1hot(z, y)
    outputs = {
        "sigmoid": nn.sigmoid(x), "ultra_fast_sigmoid": nn.ultra_fast_sigmoid(x),
        "hard_sigmoid": nn.hard_sigmoid(x), "softplus": nn.softplus(x),
        "softsign": nn.softsign(x), "relu": nn.relu(x),
        "leaky_relu": nn.relu(x, 0.1), "elu": nn.elu(x),
        "elu_half": nn.elu(x, 0.5), "selu": nn.selu(x),
        "softmax": nn.softmax(z), "softmax_axis0": nn.softmax(z, axis=0),
        "logsoftmax": nn.logsoftmax(z),
        "softmax_with_bias": nn.softmax_with_bias(z, np.array([1.0, 0, -1])),
        "bce": nn.binary_crossentropy(o, t),
        "sigmoid_bce": nn.sigmoid_binary_crossentropy(x[:3], t),
        "cce_int": cce_int, "cce_onehot": nn.categorical_crossentropy(p, onehot),
        "cce_soft": nn.categorical_crossentropy(p, p[::-1]),
        "cce_1hot": nn.crossentropy_categorical_1hot(p, y),
        "nll": nll, "nll_softmax": sm,
        "grad_p": T.grad(cce_int.sum(), p),
        "grad_z": T.grad(cce_logits.sum(), z),
    }
    fn = _compile([x, o, t, p, z, y], list(outputs.values()))
    return dict(zip(outputs, fn(_X, _OUT, _TARGET, _P, _Z, _Y)))


def test_activations_match_numpy(nnet_values):
    v = nnet_values
    sig = 1 / (1 + np.exp(-_X))
    np.testing.assert_allclose(v["sigmoid"], sig)
    np.testing.assert_allclose(v["ultra_fast_sigmoid"],
                               _np_ultra_fast_sigmoid(_X), rtol=1e-12)
    # hand-computed points of the approximation: 0 -> 0.5, 2 -> 0.875
    assert v["ultra_fast_sigmoid"][3] == 0.5
    assert v["ultra_fast_sigmoid"][6] == pytest.approx(0.875)
    assert np.max(np.abs(v["ultra_fast_sigmoid"] - sig)) < 0.03
    np.testing.assert_allclose(v["hard_sigmoid"],
                               np.clip(0.2 * _X + 0.5, 0, 1))
    np.testing.assert_allclose(v["softplus"], np.log1p(np.exp(_X)))
    np.testing.assert_allclose(v["softsign"], _X / (1 + np.abs(_X)))
    np.testing.assert_allclose(v["relu"], np.maximum(_X, 0))
    np.testing.assert_allclose(v["leaky_relu"], np.where(_X > 0, _X, 0.1 * _X))
    np.testing.assert_allclose(v["elu"], np.where(_X > 0, _X, np.expm1(_X)))
    np.testing.assert_allclose(v["elu_half"],
                               np.where(_X > 0, _X, 0.5 * np.expm1(_X)))
    selu = 1.0507009873554805 * np.where(_X > 0, _X,
                                         1.6732632423543772 * np.expm1(_X))
    np.testing.assert_allclose(v["selu"], selu)


def test_softmax_family_matches_numpy(nnet_values):
    v = nnet_values
    np.testing.assert_allclose(v["softmax"], _np_softmax(_Z, axis=1))
    np.testing.assert_allclose(v["softmax_axis0"], _np_softmax(_Z, axis=0))
    np.testing.assert_allclose(v["logsoftmax"], np.log(_np_softmax(_Z)))
    np.testing.assert_allclose(v["softmax_with_bias"],
                               _np_softmax(_Z + [1.0, 0, -1]))


def test_crossentropies_match_numpy(nnet_values):
    v = nnet_values
    bce = -(_TARGET * np.log(_OUT) + (1 - _TARGET) * np.log(1 - _OUT))
    np.testing.assert_allclose(v["bce"], bce)
    s = 1 / (1 + np.exp(-_X[:3]))
    np.testing.assert_allclose(
        v["sigmoid_bce"], -(_TARGET * np.log(s) + (1 - _TARGET) * np.log(1 - s)))
    # -log p[i, y_i]: -log 0.6 and -log 0.5
    expected = np.array([-math.log(0.6), -math.log(0.5)])
    for name in ("cce_int", "cce_onehot", "cce_1hot"):
        np.testing.assert_allclose(v[name], expected, err_msg=name)
    np.testing.assert_allclose(v["cce_soft"],
                               -(_P[::-1] * np.log(_P)).sum(axis=1))
    np.testing.assert_allclose(v["nll"],
                               -np.log(_np_softmax(_Z)[[0, 1], _Y]))
    np.testing.assert_allclose(v["nll_softmax"], _np_softmax(_Z))


def test_crossentropy_gradients_closed_form(nnet_values):
    # d(-log p[i, y_i]) / dp = -1 / p[i, y_i] at the target, 0 elsewhere
    expected = np.zeros_like(_P)
    expected[[0, 1], _Y] = -1 / _P[[0, 1], _Y]
    np.testing.assert_allclose(nnet_values["grad_p"], expected)
    # through the softmax: softmax(z) - onehot(y)
    onehot = np.eye(3)[_Y]
    np.testing.assert_allclose(nnet_values["grad_z"],
                               _np_softmax(_Z) - onehot, atol=1e-12)


def test_nnet_keeps_float32_and_rejects_bad_targets():
    x = pt.vector("x", dtype="float32")
    for fn in (T.nnet.ultra_fast_sigmoid, T.nnet.hard_sigmoid, T.nnet.elu,
               T.nnet.selu, T.nnet.softsign, T.nnet.softmax,
               lambda v: T.nnet.relu(v, 0.2)):
        assert fn(x).dtype == "float32"
    with pytest.raises(TypeError, match="one fewer"):
        T.nnet.categorical_crossentropy(pt.matrix(), pt.tensor3())
    with pytest.raises(TypeError, match="must be integers"):
        T.nnet.categorical_crossentropy(pt.matrix(), pt.vector())


def test_categorical_crossentropy_on_jax_static_shapes():
    """Static index shapes: the integer-target loss and its gradient compile
    for JAX when the inputs have static shapes."""
    pytest.importorskip("jax")
    previous = pytensor.config.floatX
    pytensor.config.floatX = "float32"
    try:
        z = pt.matrix("z", shape=(2, 3))
        y = pt.ivector("y", shape=(2,))
        loss = T.nnet.categorical_crossentropy(T.nnet.softmax(z), y)
        fn = pytensor.function([z, y], [loss, T.grad(loss.sum(), z)],
                               mode=get_mode("jax"))
        value, grad = fn(_Z.astype(np.float32), _Y)
    finally:
        pytensor.config.floatX = previous
        get_mode("jax")  # x64 back on for the float64 session
    np.testing.assert_allclose(value, -np.log(_np_softmax(_Z)[[0, 1], _Y]),
                               rtol=1e-5)
    np.testing.assert_allclose(grad, _np_softmax(_Z) - np.eye(3)[_Y],
                               atol=1e-6)


# ---------------------------------------------------------------------------
# scan, clone, grad, grad_clip, ifelse, Print

def test_scan_returns_outputs_and_updates_without_warnings():
    x = pt.vector("x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = core.scan(lambda xt, acc: acc + xt, sequences=x,
                           outputs_info=pt.zeros(()))
        outputs, updates = result
        powers, _ = core.scan(lambda acc: acc * 2, outputs_info=pt.ones(()),
                              n_steps=4, go_backwards=False, name="powers",
                              truncate_gradient=-1, strict=False)
    assert len(result) == 2 and dict(updates) == {}
    fn = _compile([x], [outputs, powers])
    cumulative, doubled = fn(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_allclose(cumulative, [1, 3, 6, 10])
    np.testing.assert_allclose(doubled, [2, 4, 8, 16])


def test_stream_inside_scan_draws_new_numbers_each_step():
    srng = T.shared_randomstreams.RandomStreams(seed=9)
    rows, updates = core.scan(lambda: srng.uniform((3,)), n_steps=3)
    assert dict(updates) == {}
    fn = _compile([], rows)
    for call in range(2):
        got = fn()
        expected = np.stack([uniform_numpy((9, 0, call), (3,), "float64",
                                           position=step)
                             for step in range(3)])
        np.testing.assert_array_equal(got, expected)


def test_clone_with_replace():
    x, z = pt.vector("x"), pt.vector("z")
    w = core.shared(np.array([2.0, 3.0]), name="w")
    y = x * w + 1
    copy = core.clone(y, replace={x: z})
    unshared = core.clone(y, share_inputs=False)
    with pytest.warns(DeprecationWarning, match="share_inputs"):
        core.clone(y, copy_inputs=True)
    assert w not in pytensor.graph.graph_inputs([unshared])
    fn = _compile([z], copy)
    np.testing.assert_allclose(fn(np.array([1.0, -1.0])), [3.0, -2.0])


def test_grad_and_grad_clip():
    x = pt.vector("x")
    scale = np.array([0.5, -3.0, 10.0])
    clipped = gradient.grad_clip(x, -1.0, 2.0)
    cost = (clipped * scale).sum()
    wrt_clip = core.grad(cost, x)
    # gradient.grad is core.grad: d(sum x^2)/dx = 2x
    square = gradient.grad((x ** 2).sum(), x)
    stopped = gradient.zero_grad(x) * x
    zeroed = gradient.grad(stopped.sum(), x)
    const = gradient.grad((gradient.consider_constant(x) * x).sum(), x)
    fn = _compile([x], [clipped, wrt_clip, square, zeroed, const])
    value = np.array([1.0, 2.0, -4.0])
    forward, g, g_square, g_zero, g_const = fn(value)
    np.testing.assert_allclose(forward, value)  # identity forward
    # the upstream gradient (0.5, -3, 10) clipped to [-1, 2]
    np.testing.assert_allclose(g, [0.5, -1.0, 2.0])
    np.testing.assert_allclose(g_square, 2 * value)
    np.testing.assert_allclose(g_zero, value)   # only the unstopped factor
    np.testing.assert_allclose(g_const, value)
    disconnected = gradient.disconnected_grad(x).sum()
    with pytest.raises(pytensor.gradient.DisconnectedInputError):
        core.grad(disconnected, x)


def test_ifelse_and_print(capsys):
    a, b = pt.scalar("a"), pt.scalar("b")
    choice = ifelse.ifelse(pt.lt(a, b), a * 10, b - 1)
    shown = printing.Print("shown value")(a)
    fn = _compile([a, b], [choice, shown * 1])
    assert [float(v) for v in fn(1.0, 2.0)] == [10.0, 1.0]
    assert [float(v) for v in fn(5.0, 2.0)] == [1.0, 5.0]
    assert "shown value" in capsys.readouterr().out
    assert "a" in printing.debugprint(a * 2, file="str")
    assert "a" in printing.pprint(a * 2)


# ---------------------------------------------------------------------------
# random streams (Theano interface)

def test_random_streams_match_the_counter_reference():
    srng = T.shared_randomstreams.RandomStreams(seed=42)
    mrg = sandbox.rng_mrg.MRG_RandomStreams()
    x = pt.matrix("x")
    mask = srng.binomial(x.shape, p=0.5, dtype=theano.config.floatX)
    spread = srng.uniform((2, 3), low=1.0, high=3.0)
    gauss = srng.normal((4,), avg=1.0, std=2.0)
    counts = mrg.binomial((2, 2), n=3, p=0.5)
    assert counts.dtype == "int64" and spread.dtype == "float64"
    fn = _compile([x], [mask, spread, gauss, counts])
    xs = np.zeros((3, 4))
    calls = [fn(xs) for _ in range(2)]
    for call, (m, u, z, c) in enumerate(calls):
        # keys: (seed, draw id, call counter)
        np.testing.assert_array_equal(
            m, uniform_numpy((42, 0, call), (3, 4), "float64") < 0.5)
        np.testing.assert_allclose(
            u, 1 + 2 * uniform_numpy((42, 1, call), (2, 3), "float64"))
        np.testing.assert_allclose(
            z, 1 + 2 * normal_numpy((42, 2, call), (4,), "float64"))
        trials = uniform_numpy((12345, 0, call), (3, 2, 2), "float64") < 0.5
        np.testing.assert_array_equal(c, trials.sum(axis=0))
    assert not np.array_equal(calls[0][0], calls[1][0])
    seed_var, counter = srng.state_variables
    assert int(seed_var.get_value()) == 42 and int(counter.get_value()) == 2
    ((shared_counter, update),) = srng.updates()
    assert shared_counter is counter and update.dtype == "uint32"
    srng.seed(42)
    mrg.seed(12345)
    np.testing.assert_array_equal(fn(xs)[0], calls[0][0])


def test_stream_seeds_and_argument_errors():
    np.random.seed(3)
    first = T.shared_randomstreams.RandomStreams().state_variables[0]
    np.random.seed(3)
    second = T.shared_randomstreams.RandomStreams().state_variables[0]
    assert first.get_value() == second.get_value()
    with pytest.raises(ValueError, match=r"\[0, 2\*\*32\)"):
        sandbox.rng_mrg.MRG_RandomStreams(seed=-1)
    with pytest.raises(TypeError, match="seed must be an int"):
        sandbox.rng_mrg.MRG_RandomStreams(seed=[1, 2, 3, 4, 5, 6])
    srng = sandbox.rng_mrg.MRG_RandomStreams(1)
    with pytest.raises(ValueError, match="positive Python int"):
        srng.binomial((2,), n=0)
    with pytest.raises(NotPorted, match="truncate=True"):
        srng.normal((2,), truncate=True)
    with pytest.raises(NotPorted, match="MRG_RandomStreams.multinomial"):
        srng.multinomial
    with pytest.raises(AttributeError) as info:
        srng.no_such_method
    assert not isinstance(info.value, NotPorted)
    x = pt.tensor3("x")
    assert srng.uniform(x.shape).ndim == 3
    assert srng.uniform(pt.lvector("s"), ndim=2).ndim == 2
    assert srng.binomial((2,), p=0.5, dtype="int8").dtype == "int8"


# ---------------------------------------------------------------------------
# names and the "no equivalent" errors

_THEANO_NAMES = (
    "imatrix tensor3 fmatrix ivector lscalar switch cast sqr arange concatenate "
    "grad dot tanh clip mean argmax eq neq log exp sum zeros_like ones_like "
    "alloc flatten reshape stack join shape_padleft addbroadcast "
    "patternbroadcast set_subtensor inc_subtensor nonzero minimum maximum "
    "largest constant as_tensor_variable TensorType basic nnet extra_ops "
    "shared_randomstreams abs_ inv DimShuffle Elemwise CAReduce Rop Lop "
    "jacobian hessian consider_constant sort argsort cumsum cumprod "
    "specify_shape SpecifyShape nlinalg slinalg NotScalarConstantError "
    "TensorSharedVariable Shape").split()


def test_theano_tensor_names_exist():
    missing = [name for name in _THEANO_NAMES if not hasattr(T, name)]
    assert missing == []
    assert T.addbroadcast is pt.specify_broadcastable
    for name in ("cumsum", "cumprod", "repeat", "bincount", "diff", "squeeze",
                 "fill_diagonal", "to_one_hot", "searchsorted", "unique"):
        assert hasattr(T.extra_ops, name), name
    assert T.extra_ops.RepeatOp is T.extra_ops.Repeat
    for name in ("Print", "debugprint", "pprint"):
        assert hasattr(printing, name)
    assert core.config is pytensor.config


def test_renamed_names_evaluate():
    x = pt.vector("x")
    row = pt.matrix("row")
    assert T.patternbroadcast(row, (True, False)).type.shape[0] == 1
    assert T.addbroadcast(row, 0).type.broadcastable == (True, False)
    with pytest.raises(ValueError, match="non-broadcastable"):
        T.patternbroadcast(T.addbroadcast(row, 0), (False, False))
    with pytest.raises(ValueError, match="pattern of 1 axes"):
        T.patternbroadcast(row, (True,))
    cube = pt.tensor3("cube")
    assert T.flatten(cube, outdim=2).ndim == 2
    assert T.flatten(cube).ndim == 1
    assert T.reshape(cube, pt.lvector("s"), 2).ndim == 2
    fn = _compile([x], [T.inv(x), T.abs_(x)])
    inv, absolute = fn(np.array([-2.0, 4.0]))
    np.testing.assert_allclose(inv, [-0.5, 0.25])
    np.testing.assert_allclose(absolute, [2.0, 4.0])


@pytest.mark.parametrize("owner,name,feature", [
    (T.nnet, "conv2d", "theano.tensor.nnet.conv2d"),
    (T.nnet, "h_softmax", "theano.tensor.nnet.h_softmax"),
    (T.nnet, "batch_normalization", "theano.tensor.nnet.batch_normalization"),
    (T, "unbroadcast", "theano.tensor.unbroadcast"),
    (T, "signal", "theano.tensor.signal"),
    (T, "opt", "theano.tensor.opt"),
    (sandbox, "cuda", "theano.sandbox.cuda"),
    (sandbox, "gpuarray", "theano.sandbox.gpuarray"),
    (T.extra_ops, "DiffOp", "theano.tensor.extra_ops.DiffOp"),
])
def test_no_equivalent_errors(owner, name, feature):
    with pytest.raises(NotPorted) as info:
        getattr(owner, name)
    message = str(info.value)
    assert message.startswith(feature + " has no equivalent in lasagne-lstm (")
    assert "\n" not in message
    assert isinstance(info.value, AttributeError)
    assert isinstance(info.value, NotImplementedError)
    assert not hasattr(owner, name)


def test_no_equivalent_messages_say_what_to_use():
    with pytest.raises(NotPorted, match="convolution is not ported"):
        T.nnet.conv2d
    with pytest.raises(NotPorted, match="choose the JAX backend"):
        sandbox.cuda
    if importlib.util.find_spec("pydot") is None:
        # pydot is no dependency; with it installed this is PyTensor's
        with pytest.raises(NotPorted, match="use theano.printing.debugprint"):
            printing.pydotprint


@pytest.mark.parametrize("owner", [T, T.nnet, T.extra_ops, sandbox, printing])
def test_nonsense_names_raise_plain_attribute_error(owner):
    with pytest.raises(AttributeError) as info:
        owner.no_such_theano_name
    assert not isinstance(info.value, NotPorted)
    assert "no_such_theano_name" in str(info.value)


# ---------------------------------------------------------------------------
# a Theano-era snippet, only theano./T. names

def test_theano_style_snippet_matches_numpy():
    rng = np.random.RandomState(0)
    floatX = theano.config.floatX
    X = T.tensor3("X")
    mask = T.matrix("mask")
    y = T.ivector("y")
    W = theano.shared(rng.randn(2, 3).astype(floatX), name="W")
    hidden = T.nnet.sigmoid(T.dot(X, W))
    pooled = (hidden * mask[:, :, None]).sum(axis=1) \
        / mask.sum(axis=1)[:, None]
    probs = T.nnet.softmax(pooled)
    targets = T.extra_ops.to_one_hot(y, 3)
    loss = T.mean(T.nnet.categorical_crossentropy(probs, targets))
    grad_W = T.grad(loss, W)
    fn = _compile([X, mask, y], [loss, grad_W])

    xs = rng.randn(2, 4, 2).astype(floatX)
    ms = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], floatX)
    ys = np.array([2, 0], np.int32)

    def numpy_loss(w):
        h = 1 / (1 + np.exp(-(xs @ w)))
        pooled_np = (h * ms[:, :, None]).sum(axis=1) / ms.sum(axis=1)[:, None]
        p = _np_softmax(pooled_np)
        return -np.mean(np.log(p[np.arange(2), ys]))

    value, grad = fn(xs, ms, ys)
    w0 = W.get_value()
    assert float(value) == pytest.approx(numpy_loss(w0), rel=1e-10)
    numeric = np.zeros_like(w0)
    for index in np.ndindex(*w0.shape):
        step = np.zeros_like(w0)
        step[index] = 1e-6
        numeric[index] = (numpy_loss(w0 + step) - numpy_loss(w0 - step)) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_theano_flags_float_type_reaches_pytensor():
    """A Theano-era ``THEANO_FLAGS=floatX=float32`` command line (in a fresh
    process: PyTensor reads its flags once, at import)."""
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != "PYTENSOR_FLAGS"}
    env["THEANO_FLAGS"] = "device=cuda,floatX=float32"
    out = subprocess.run([sys.executable, "-c", "import lasagne_lstm.theano as theano; "
                          "print(theano.config.floatX)"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.strip() == "float32", out.stderr
