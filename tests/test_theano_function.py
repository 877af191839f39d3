"""``lasagne_lstm.theano.function``: the same values as ``pytensor.function``
on graphs JAX cannot compile with dynamic shapes, one specialisation per input
shape, a bounded cache with a warning, a fallback for shapes that depend on
input values, and the padding helper (against hand-computed values)."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import lasagne_lstm as lasagne
from lasagne_lstm import backends
from lasagne_lstm.theano import function
from lasagne_lstm.utils import ladder_width, pad_to_ladder


def _lstm_lm(vocab=7, hidden=5, clip=0.5):
    """A masked LSTM language model written with the Lasagne API alone: its
    Reshape and the loss's ``reshape(y.shape)`` need concrete shapes on JAX."""
    lasagne.random.set_rng(np.random.RandomState(0))
    x, mask, y = pt.imatrix("x"), pt.matrix("mask"), pt.imatrix("y")
    l_in = lasagne.layers.InputLayer((None, None), input_var=x)
    l_mask = lasagne.layers.InputLayer((None, None), input_var=mask)
    l_emb = lasagne.layers.EmbeddingLayer(l_in, vocab, 3)
    l_lstm = lasagne.layers.LSTMLayer(l_emb, hidden, grad_clipping=clip, mask_input=l_mask)
    l_flat = lasagne.layers.ReshapeLayer(l_lstm, (-1, hidden))
    l_out = lasagne.layers.DenseLayer(l_flat, vocab,
                                      nonlinearity=lasagne.nonlinearities.softmax)
    nll = lasagne.objectives.categorical_crossentropy(lasagne.layers.get_output(l_out),
                                                      y.flatten())
    loss = (nll.reshape(y.shape) * mask).sum() / mask.sum()
    params = lasagne.layers.get_all_params(l_out, trainable=True)
    return [x, mask, y], loss, params


def _batch(rng, rows, width, vocab=7):
    X = rng.randint(0, vocab, size=(rows, width)).astype("int32")
    lengths = rng.randint(1, width + 1, size=rows)
    lengths[0] = width
    mask = (np.arange(width)[None, :] < lengths[:, None]).astype("float64")
    return X, mask, np.roll(X, 1, axis=1)


def test_jax_specialises_a_dynamic_shape_lasagne_graph():
    inputs, loss, params = _lstm_lm()
    upd = lasagne.updates.adam(loss, params, learning_rate=0.01)
    new_values = list(upd.values())
    # the reference: PyTensor's own function on the same graph (Python/C ops)
    reference = pytensor.function(inputs, [loss] + new_values,
                                  mode=backends.get_mode("fast_compile"))
    values = function(inputs, [loss] + new_values, backend="jax")
    rng = np.random.RandomState(1)
    shapes = [(3, 4), (1, 6), (3, 4), (2, 1)]  # a repeat, one row, one step
    for rows, width in shapes:
        batch = _batch(rng, rows, width)
        for got, want in zip(values(*batch), reference(*batch)):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert values.compiled == 3 and values.shapes_seen == 3
    # and with the updates applied: the parameters become the values above
    train = function(inputs, loss, updates=upd, backend="jax")
    batch = _batch(rng, 2, 5)
    expected = reference(*batch)
    got_loss = train(*batch)
    np.testing.assert_allclose(got_loss, expected[0], rtol=1e-10)
    for var, want in zip(upd.keys(), expected[1:]):
        np.testing.assert_allclose(np.asarray(var.get_value()), want, rtol=1e-10,
                                   atol=1e-12, err_msg=var.name)


def test_dynamic_backend_updates_givens_downcast_and_keywords():
    w = pytensor.shared(np.array([1.0, 2.0]), name="w")
    x, scale = pt.matrix("x"), pt.scalar("scale")
    data = pt.matrix("data")
    out = (data @ w) * scale
    f = function([x, scale], out, updates={w: w + data.sum(axis=0)},
                 givens=[(data, x * 2)], allow_input_downcast=True,
                 backend="fast_compile", name="scaled")
    xs = np.array([[1.0, 0.5], [0.0, 3.0]], dtype="float32")
    np.testing.assert_allclose(f(xs, 0.5), (2 * xs @ [1.0, 2.0]) * 0.5)
    np.testing.assert_allclose(w.get_value(), [1.0 + 2.0, 2.0 + 7.0])
    # keyword arguments by input name, and a clear error for a wrong name
    np.testing.assert_allclose(f(scale=1.0, x=xs), 2 * xs @ [3.0, 9.0])
    with pytest.raises(TypeError, match="no input named 'y'"):
        f(xs, y=1.0)
    with pytest.raises(TypeError, match="missing input scale"):
        f(xs)


def test_static_backend_cache_is_bounded_and_warns_once(capsys):
    x = pt.matrix("x")
    f = function([x], x.reshape((-1,)).sum() * 2, backend="jax", max_shapes=2,
                 warn_shapes=3)
    for width in (1, 2, 3, 4, 2):
        assert f(np.ones((2, width))) == pytest.approx(4.0 * width)
    assert f.compiled == 2 and f.shapes_seen == 5
    assert list(f.functions) == [((2, 4),), ((2, 2),)]  # least recently used dropped
    lines = [line for line in capsys.readouterr().err.splitlines()
             if "lasagne_lstm.theano" in line]
    assert len(lines) == 1 and "pad_to_ladder" in lines[0]


def test_jax_outputs_are_writable_numpy_arrays_as_in_theano():
    # a char-rnn idiom: ``ix_to_char[np.argmax(probs(x).ravel())]`` needs a
    # hashable NumPy integer, which a JAX output does not give
    x = pt.matrix("x")
    f = function([x], [pt.exp(x) / pt.exp(x).sum(axis=1, keepdims=True), x.sum()],
                 backend="jax")
    xs = np.array([[0.0, 2.0, 1.0]])
    for _ in range(2):  # the first call (compiling) and a cached one
        probs, total = f(xs)
        assert type(probs) is np.ndarray and type(total) is np.ndarray
        assert total.shape == () and total == pytest.approx(3.0)
        np.testing.assert_allclose(probs, np.exp(xs) / np.exp(xs).sum(), rtol=1e-12)
        assert {1: "b"}[np.argmax(probs.ravel())] == "b"
        probs[0, 0] = -1.0  # writable, as Theano's outputs are
    single = function([x], x * 2, backend="jax")
    assert type(single(xs)) is np.ndarray


def test_wrong_rank_is_a_one_line_type_error():
    x = pt.matrix("x")
    f = function([x], x.sum(), backend="jax")
    with pytest.raises(TypeError, match="input x has 2 dimensions"):
        f(np.ones(3))


def test_shapes_from_input_values_fall_back_to_a_dynamic_backend(capsys):
    n = pt.lscalar("n")
    f = function([n], pt.arange(n).sum(), backend="jax")
    assert f(5) == 10 and f(7) == 21
    assert not f.static
    err = capsys.readouterr().err
    assert "depend on input values" in err and "numba" in err


@pytest.mark.parametrize("length, multiple, growth, expected", [
    (1, 4, 1.3, 4), (5, 4, 1.3, 8), (13, 4, 1.3, 16), (17, 4, 1.3, 24),
    (33, 4, 1.3, 44), (44, 4, 1.3, 44), (45, 4, 1.3, 60), (7, 8, 1.0, 8),
    (9, 8, 1.0, 16), (0, 4, 1.3, 0)])
def test_ladder_width_hand_computed(length, multiple, growth, expected):
    # 4, then ceil(4*1.3/4)*4 = 8, ceil(8*1.3/4)*4 = 12, 16, 24, 32, 44, 60
    assert ladder_width(length, multiple, growth) == expected


def test_pad_to_ladder_pads_time_axes_together_and_keeps_a_masked_loss():
    rng = np.random.RandomState(0)
    X, mask, y = _batch(rng, 3, 5)
    labels = np.array([0, 2, 1], dtype="int32")
    Xp, mp, yp, lp = pad_to_ladder(X, mask, y, labels)
    assert Xp.shape == mp.shape == yp.shape == (3, 8)
    assert lp is labels
    np.testing.assert_array_equal(Xp[:, :5], X)
    assert not Xp[:, 5:].any() and not mp[:, 5:].any()
    per_token = rng.rand(3, 8)
    assert (per_token * mp).sum() == pytest.approx((per_token[:, :5] * mask).sum())
    assert pad_to_ladder(np.ones((2, 8))).shape == (2, 8)  # already on a rung
    with pytest.raises(ValueError, match="sizes differ"):
        pad_to_ladder(X, np.ones((3, 6)))


def test_fallback_reads_parameters_a_jax_function_updated():
    w = pytensor.shared(np.array([1.0, 2.0, 3.0]), name="w")
    x, n = pt.vector("x"), pt.lscalar("n")
    step = function([x], (w * x).sum(), updates={w: w + x}, backend="jax")
    head = function([n], w[:n].sum(), backend="jax")  # a value-dependent shape
    step(np.ones(3))
    assert head(2) == pytest.approx(2.0 + 3.0)
    step(np.ones(3))
    assert head(3) == pytest.approx(3.0 + 4.0 + 5.0)


def test_numba_backend_equals_pytensor_function_on_the_same_graph():
    """Outputs and updates of a reshape → matrix product → squared-error graph
    with givens: the facade on Numba against ``pytensor.function`` in Numba
    mode (kept small: each Numba op compiles for seconds on a cold cache)."""
    rng = np.random.RandomState(2)
    W = pytensor.shared(np.zeros((6, 3)), name="W")
    x, target = pt.tensor3("x"), pt.matrix("target")
    flat = pt.matrix("flat")
    loss = ((flat @ W - target) ** 2).mean()
    upd = lasagne.updates.sgd(loss, [W], learning_rate=0.5)
    givens = [(flat, x.reshape((x.shape[0], -1)))]
    batches = [(rng.randn(4, 2, 3), rng.randn(4, 3)) for _ in range(3)]
    results = []
    for compile_ in (lambda: function([x, target], loss, updates=upd, givens=givens,
                                      mode="numba"),
                     lambda: pytensor.function([x, target], loss, updates=upd,
                                               givens=givens, mode="NUMBA")):
        W.set_value(np.full((6, 3), 0.1))
        f = compile_()
        results.append(([float(f(*b)) for b in batches], W.get_value().copy()))
    (losses_a, W_a), (losses_b, W_b) = results
    np.testing.assert_allclose(losses_a, losses_b, rtol=1e-12)
    np.testing.assert_allclose(W_a, W_b, rtol=1e-12)
    assert np.abs(W_a - 0.1).max() > 1e-3  # the updates were applied


# -- compiling ahead of use ---------------------------------------------------
def _lm_step():
    """The LSTM model's SGD step on JAX, with its parameters' starting values."""
    inputs, loss, params = _lstm_lm()
    grads = pytensor.grad(loss, params)
    step = function(inputs, loss, updates=[(p, p - 0.5 * g) for p, g in zip(params, grads)],
                    backend="jax", name="sgd_step")
    return step, params, [p.get_value() for p in params]


def _reference_steps(batches):
    """The same steps through ``pytensor.function`` in PyTensor's
    FAST_COMPILE mode (an independent compilation of the same graph, by
    PyTensor's own Python/C ops; Numba's cold compiles of this graph took
    minutes), from the same starting values."""
    inputs, loss, params = _lstm_lm()
    grads = pytensor.grad(loss, params)
    step = pytensor.function(inputs, loss, mode=backends.get_mode("fast_compile"),
                             updates=[(p, p - 0.5 * g) for p, g in zip(params, grads)])
    return [float(step(*b)) for b in batches], [p.get_value() for p in params]


def test_compile_ahead_compiles_without_running_and_calls_do_not_compile_again(caplog):
    import jax
    from lasagne_lstm.theano.compile import compile_ahead
    rng = np.random.RandomState(3)
    batches = [_batch(rng, 4, 6), _batch(rng, 2, 3), _batch(rng, 4, 6), _batch(rng, 1, 5)]
    step, params, start = _lm_step()
    shapes = [[np.zeros(a.shape, a.dtype) for a in b] for b in batches]
    ahead = compile_ahead([(step, s) for s in shapes])
    ahead.join()
    assert sorted(step.functions) == sorted({tuple(a.shape for a in b) for b in batches})
    assert step.ahead_seconds > 0 and step.compile_seconds == 0
    for p, value in zip(params, start):  # compiling ran nothing
        np.testing.assert_array_equal(p.get_value(), value)
    assert compile_ahead([(step, shapes[0])]) is None  # nothing left to compile
    with jax.log_compiles(), caplog.at_level("WARNING"):
        losses = [float(step(*b)) for b in batches]
    # the calls used the executables compiled ahead: XLA compiled nothing more
    assert not [r for r in caplog.records if "sgd_step" in r.getMessage()
                or "jax_funcified_fgraph" in r.getMessage()]
    ref_losses, ref_values = _reference_steps(batches)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)
    for p, value in zip(params, ref_values):
        np.testing.assert_allclose(p.get_value(), value, rtol=1e-5, atol=1e-7)


def test_a_cancelled_compile_ahead_leaves_the_rest_to_the_first_calls():
    from lasagne_lstm.theano.compile import compile_ahead
    rng = np.random.RandomState(4)
    batches = [_batch(rng, 3, w) for w in (2, 3, 4, 5)]
    step, params, _ = _lm_step()
    ahead = compile_ahead([(step, b) for b in batches])
    ahead.cancel()  # at most the compilations under way finish
    assert not step._ahead  # every claim released
    assert len(step.functions) < len(batches)
    losses = [float(step(*b)) for b in batches]  # the rest compile on first call
    assert len(step.functions) == len(batches)
    ref_losses, _ = _reference_steps(batches)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)


def test_a_call_waits_for_its_shape_compiling_ahead_and_a_failure_is_left_to_it(capsys):
    from lasagne_lstm.theano.compile import compile_ahead
    x = pt.matrix("x")
    double = function([x], 2 * x.sum(), backend="jax")
    ahead = compile_ahead([(double, [np.zeros((300, 2))])])
    # called at once: it waits for the background compilation, not compiling twice
    assert double(np.ones((300, 2))) == pytest.approx(1200.0)
    ahead.join()
    assert len(double.functions) == 1 and double.shapes_seen == 1
    # a graph JAX cannot compile by shape fails in the background silently;
    # its first call then falls back to Numba and says so, as without compile_ahead
    n = pt.lscalar("n")
    head = function([n], pt.arange(n).sum(), backend="jax")
    compile_ahead([(head, [np.int64(5)])]).join()
    assert head(5) == 10 and not head.static
    assert "depend on input values" in capsys.readouterr().err


def test_jax_adds_one_row_at_one_index_and_refuses_a_row_for_many():
    """``E[ids] += rows`` (an embedding's gradient) with one index and one
    row on JAX against NumPy's ``np.add.at``: PyTensor's JAX code refused
    it, so a one-token sequence could not be trained there. A single
    non-broadcastable row for several indices is still refused."""
    E, ids, rows = pt.matrix("E"), pt.ivector("ids"), pt.matrix("rows")
    add = function([E, ids, rows], pt.inc_subtensor(E[ids], rows), backend="jax")
    rng = np.random.RandomState(0)
    E0 = rng.randn(5, 3)
    for index in ([2], [4, 1, 4]):
        r = rng.randn(len(index), 3)
        want = E0.copy()
        np.add.at(want, index, r)
        np.testing.assert_allclose(add(E0, np.array(index, dtype="int32"), r), want)
    with pytest.raises(ValueError, match="Runtime broadcasting not allowed"):
        add(E0, np.array([0, 1], dtype="int32"), rng.randn(1, 3))


def test_a_mode_with_a_subclass_of_the_jax_linker_is_specialised_by_shape():
    from pytensor.compile.mode import Mode
    from pytensor.link.jax.linker import JAXLinker

    class OwnJAXLinker(JAXLinker):
        """A user's own linker: it must count as JAX (static shapes)."""

    inputs, loss, params = _lstm_lm()
    reference = pytensor.function(inputs, loss, mode=backends.get_mode("fast_compile"))
    mode = Mode(linker=OwnJAXLinker(), optimizer=backends.get_mode("jax").provided_optimizer)
    values = function(inputs, loss, mode=mode)
    rng = np.random.RandomState(2)
    for rows, width in [(3, 4), (2, 6)]:
        batch = _batch(rng, rows, width)
        np.testing.assert_allclose(values(*batch), reference(*batch), rtol=1e-10)
    assert values.compiled == 2


_SOFTMAX_SCRIPT = """
import json, sys
import numpy as np
import pytensor, pytensor.tensor as pt
from pytensor.compile.builders import SymbolicOp
from lasagne_lstm import backends
x = pt.matrix("x")
y = pt.special.softmax(x, axis=-1)
cost = (y ** 2 * np.arange(1.0, 4.0)).sum() + pt.special.log_softmax(x, axis=-1)[0, 1]
f = pytensor.function([x], [y, cost, pytensor.grad(cost, x)],
                      mode=backends.get_mode(sys.argv[1]))
v = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]])
y_value, cost_value, grad_value = f(v)
print(json.dumps(dict(
    y=y_value.tolist(), cost=float(cost_value), grad=grad_value.tolist(),
    symbolic=[type(n.op).__name__ for n in f.maker.fgraph.toposort()
              if isinstance(n.op, SymbolicOp)],
    numba="pytensor.link.numba.dispatch.basic" in sys.modules)))
"""


@pytest.mark.parametrize("backend", ["c", "fast_compile"])
def test_softmax_runs_on_the_backend_asked_for_not_numba(backend):
    # a fresh process with PyTensor's own default mode (Numba), as a user has
    import json
    import os
    import subprocess
    import sys
    flags = os.environ["PYTENSOR_FLAGS"].replace("mode=FAST_COMPILE", "")
    proc = subprocess.run([sys.executable, "-c", _SOFTMAX_SCRIPT, backend],
                          env=dict(os.environ, PYTENSOR_FLAGS=flags),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["symbolic"] == [] and not got["numba"]
    v = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]])

    def cost(z):  # NumPy, for the values and for finite differences
        e = np.exp(z - z.max(axis=1, keepdims=True))
        s = e / e.sum(axis=1, keepdims=True)
        return (s ** 2 * np.arange(1.0, 4.0)).sum() + np.log(s[0, 1]), s

    want_cost, want_y = cost(v)
    np.testing.assert_allclose(got["y"], want_y, rtol=1e-12)
    assert got["cost"] == pytest.approx(want_cost, rel=1e-12)
    eps, numeric = 1e-6, np.zeros_like(v)
    for index in np.ndindex(v.shape):
        step = np.zeros_like(v)
        step[index] = eps
        numeric[index] = (cost(v + step)[0] - cost(v - step)[0]) / (2 * eps)
    np.testing.assert_allclose(got["grad"], numeric, rtol=1e-6, atol=1e-8)
