"""Tests of the recurrent layers against independent references.

Forward passes and gradients are checked against plain NumPy loops over time
(and central finite differences of those loops); per-step gradient clipping
against a separately written scan. To keep the file fast, the symbolic
graphs are compiled in a few module-scoped functions with many outputs.
"""
import inspect

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import grad_clip

from lasagne_lstm import init, nonlinearities
from lasagne_lstm.layers import (DenseLayer, InputLayer, get_all_layers,
                                 get_all_params, get_output)
from lasagne_lstm.layers.recurrent import (CustomRecurrentLayer, GRULayer,
                                           Gate, LSTMLayer, RecurrentLayer)
from numpy_reference import (LSTM_GATES, _init_state, _order, lstm_names,  # noqa: F401
                             make_mask, np_lstm, sigmoid, values)

N, T, F, U = 3, 5, 2, 4
LENGTHS = (5, 3, 1)
GRU_GATES = ("updategate", "resetgate", "hidden_update")


# ---------------------------------------------------------------------------
# NumPy references
# ---------------------------------------------------------------------------

def np_gru(x, P, mask=None, h0=None, backwards=False, only_final=False):
    """GRU of Cho et al. (reset applied to the hidden projection)."""
    n, t = x.shape[:2]
    x = x.reshape(n, t, -1)
    u = P["W_hid_to_resetgate"].shape[0]
    h = _init_state(h0, n, u)
    out = np.zeros((n, t, u))
    order = _order(t, backwards)
    for step in order:
        xt = x[:, step]
        r = sigmoid(xt @ P["W_in_to_resetgate"] + P["b_resetgate"]
                    + h @ P["W_hid_to_resetgate"])
        z = sigmoid(xt @ P["W_in_to_updategate"] + P["b_updategate"]
                    + h @ P["W_hid_to_updategate"])
        cand = np.tanh(xt @ P["W_in_to_hidden_update"] + P["b_hidden_update"]
                       + r * (h @ P["W_hid_to_hidden_update"]))
        h_new = (1 - z) * h + z * cand
        h = np.where(mask[:, step, None] != 0, h_new, h) \
            if mask is not None else h_new
        out[:, step] = h
    return out[:, order[-1]] if only_final else out


def np_rnn(x, W_x, b, W_h, f, mask=None, h0=None, backwards=False,
           only_final=False):
    n, t = x.shape[:2]
    x = x.reshape(n, t, -1)
    h = _init_state(h0, n, W_h.shape[0])
    out = np.zeros((n, t, W_h.shape[0]))
    order = _order(t, backwards)
    for step in order:
        h_new = f(x[:, step] @ W_x + b + h @ W_h)
        h = np.where(mask[:, step, None] != 0, h_new, h) \
            if mask is not None else h_new
        out[:, step] = h
    return out[:, order[-1]] if only_final else out


def np_relu(z):
    return np.maximum(z, 0)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def gru_names(inits=True):
    names = []
    for g in GRU_GATES:
        names += ["W_in_to_" + g, "W_hid_to_" + g, "b_" + g]
    if inits:
        names += ["hid_init"]
    return names


def randomize(layer, rng, scale=0.5):
    """Give every own parameter of ``layer`` random values (biases too)."""
    for p in layer.get_params():
        p.set_value(rng.normal(0, scale, p.get_value().shape))


def fd_grad(f, P, name, eps=1e-6):
    """Central finite-difference gradient of f(P) w.r.t. P[name]."""
    base = P[name]
    g = np.zeros_like(base)
    for idx in np.ndindex(*base.shape):
        plus, minus = dict(P), dict(P)
        bp, bm = base.copy(), base.copy()
        bp[idx] += eps
        bm[idx] -= eps
        plus[name], minus[name] = bp, bm
        g[idx] = (f(plus) - f(minus)) / (2 * eps)
    return g


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(1234)
    return dict(
        x=rng.normal(size=(N, T, F)),
        x4=rng.normal(size=(N, T, 2, 3)),
        mask=make_mask(LENGTHS, T),
        h0=rng.normal(size=(N, U)),
        c0=rng.normal(size=(N, U)),
        h01=rng.normal(size=(N, 1)),
        R=rng.normal(size=(N, T, U)),
        Rf=rng.normal(size=(N, U)),
    )


# ---------------------------------------------------------------------------
# Forward passes: one compiled function for all configurations
# ---------------------------------------------------------------------------

LSTM_CONFIGS = {
    "default": dict(mask=True),
    "nomask": dict(),
    "nopeep_noprecompute": dict(mask=True, peepholes=False,
                                precompute_input=False),
    "backwards": dict(mask=True, backwards=True),
    "final": dict(mask=True, only_return_final=True),
    "back_final": dict(mask=True, backwards=True, only_return_final=True),
    "unroll": dict(mask=True, unroll_scan=True),
    "unroll_back_noprecompute": dict(mask=True, unroll_scan=True,
                                     backwards=True, precompute_input=False),
    "learn_init": dict(mask=True, learn_init=True),
    "layer_init": dict(mask=True, layer_init=True),
    "nd_input": dict(mask=True, nd=True),
    "one_unit": dict(mask=True, units=1),
    "one_unit_nopeep_unroll": dict(mask=True, units=1, peepholes=False,
                                   unroll_scan=True),
}

GRU_CONFIGS = {
    "default": dict(mask=True),
    "nomask": dict(),
    "noprecompute": dict(mask=True, precompute_input=False),
    "backwards": dict(mask=True, backwards=True),
    "back_final": dict(mask=True, backwards=True, only_return_final=True),
    "final": dict(mask=True, only_return_final=True),
    "unroll": dict(mask=True, unroll_scan=True, precompute_input=False),
    "learn_init": dict(mask=True, learn_init=True),
    "layer_init": dict(mask=True, layer_init=True),
    "nd_input": dict(mask=True, nd=True),
    "one_unit": dict(mask=True, units=1),
    "one_unit_layer_init": dict(mask=True, units=1, layer_init=True,
                                backwards=True),
}


def _build(cls, cfg, l_in, l_in4, l_mask, l_h0, l_c0, l_h01, rng):
    cfg = dict(cfg)
    kw = {}
    units = cfg.pop("units", U)
    incoming = l_in4 if cfg.pop("nd", False) else l_in
    if cfg.pop("mask", False):
        kw["mask_input"] = l_mask
    if cfg.pop("layer_init", False):
        kw["hid_init"] = l_h0 if units == U else l_h01
        if cls is LSTMLayer:
            kw["cell_init"] = l_c0
    kw.update(cfg)
    layer = cls(incoming, units, **kw)
    randomize(layer, rng)
    return layer


@pytest.fixture(scope="module")
def forward(data):
    rng = np.random.RandomState(42)
    l_in = InputLayer((N, T, F))
    l_in4 = InputLayer((N, T, 2, 3))
    l_mask = InputLayer((N, T))
    l_h0 = InputLayer((N, U))
    l_c0 = InputLayer((N, U))
    l_h01 = InputLayer((N, 1))
    args = (l_in, l_in4, l_mask, l_h0, l_c0, l_h01, rng)
    layers = {}
    for key, cfg in LSTM_CONFIGS.items():
        layers["lstm", key] = _build(LSTMLayer, cfg, *args)
    for key, cfg in GRU_CONFIGS.items():
        layers["gru", key] = _build(GRULayer, cfg, *args)
    # Vanilla RNNs.
    layers["rnn", "default"] = RecurrentLayer(l_in, U, mask_input=l_mask)
    layers["rnn", "back_noprecompute_layer_init"] = RecurrentLayer(
        l_in, U, mask_input=l_mask, backwards=True, precompute_input=False,
        hid_init=l_h0)
    layers["rnn", "final_unroll_nd"] = RecurrentLayer(
        l_in4, U, mask_input=l_mask, only_return_final=True,
        unroll_scan=True)
    l_fi = DenseLayer(InputLayer((None, F)), U, nonlinearity=None)
    l_fh = DenseLayer(InputLayer((None, U)), U, b=None, nonlinearity=None)
    layers["custom", "tanh"] = CustomRecurrentLayer(
        l_in, l_fi, l_fh, nonlinearity=nonlinearities.tanh,
        mask_input=l_mask, learn_init=True)
    for key in [k for k in layers if k[0] in ("rnn", "custom")]:
        for p in get_all_params(layers[key]):
            p.set_value(rng.normal(0, 0.5, p.get_value().shape))
    keys = list(layers)
    fn = pytensor.function(
        [l.input_var for l in (l_in, l_in4, l_mask, l_h0, l_c0, l_h01)],
        [get_output(layers[k]) for k in keys])
    outs = fn(data["x"], data["x4"], data["mask"], data["h0"], data["c0"],
              data["h01"])
    return {k: (layers[k], o) for k, o in zip(keys, outs)}


def _ref_kwargs(layer, cfg, data):
    kw = dict(backwards=cfg.get("backwards", False),
              only_final=cfg.get("only_return_final", False))
    if cfg.get("mask"):
        kw["mask"] = data["mask"]
    x = data["x4"] if cfg.get("nd") else data["x"]
    return x, kw


@pytest.mark.parametrize("key", list(LSTM_CONFIGS))
def test_lstm_forward_matches_numpy(forward, data, key):
    layer, out = forward["lstm", key]
    cfg = LSTM_CONFIGS[key]
    x, kw = _ref_kwargs(layer, cfg, data)
    P = values(layer, lstm_names())
    if cfg.get("layer_init"):
        kw["h0"], kw["c0"] = data["h0"], data["c0"]
    else:
        kw["h0"], kw["c0"] = P["hid_init"], P["cell_init"]
    expected = np_lstm(x, P, peepholes=cfg.get("peepholes", True), **kw)
    assert out.shape == expected.shape == layer.output_shape
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("key", list(GRU_CONFIGS))
def test_gru_forward_matches_numpy(forward, data, key):
    layer, out = forward["gru", key]
    cfg = GRU_CONFIGS[key]
    x, kw = _ref_kwargs(layer, cfg, data)
    P = values(layer, gru_names())
    if cfg.get("layer_init"):
        kw["h0"] = data["h0"] if cfg.get("units", U) == U else data["h01"]
    else:
        kw["h0"] = P["hid_init"]
    expected = np_gru(x, P, **kw)
    assert out.shape == expected.shape == layer.output_shape
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


def test_masked_steps_repeat_last_valid_state(forward, data):
    _, out = forward["lstm", "default"]
    for row, length in enumerate(LENGTHS):
        for t in range(length, T):
            np.testing.assert_array_equal(out[row, t], out[row, length - 1])
    layer, final = forward["lstm", "final"]
    P = values(layer, lstm_names())
    full = np_lstm(data["x"], P, mask=data["mask"], h0=P["hid_init"],
                   c0=P["cell_init"])
    for row, length in enumerate(LENGTHS):
        np.testing.assert_allclose(final[row], full[row, length - 1],
                                   rtol=1e-10)


def test_recurrent_layer_forward(forward, data):
    layer, out = forward["rnn", "default"]
    ref = np_rnn(data["x"], layer.W_in_to_hid.get_value(),
                 layer.b.get_value(), layer.W_hid_to_hid.get_value(),
                 np_relu, mask=data["mask"],
                 h0=layer.hid_init.get_value())
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)

    layer, out = forward["rnn", "back_noprecompute_layer_init"]
    ref = np_rnn(data["x"], layer.W_in_to_hid.get_value(),
                 layer.b.get_value(), layer.W_hid_to_hid.get_value(),
                 np_relu, mask=data["mask"], h0=data["h0"], backwards=True)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)

    layer, out = forward["rnn", "final_unroll_nd"]
    ref = np_rnn(data["x4"], layer.W_in_to_hid.get_value(),
                 layer.b.get_value(), layer.W_hid_to_hid.get_value(),
                 np_relu, mask=data["mask"], h0=layer.hid_init.get_value(),
                 only_final=True)
    assert out.shape == (N, U) == layer.output_shape
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)


def test_custom_recurrent_layer_forward(forward, data):
    layer, out = forward["custom", "tanh"]
    fi, fh = layer.input_to_hidden, layer.hidden_to_hidden
    ref = np_rnn(data["x"], fi.W.get_value(), fi.b.get_value(),
                 fh.W.get_value(), np.tanh, mask=data["mask"],
                 h0=layer.hid_init.get_value())
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------
# Gradients against central finite differences of the NumPy references
# ---------------------------------------------------------------------------

GRAD_CASES = {
    # name: (class, layer kwargs, reference kwargs)
    "lstm_peep_mask_learn": (LSTMLayer, dict(mask=True, learn_init=True),
                             dict()),
    "lstm_nopeep_back_noprecompute_final": (
        LSTMLayer, dict(mask=True, peepholes=False, backwards=True,
                        precompute_input=False, only_return_final=True,
                        learn_init=True), dict(peepholes=False)),
    "lstm_unroll": (LSTMLayer, dict(unroll_scan=True, learn_init=True),
                    dict()),
    "gru_mask_learn": (GRULayer, dict(mask=True, learn_init=True), dict()),
    "gru_back_noprecompute_unroll": (
        GRULayer, dict(mask=True, backwards=True, precompute_input=False,
                       unroll_scan=True, learn_init=True), dict()),
}


@pytest.fixture(scope="module")
def gradients(data):
    rng = np.random.RandomState(7)
    l_in = InputLayer((N, T, F))
    l_mask = InputLayer((N, T))
    cases, outputs = {}, []
    for key, (cls, cfg, ref_kw) in GRAD_CASES.items():
        cfg = dict(cfg)
        if cfg.pop("mask", False):
            cfg["mask_input"] = l_mask
        layer = cls(l_in, U, **cfg)
        randomize(layer, rng)
        out = get_output(layer)
        R = data["Rf"] if cfg.get("only_return_final") else data["R"]
        loss = (out * R).sum()
        params = layer.get_params(trainable=True)
        assert len(params) == len(layer.get_params())  # learn_init=True
        outputs += [loss] + pytensor.grad(loss, params)
        cases[key] = (layer, params)
    fn = pytensor.function([l_in.input_var, l_mask.input_var], outputs)
    res = fn(data["x"], data["mask"])
    result, pos = {}, 0
    for key, (layer, params) in cases.items():
        n = 1 + len(params)
        result[key] = (layer, params, res[pos], res[pos + 1:pos + n])
        pos += n
    return result


@pytest.mark.parametrize("key", list(GRAD_CASES))
def test_gradients_match_finite_differences(gradients, data, key):
    layer, params, loss, grads = gradients[key]
    cls, cfg, ref_kw = GRAD_CASES[key]
    is_lstm = cls is LSTMLayer
    names = lstm_names(ref_kw.get("peepholes", True)) if is_lstm \
        else gru_names()
    assert [p.name for p in params] == names
    P = values(layer, names)
    final = cfg.get("only_return_final", False)
    R = data["Rf"] if final else data["R"]
    mask = data["mask"] if cfg.get("mask") else None

    def f(P):
        kw = dict(mask=mask, backwards=cfg.get("backwards", False),
                  only_final=final, h0=P["hid_init"])
        if is_lstm:
            out = np_lstm(data["x"], P, c0=P["cell_init"], **kw, **ref_kw)
        else:
            out = np_gru(data["x"], P, **kw)
        return float((out * R).sum())

    np.testing.assert_allclose(loss, f(P), rtol=1e-10)
    for name, g in zip(names, grads):
        expected = fd_grad(f, P, name)
        assert np.abs(expected).max() > 0 or name.startswith("W_cell")
        np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-8,
                                   err_msg=name)


# ---------------------------------------------------------------------------
# Per-step gradient clipping against an independently written scan, and
# gradient truncation
# ---------------------------------------------------------------------------

TINY, HUGE = 1e-3, 1e6


def _indep_lstm(x, mask, P, clip):
    """LSTM written gate by gate (no stacking), clipping each gate's
    pre-activation gradient; x (batch, time, feat), mask (batch, time)."""
    def step(x_t, m_t, c_prev, h_prev, *weights):
        W = dict(zip(lstm_names(inits=False), weights))
        pre = {}
        for g in LSTM_GATES:
            a = pt.dot(x_t, W["W_in_to_" + g]) + W["b_" + g] \
                + pt.dot(h_prev, W["W_hid_to_" + g])
            pre[g] = grad_clip(a, -clip, clip)
        i = pt.sigmoid(pre["ingate"] + c_prev * W["W_cell_to_ingate"])
        f = pt.sigmoid(pre["forgetgate"] + c_prev * W["W_cell_to_forgetgate"])
        c = f * c_prev + i * pt.tanh(pre["cell"])
        o = pt.sigmoid(pre["outgate"] + c * W["W_cell_to_outgate"])
        h = o * pt.tanh(c)
        keep = m_t[:, None] > 0
        return [pt.where(keep, c, c_prev), pt.where(keep, h, h_prev)]

    weights = [P[n] for n in lstm_names(inits=False)]
    c0 = pt.zeros((x.shape[0], U), dtype=x.dtype)
    cs, hs = pytensor.scan(step, sequences=[x.swapaxes(0, 1), mask.T],
                           outputs_info=[c0, c0], non_sequences=weights,
                           strict=True, return_updates=False)
    return hs.swapaxes(0, 1)


def _indep_gru(x, mask, P, clip, raw_input=False):
    """GRU gate by gate; clips x W + b (or, with ``raw_input``, the raw x_t
    as the layer does without precompute_input), h W_hid (per gate) and the
    candidate's pre-activation."""
    def step(x_t, m_t, h_prev, *weights):
        W = dict(zip(gru_names(inits=False), weights))
        if raw_input:
            x_t = grad_clip(x_t, -clip, clip)
            X = {g: pt.dot(x_t, W["W_in_to_" + g]) + W["b_" + g]
                 for g in GRU_GATES}
        else:
            X = {g: grad_clip(pt.dot(x_t, W["W_in_to_" + g]) + W["b_" + g],
                              -clip, clip) for g in GRU_GATES}
        H = {g: grad_clip(pt.dot(h_prev, W["W_hid_to_" + g]), -clip, clip)
             for g in GRU_GATES}
        r = pt.sigmoid(X["resetgate"] + H["resetgate"])
        z = pt.sigmoid(X["updategate"] + H["updategate"])
        cand = pt.tanh(grad_clip(X["hidden_update"] + r * H["hidden_update"],
                                 -clip, clip))
        h = (1 - z) * h_prev + z * cand
        return pt.where(m_t[:, None] > 0, h, h_prev)

    weights = [P[n] for n in gru_names(inits=False)]
    h0 = pt.zeros((x.shape[0], U), dtype=x.dtype)
    hs = pytensor.scan(step, sequences=[x.swapaxes(0, 1), mask.T],
                       outputs_info=[h0], non_sequences=weights, strict=True,
                       return_updates=False)
    return hs.swapaxes(0, 1)


@pytest.fixture(scope="module")
def clipping(data):
    rng = np.random.RandomState(3)
    l_in = InputLayer((N, T, F))
    l_mask = InputLayer((N, T))
    R = pt.constant(data["R"])
    outputs, meta = [], {}
    for kind, cls, names, indep in (("lstm", LSTMLayer, lstm_names(inits=False),
                                     _indep_lstm),
                                    ("gru", GRULayer, gru_names(inits=False),
                                     _indep_gru)):
        free = cls(l_in, U, mask_input=l_mask)
        randomize(free, rng, scale=1.0)
        P = {n: getattr(free, n) for n in names}
        # Layers sharing the same shared variables, clipped differently.
        if cls is LSTMLayer:
            gates = [Gate(P["W_in_to_" + g], P["W_hid_to_" + g],
                          P.get("W_cell_to_" + g), P["b_" + g],
                          nonlinearity=nonlinearities.tanh
                          if g == "cell" else nonlinearities.sigmoid)
                     for g in LSTM_GATES]
        else:
            gates = [Gate(P["W_in_to_" + g], P["W_hid_to_" + g], None,
                          P["b_" + g],
                          nonlinearity=nonlinearities.tanh
                          if g == "hidden_update" else nonlinearities.sigmoid)
                     for g in ("resetgate", "updategate", "hidden_update")]
        losses = {}
        for label, c in (("free", 0), ("tiny", TINY), ("huge", HUGE)):
            layer = cls(l_in, U, *gates, mask_input=l_mask, grad_clipping=c)
            assert layer.get_params(trainable=True) == [P[n] for n in names]
            losses[label] = (get_output(layer) * R).sum()
        losses["indep_tiny"] = (indep(l_in.input_var, l_mask.input_var, P,
                                      TINY) * R).sum()
        if cls is GRULayer:
            # Without precompute_input the layer clips the raw input.
            layer = cls(l_in, U, *gates, mask_input=l_mask,
                        grad_clipping=TINY, precompute_input=False)
            losses["tiny_noprecompute"] = (get_output(layer) * R).sum()
            losses["indep_tiny_raw"] = (indep(
                l_in.input_var, l_mask.input_var, P, TINY, raw_input=True)
                * R).sum()
        params = [P[n] for n in names]
        for label, loss in losses.items():
            meta[kind, label] = len(outputs)
            outputs += [loss] + pytensor.grad(loss, params)
        meta[kind, "n"] = len(params)

    # Truncated back-propagation: only the last k steps see the gradient.
    for k in (-1, 1, 2):
        layer = LSTMLayer(l_in, U, gradient_steps=k, only_return_final=True)
        randomize(layer, rng)
        meta["trunc", k] = len(outputs)
        outputs.append(pytensor.grad(get_output(layer).sum(), l_in.input_var))
    fn = pytensor.function([l_in.input_var, l_mask.input_var], outputs)
    return meta, fn(data["x"], data["mask"])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_grad_clipping(clipping, kind):
    meta, res = clipping
    n = meta[kind, "n"]

    def get(label):
        i = meta[kind, label]
        return res[i], res[i + 1:i + 1 + n]

    loss_free, g_free = get("free")
    for label in ("tiny", "huge", "indep_tiny"):
        # Identity in the forward pass.
        np.testing.assert_allclose(get(label)[0], loss_free, rtol=1e-12)
    _, g_tiny = get("tiny")
    _, g_indep = get("indep_tiny")
    _, g_huge = get("huge")
    for a, b in zip(g_tiny, g_indep):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
    for a, b in zip(g_huge, g_free):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
    if kind == "gru":
        _, g_raw = get("tiny_noprecompute")
        _, g_indep_raw = get("indep_tiny_raw")
        for a, b in zip(g_raw, g_indep_raw):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
        assert any(not np.allclose(a, b) for a, b in zip(g_raw, g_tiny))
    # The tiny bound really changed (shrank) the gradients.
    total_tiny = sum(np.abs(g).sum() for g in g_tiny)
    total_free = sum(np.abs(g).sum() for g in g_free)
    assert total_tiny < 0.5 * total_free
    assert total_tiny > 0


def test_gradient_steps_truncates_bptt(clipping):
    meta, res = clipping
    full, k1, k2 = (res[meta["trunc", k]] for k in (-1, 1, 2))
    step_norm = lambda g: np.abs(g).sum(axis=(0, 2))  # noqa: E731
    assert np.all(step_norm(full) > 0)
    assert np.all(step_norm(k1)[:T - 1] == 0) and step_norm(k1)[T - 1] > 0
    assert np.all(step_norm(k2)[:T - 2] == 0) and np.all(step_norm(k2)[T - 2:]
                                                         > 0)


# ---------------------------------------------------------------------------
# Parameters, tags, layer order, shapes (no compilation)
# ---------------------------------------------------------------------------

def test_lstm_param_names_order_and_tags():
    l_in = InputLayer((N, T, F))
    layer = LSTMLayer(l_in, U, name="enc")
    params = layer.get_params()
    assert [p.name for p in params] == ["enc." + n for n in lstm_names()]
    for p in params:
        short = p.name.split(".", 1)[1]
        tags = layer.params[p]
        if short.startswith("b_"):
            assert tags == {"trainable"}
        elif short.endswith("_init"):
            assert tags == set()
        else:
            assert tags == {"trainable", "regularizable"}
    shapes = {p.name.split(".", 1)[1]: p.get_value().shape for p in params}
    assert shapes["W_in_to_cell"] == (F, U)
    assert shapes["W_hid_to_outgate"] == (U, U)
    assert shapes["b_forgetgate"] == (U,)
    assert shapes["W_cell_to_ingate"] == (U,)
    assert shapes["hid_init"] == shapes["cell_init"] == (1, U)
    assert [p.name for p in layer.get_params(regularizable=True)] == [
        "enc." + n for n in lstm_names(inits=False) if not n.startswith("b_")]
    learned = LSTMLayer(l_in, U, learn_init=True, peepholes=False)
    assert [p.name for p in learned.get_params(trainable=True)] == \
        lstm_names(peepholes=False)
    assert learned.params[learned.hid_init] == {"trainable"}
    assert not hasattr(learned, "W_cell_to_ingate")
    assert layer.nonlinearity_cell is nonlinearities.tanh
    assert layer.nonlinearity_ingate is nonlinearities.sigmoid
    assert layer.nonlinearity is nonlinearities.tanh
    assert layer.W_in_to_ingate is params[0]


def test_gru_param_names_order_and_tags():
    layer = GRULayer(InputLayer((N, T, 2, 3)), U, name="g", learn_init=True)
    params = layer.get_params()
    assert [p.name for p in params] == ["g." + n for n in gru_names()]
    assert layer.W_in_to_updategate.get_value().shape == (6, U)
    assert layer.params[layer.b_resetgate] == {"trainable"}
    assert layer.params[layer.hid_init] == {"trainable"}
    assert layer.nonlinearity_hid is nonlinearities.tanh
    assert layer.nonlinearity_resetgate is nonlinearities.sigmoid
    assert layer.nonlinearity_updategate is nonlinearities.sigmoid


def test_recurrent_layer_params():
    l_in = InputLayer((N, T, F))
    layer = RecurrentLayer(l_in, U, name="rnn")
    assert [p.name for p in get_all_params(layer)] == [
        "rnn.hid_init", "rnn.input_to_hidden.W", "rnn.input_to_hidden.b",
        "rnn.hidden_to_hidden.W"]
    assert get_all_params(layer)[1:] == [layer.W_in_to_hid, layer.b,
                                         layer.W_hid_to_hid]
    assert [p.name for p in layer.get_params(trainable=True)] == [
        "rnn.input_to_hidden.W", "rnn.input_to_hidden.b",
        "rnn.hidden_to_hidden.W"]
    assert [p.name for p in layer.get_params(regularizable=True)] == [
        "rnn.input_to_hidden.W", "rnn.hidden_to_hidden.W"]
    unnamed = RecurrentLayer(l_in, U, b=None, learn_init=True)
    assert [p.name for p in unnamed.get_params(trainable=True)] == [
        "hid_init", "input_to_hidden.W", "hidden_to_hidden.W"]
    assert unnamed.b is None
    assert get_all_layers(layer) == [l_in, layer]


def test_incoming_order_and_get_all_layers():
    l_in = InputLayer((N, T, F))
    l_mask = InputLayer((N, T))
    l_h = InputLayer((N, U))
    l_c = InputLayer((N, U))
    layer = LSTMLayer(l_in, U, mask_input=l_mask, hid_init=l_h, cell_init=l_c)
    assert layer.input_layers == [l_in, l_mask, l_h, l_c]
    assert (layer.mask_incoming_index, layer.hid_init_incoming_index,
            layer.cell_init_incoming_index) == (1, 2, 3)
    assert get_all_layers(layer) == [l_in, l_mask, l_h, l_c, layer]
    assert [p.name for p in layer.get_params()] == lstm_names(inits=False)
    only_cell = LSTMLayer(l_in, U, cell_init=l_c)
    assert only_cell.input_layers == [l_in, l_c]
    assert (only_cell.mask_incoming_index, only_cell.hid_init_incoming_index,
            only_cell.cell_init_incoming_index) == (-1, -1, 1)
    assert only_cell.get_params()[-1].name == "hid_init"
    gru = GRULayer(l_in, U, mask_input=l_mask, hid_init=l_h)
    assert gru.input_layers == [l_in, l_mask, l_h]
    assert (gru.mask_incoming_index, gru.hid_init_incoming_index) == (1, 2)
    assert get_all_layers(gru) == [l_in, l_mask, l_h, gru]
    rnn = RecurrentLayer(l_in, U, hid_init=l_h)
    assert rnn.input_layers == [l_in, l_h]
    assert (rnn.mask_incoming_index, rnn.hid_init_incoming_index) == (-1, 1)
    plain = GRULayer((N, T, F), U)
    assert plain.input_layers == [None]
    assert get_all_layers(plain) == [plain]


def test_output_shapes():
    l_in = InputLayer((None, None, 3, 2))
    for cls in (LSTMLayer, GRULayer, RecurrentLayer):
        assert cls(l_in, 7).output_shape == (None, None, 7)
        assert cls(l_in, 7, only_return_final=True).output_shape == (None, 7)
        assert cls((2, 9, 4), 7, backwards=True).output_shape == (2, 9, 7)
    fi = DenseLayer(InputLayer((None, 3, 2)), 5)
    fh = DenseLayer(InputLayer((None, 5)), 5)
    custom = CustomRecurrentLayer(l_in, fi, fh)
    assert custom.output_shape == (None, None, 5)
    assert custom.hid_init.get_value().shape == (1, 5)
    assert CustomRecurrentLayer(l_in, fi, fh, only_return_final=True) \
        .output_shape == (None, 5)


def test_custom_recurrent_layer_get_params():
    fi = DenseLayer(InputLayer((None, F)), U, name="fi")
    fh = DenseLayer(InputLayer((None, U)), U, name="fh")
    layer = CustomRecurrentLayer(InputLayer((N, T, F)), fi, fh, name="c")
    assert [p.name for p in layer.get_params()] == [
        "c.hid_init", "fi.W", "fi.b", "fh.W", "fh.b"]
    assert [p.name for p in layer.get_params(trainable=True)] == [
        "fi.W", "fi.b", "fh.W", "fh.b"]
    assert [p.name for p in layer.get_params(regularizable=False)] == [
        "c.hid_init", "fi.b", "fh.b"]
    assert [p.name for p in layer.get_params(unwrap_shared=False,
                                             trainable=True)] == [
        "fi.W", "fi.b", "fh.W", "fh.b"]


def test_signatures_and_defaults():
    tail = ["gradient_steps", "grad_clipping", "unroll_scan",
            "precompute_input", "mask_input", "only_return_final", "kwargs"]
    sig = inspect.signature(LSTMLayer.__init__).parameters
    assert list(sig)[1:] == [
        "incoming", "num_units", "ingate", "forgetgate", "cell", "outgate",
        "nonlinearity", "cell_init", "hid_init", "backwards", "learn_init",
        "peepholes"] + tail
    assert sig["cell"].default.nonlinearity is nonlinearities.tanh
    assert not hasattr(sig["cell"].default, "W_cell")
    assert sig["gradient_steps"].default == -1
    assert sig["grad_clipping"].default == 0
    assert sig["precompute_input"].default is True
    assert list(inspect.signature(GRULayer.__init__).parameters)[1:] == [
        "incoming", "num_units", "resetgate", "updategate", "hidden_update",
        "hid_init", "backwards", "learn_init"] + tail
    assert list(inspect.signature(RecurrentLayer.__init__).parameters)[1:] \
        == ["incoming", "num_units", "W_in_to_hid", "W_hid_to_hid", "b",
            "nonlinearity", "hid_init", "backwards", "learn_init"] + tail
    assert list(inspect.signature(CustomRecurrentLayer.__init__)
                .parameters)[1:] == [
        "incoming", "input_to_hidden", "hidden_to_hidden", "nonlinearity",
        "hid_init", "backwards", "learn_init"] + tail
    gate = Gate()
    assert list(inspect.signature(Gate.__init__).parameters)[1:] == [
        "W_in", "W_hid", "W_cell", "b", "nonlinearity"]
    assert isinstance(gate.W_in, init.Normal) and gate.W_in.std == 0.1
    assert isinstance(gate.W_cell, init.Normal) and gate.W_cell.std == 0.1
    assert isinstance(gate.b, init.Constant) and gate.b.val == 0.
    assert gate.nonlinearity is nonlinearities.sigmoid
    assert Gate(nonlinearity=None).nonlinearity is nonlinearities.identity
    assert not hasattr(Gate(W_cell=None), "W_cell")


def test_seeded_initialisation_draw_order():
    from lasagne_lstm.random import get_rng
    np.random.seed(0)
    rng = get_rng()
    assert rng is np.random
    layer = LSTMLayer((N, T, F), U)
    np.random.seed(0)
    for g in LSTM_GATES:
        np.testing.assert_allclose(getattr(layer, "W_in_to_" + g).get_value(),
                                   np.random.normal(0, 0.1, (F, U)))
        np.testing.assert_allclose(getattr(layer, "W_hid_to_" + g)
                                   .get_value(),
                                   np.random.normal(0, 0.1, (U, U)))
    for g in ("ingate", "forgetgate", "outgate"):
        np.testing.assert_allclose(getattr(layer, "W_cell_to_" + g)
                                   .get_value(),
                                   np.random.normal(0, 0.1, (U,)))


def test_init_specs_as_arrays_and_one_unit_static_shape():
    h = np.full((1, U), 0.5)
    layer = LSTMLayer((N, T, F), U, hid_init=h, cell_init=init.Constant(2.))
    np.testing.assert_array_equal(layer.hid_init.get_value(), h)
    np.testing.assert_array_equal(layer.cell_init.get_value(),
                                  np.full((1, U), 2.))
    one = LSTMLayer(InputLayer((None, None, F)), 1)
    out = get_output(one)
    assert out.ndim == 3
    assert out.type.shape[-1] == 1
    with pytest.raises(ValueError):
        LSTMLayer((N, T, F), U, hid_init=np.zeros((2, U)))


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

ALL_CLASSES = [LSTMLayer, GRULayer, RecurrentLayer]


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_input_rank_error(cls):
    with pytest.raises(ValueError, match=r"%s.*3 dimensions" % cls.__name__):
        cls(InputLayer((N, T)), U)
    with pytest.raises(ValueError, match=r"'named'"):
        cls((N, T), U, name="named")


def test_custom_input_rank_error():
    fi = DenseLayer(InputLayer((None, F)), U)
    fh = DenseLayer(InputLayer((None, U)), U)
    with pytest.raises(ValueError, match="CustomRecurrentLayer.*3 dim"):
        CustomRecurrentLayer(InputLayer((N, T)), fi, fh)


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_mask_shape_errors(cls):
    l_in = InputLayer((N, T, F))
    with pytest.raises(ValueError, match="time"):
        cls(l_in, U, mask_input=InputLayer((N, T + 1)))
    with pytest.raises(ValueError, match="batch"):
        cls(l_in, U, mask_input=InputLayer((N + 1, T)))
    with pytest.raises(ValueError, match=r"%s.*mask.*2 dimensions"
                       % cls.__name__):
        cls(l_in, U, mask_input=InputLayer((N, T, 1)))
    # Unknown sizes on either side are fine.
    cls(l_in, U, mask_input=InputLayer((None, None)))
    cls(InputLayer((None, None, F)), U, mask_input=InputLayer((N, T)))


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_unroll_scan_errors(cls):
    with pytest.raises(ValueError, match=r"%s.*unroll_scan.*length"
                       % cls.__name__):
        cls(InputLayer((N, None, F)), U, unroll_scan=True)
    with pytest.raises(ValueError, match=r"%s.*gradient_steps"
                       % cls.__name__):
        cls(InputLayer((N, T, F)), U, unroll_scan=True, gradient_steps=2)
    cls(InputLayer((N, None, F)), U, gradient_steps=2)


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_num_units_errors(cls):
    for bad in (0, -3):
        with pytest.raises(ValueError, match=r"%s 'x'.*num_units"
                           % cls.__name__):
            cls((N, T, F), bad, name="x")
    with pytest.raises(TypeError, match="num_units"):
        cls((N, T, F), 2.5)


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_nonlinearity_and_kwarg_errors(cls):
    if cls is GRULayer:
        with pytest.raises(TypeError, match="GRULayer.*resetgate"):
            GRULayer((N, T, F), U, resetgate=object())
    else:
        with pytest.raises(TypeError, match=r"%s.*nonlinearity"
                           % cls.__name__):
            cls((N, T, F), U, nonlinearity="tanh")
    with pytest.raises(TypeError):
        cls((N, T, F), U, bogus=1)
    with pytest.raises(ValueError, match="feature"):
        cls((N, T, None), U)


def test_gate_errors():
    with pytest.raises(TypeError, match="Gate.*nonlinearity"):
        Gate(nonlinearity=5)

    class Holder:  # gate-like object with a bad nonlinearity
        W_in = W_hid = W_cell = init.Normal(0.1)
        b = init.Constant(0.)
        nonlinearity = "sigmoid"

    with pytest.raises(TypeError, match="LSTMLayer.*forgetgate.*nonlin"):
        LSTMLayer((N, T, F), U, forgetgate=Holder())
    for gate in ("ingate", "forgetgate", "outgate"):
        with pytest.raises(ValueError, match=r"LSTMLayer 'l'.*W_cell.*%s"
                           % gate):
            LSTMLayer((N, T, F), U, name="l", **{gate: Gate(W_cell=None)})
        layer = LSTMLayer((N, T, F), U, peepholes=False,
                          **{gate: Gate(W_cell=None)})
        assert not hasattr(layer, "W_cell_to_ingate")
    # The cell gate has no peephole, so W_cell=None is its default.
    LSTMLayer((N, T, F), U, cell=Gate(W_cell=None))


def test_negative_grad_clipping_error():
    with pytest.raises(ValueError, match="LSTMLayer.*grad_clipping"):
        LSTMLayer((N, T, F), U, grad_clipping=-1)


def test_custom_recurrent_layer_errors():
    l_in = InputLayer((N, T, F))
    fi = DenseLayer(InputLayer((None, F)), U)
    fh = DenseLayer(InputLayer((None, U)), U)
    from lasagne_lstm.layers import ElemwiseSumLayer
    two_inputs = ElemwiseSumLayer([DenseLayer(InputLayer((None, U)), U),
                                   DenseLayer(InputLayer((None, U)), U)])
    with pytest.raises(ValueError, match="hidden_to_hidden.*exactly one"):
        CustomRecurrentLayer(l_in, fi, two_inputs)
    with pytest.raises(TypeError, match="input_to_hidden must be a Layer"):
        CustomRecurrentLayer(l_in, "fi", fh)
    with pytest.raises(ValueError, match="output shape"):
        CustomRecurrentLayer(l_in, DenseLayer(InputLayer((None, F)), U + 1),
                             fh)
    with pytest.raises(ValueError, match="hidden_to_hidden's input shape"):
        CustomRecurrentLayer(l_in, DenseLayer(InputLayer((None, F)), U + 1),
                             DenseLayer(InputLayer((None, U)), U + 1))
    fixed = DenseLayer(InputLayer((7, F)), U)
    with pytest.raises(ValueError, match="batch \\* time"):
        CustomRecurrentLayer(l_in, fixed, fh)
    with pytest.raises(ValueError, match="first dimensions"):
        CustomRecurrentLayer(l_in, fixed, DenseLayer(InputLayer((3, U)), U),
                             precompute_input=False)
    CustomRecurrentLayer(l_in, DenseLayer(InputLayer((N * T, F)), U), fh)
