"""Tests for lasagne_lstm.updates.

Every rule is checked against a NumPy transcription of its formula (written
here from the spec, independently of the module) over several steps, on a loss
with two parameters of different shapes. One PyTensor function is compiled
per rule: it updates three independent copies of the parameters at once,

* ``L``: the rule given the loss, with its default hyperparameters;
* ``G``: the rule given a list of gradients, same arguments as ``L``;
* ``S``: the rule given the loss, a shared learning rate that changes every
  step, and non-default hyperparameters.
"""
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lasagne_lstm import updates as upd

N_STEPS = 4
FLOATX = pytensor.config.floatX

_rng = np.random.RandomState(1234)
W_SHAPE = (3, 4)
B_SHAPE = (1, 5)                       # first axis broadcastable
A_COEF = _rng.uniform(0.5, 2.0, W_SHAPE)
C_COEF = _rng.normal(size=W_SHAPE)
W_INIT = _rng.normal(size=W_SHAPE)
B_INIT = _rng.normal(size=B_SHAPE)


# ---------------------------------------------------------------------------
# the problem: loss = sum(A W^2)/2 + sum(C W) + sum(log cosh b)
# ---------------------------------------------------------------------------

def make_params(tag):
    W = pytensor.shared(W_INIT.copy(), name="W" + tag)
    b = pytensor.shared(B_INIT.copy(), name="b" + tag, shape=(1, None))
    return W, b


def sym_loss(W, b):
    return (0.5 * pt.sum(A_COEF * W ** 2) + pt.sum(C_COEF * W)
            + pt.sum(pt.log(pt.cosh(b))))


def sym_grads(W, b):
    """The gradients of ``sym_loss``, written out by hand."""
    return [A_COEF * W + C_COEF, pt.tanh(b)]


def np_grads(W, b):
    return [A_COEF * W + C_COEF, np.tanh(b)]


# ---------------------------------------------------------------------------
# NumPy references: one step for one parameter.
# ref(p, g, states, t, **hp) -> (new p, new states in the dict's key order)
# ---------------------------------------------------------------------------

def ref_sgd(p, g, s, t, lr):
    return p - lr * g, []


def ref_momentum(p, g, s, t, lr, mu):
    (v,) = s
    v = mu * v - lr * g
    return p + v, [v]


def ref_nesterov(p, g, s, t, lr, mu):
    (v,) = s
    v = mu * v - lr * g
    return p + mu * v - lr * g, [v]


def ref_adagrad(p, g, s, t, lr, eps):
    (a,) = s
    a = a + g * g
    return p - lr * g / np.sqrt(a + eps), [a]


def ref_rmsprop(p, g, s, t, lr, rho, eps):
    (a,) = s
    a = rho * a + (1 - rho) * g * g
    return p - lr * g / np.sqrt(a + eps), [a]


def ref_adadelta(p, g, s, t, lr, rho, eps):
    a, d = s
    a = rho * a + (1 - rho) * g * g
    delta = g * np.sqrt(d + eps) / np.sqrt(a + eps)
    d = rho * d + (1 - rho) * delta * delta
    return p - lr * delta, [a, d]


def ref_adam(p, g, s, t, lr, b1, b2, eps):
    m, v = s
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    m_hat = m / (1 - b1 ** t)
    v_hat = v / (1 - b2 ** t)
    # epsilon on the uncorrected sqrt(v): eps * sqrt(1 - b2^t) on sqrt(v_hat)
    denom = np.sqrt(v_hat) + eps / np.sqrt(1 - b2 ** t)
    return p - lr * m_hat / denom, [m, v]


def ref_adamax(p, g, s, t, lr, b1, b2, eps):
    m, u = s
    m = b1 * m + (1 - b1) * g
    u = np.maximum(b2 * u, np.abs(g))
    return p - (lr / (1 - b1 ** t)) * m / (u + eps), [m, u]


def ref_amsgrad(p, g, s, t, lr, b1, b2, eps):
    m, v, vh = s
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    vh = np.maximum(vh, v)
    alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    return p - alpha * m / (np.sqrt(vh) + eps), [m, v, vh]


# name: (rule, reference, args for L/G (rule keyword -> value, None = use the
#        rule's default), reference hyperparameters for L/G (the documented
#        defaults, typed in here), custom rule kwargs for S (without lr),
#        reference hyperparameters for S (without lr), S's base lr,
#        key layout per parameter, whether `t` is appended)
RULES = {
    "sgd": (upd.sgd, ref_sgd, dict(learning_rate=0.1), dict(lr=0.1),
            {}, {}, 0.2, ["p"], False),
    "momentum": (upd.momentum, ref_momentum, dict(learning_rate=0.1),
                 dict(lr=0.1, mu=0.9), dict(momentum=0.5), dict(mu=0.5),
                 0.2, None, False),
    "nesterov_momentum": (upd.nesterov_momentum, ref_nesterov,
                          dict(learning_rate=0.1), dict(lr=0.1, mu=0.9),
                          dict(momentum=0.6), dict(mu=0.6), 0.2, None, False),
    "adagrad": (upd.adagrad, ref_adagrad, {}, dict(lr=1.0, eps=1e-6),
                dict(epsilon=0.1), dict(eps=0.1), 0.3, ["s", "p"], False),
    "rmsprop": (upd.rmsprop, ref_rmsprop, {},
                dict(lr=1.0, rho=0.9, eps=1e-6),
                dict(rho=0.7, epsilon=0.01), dict(rho=0.7, eps=0.01), 0.1,
                ["s", "p"], False),
    "adadelta": (upd.adadelta, ref_adadelta, {},
                 dict(lr=1.0, rho=0.95, eps=1e-6),
                 dict(rho=0.8, epsilon=0.01), dict(rho=0.8, eps=0.01), 0.5,
                 ["s", "p", "s"], False),
    "adam": (upd.adam, ref_adam, {},
             dict(lr=0.001, b1=0.9, b2=0.999, eps=1e-8),
             dict(beta1=0.6, beta2=0.7, epsilon=0.01),
             dict(b1=0.6, b2=0.7, eps=0.01), 0.2, ["s", "s", "p"], True),
    "adamax": (upd.adamax, ref_adamax, {},
               dict(lr=0.002, b1=0.9, b2=0.999, eps=1e-8),
               dict(beta1=0.6, beta2=0.5, epsilon=0.01),
               dict(b1=0.6, b2=0.5, eps=0.01), 0.3, ["s", "s", "p"], True),
    "amsgrad": (upd.amsgrad, ref_amsgrad, {},
                dict(lr=0.001, b1=0.9, b2=0.999, eps=1e-8),
                dict(beta1=0.5, beta2=0.5, epsilon=1e-4),
                dict(b1=0.5, b2=0.5, eps=1e-4), 0.3, ["s", "s", "s", "p"],
                True),
}
LR_SCHEDULE = [1.0, 0.5, 2.0, 0.25]     # multiplies S's base learning rate


def expected_layout(name, params):
    """The expected keys: a param object, ('state', param) or 't'."""
    layout = RULES[name][7]
    if layout is None:                  # momentum: params, then velocities
        return list(params) + [("state", p) for p in params]
    keys = []
    for p in params:
        keys += [p if role == "p" else ("state", p) for role in layout]
    if RULES[name][8]:
        keys.append("t")
    return keys


def check_layout(name, updates, params):
    """Assert the key order and the state variables' properties; return the
    state variables of each param, in key order."""
    expected = expected_layout(name, params)
    keys = list(updates.keys())
    assert len(keys) == len(expected)
    states = {p: [] for p in params}
    for key, exp in zip(keys, expected):
        if exp == "t":
            assert key not in params
            assert isinstance(key, pytensor.compile.SharedVariable)
            assert key.ndim == 0 and key.dtype == FLOATX
            assert key.get_value() == 0
        elif isinstance(exp, tuple):
            p = exp[1]
            assert isinstance(key, pytensor.compile.SharedVariable)
            assert key not in params
            val = key.get_value()
            assert val.shape == p.get_value().shape
            assert val.dtype == p.dtype
            assert key.broadcastable == p.broadcastable
            assert np.all(val == 0)
            states[p].append(key)
        else:
            assert key is exp
    # every state variable is distinct
    all_states = [s for ss in states.values() for s in ss]
    assert len(set(all_states)) == len(all_states)
    return states


@pytest.mark.parametrize("name", sorted(RULES))
def test_rule_against_numpy(name):
    (rule, ref, lg_args, lg_hp, s_args, s_hp, s_lr, _layout,
     has_t) = RULES[name]
    WL, bL = params_L = make_params("L")
    WG, bG = params_G = make_params("G")
    WS, bS = params_S = make_params("S")
    lr_shared = pytensor.shared(np.asarray(s_lr, dtype=FLOATX), name="lr")

    up_L = rule(sym_loss(WL, bL), list(params_L), **lg_args)
    up_G = rule(sym_grads(WG, bG), list(params_G), **lg_args)
    up_S = rule(sym_loss(WS, bS), list(params_S), learning_rate=lr_shared,
                **s_args)
    for up in (up_L, up_G, up_S):
        assert isinstance(up, OrderedDict)
    states_L = check_layout(name, up_L, params_L)
    states_G = check_layout(name, up_G, params_G)
    states_S = check_layout(name, up_S, params_S)

    merged = OrderedDict()
    for up in (up_L, up_G, up_S):
        merged.update(up)
    step = pytensor.function([], [], updates=merged)

    def np_state(params, states):
        return ([p.get_value().copy() for p in params],
                [[np.zeros_like(p.get_value()) for _ in states[p]]
                 for p in params])

    ref_L = np_state(params_L, states_L)
    ref_S = np_state(params_S, states_S)
    last_g = {}
    for it in range(N_STEPS):
        t = it + 1
        lr_now = s_lr * LR_SCHEDULE[it]
        lr_shared.set_value(np.asarray(lr_now, dtype=FLOATX))
        step()
        for ref_ps, hp in ((ref_L, lg_hp), (ref_S, dict(s_hp, lr=lr_now))):
            ps, sts = ref_ps
            gs = np_grads(*ps)
            last_g[id(ref_ps)] = gs
            for i in range(2):
                ps[i], sts[i] = ref(ps[i], gs[i], sts[i], t, **hp)
        for params, states, (ps, sts) in ((params_L, states_L, ref_L),
                                          (params_G, states_G, ref_L),
                                          (params_S, states_S, ref_S)):
            for p, p_ref, st_ref in zip(params, ps, sts):
                np.testing.assert_allclose(p.get_value(), p_ref,
                                           rtol=1e-10, atol=1e-12)
                assert len(states[p]) == len(st_ref)
                for s, s_ref in zip(states[p], st_ref):
                    np.testing.assert_allclose(s.get_value(), s_ref,
                                               rtol=1e-10, atol=1e-12)
        # the loss and the gradient-list versions agree
        for pL, pG in zip(params_L, params_G):
            np.testing.assert_allclose(pL.get_value(), pG.get_value(),
                                       rtol=1e-12, atol=1e-14)
        if has_t:
            assert list(up_L)[-1].get_value() == t
            assert list(up_S)[-1].get_value() == t
    # the parameters moved
    assert not np.allclose(WS.get_value(), W_INIT)
    assert not np.allclose(bS.get_value(), B_INIT)
    if name == "amsgrad":
        # the max in v_hat mattered somewhere
        _m, v, vh = ref_S[1][0]
        assert np.any(vh > v)
    if name == "adamax":
        # both branches of the max were taken in the last step
        u = ref_S[1][0][1]
        g = np.abs(last_g[id(ref_S)][0])
        assert np.any(u > g) and np.any(u == g)


@pytest.mark.parametrize("name", sorted(RULES))
def test_float32_params_keep_float32(name):
    """Float64 constants and a float64 shared learning rate do not upcast a
    float32 parameter's update (floatX is float64 in the tests)."""
    rule, *_rest, has_t = RULES[name]
    W = pytensor.shared(W_INIT.astype("float32"))
    b = pytensor.shared(B_INIT.astype("float32"), shape=(1, None))
    loss = pt.sum(W ** 2) + pt.sum(b ** 2)
    lr = pytensor.shared(np.float64(0.01))
    updates = rule(loss, [W, b], learning_rate=lr)
    for key, value in updates.items():
        if has_t and key is list(updates)[-1]:
            assert key.dtype == FLOATX and value.dtype == FLOATX
        else:
            assert key.dtype == "float32"
            assert value.dtype == "float32", key
            assert value.broadcastable == key.broadcastable


def test_defaults_in_signatures():
    import inspect

    def defaults(f):
        return {k: v.default for k, v in inspect.signature(f).parameters.items()
                if v.default is not inspect.Parameter.empty}

    assert defaults(upd.sgd) == {}
    assert defaults(upd.momentum) == {"momentum": 0.9}
    assert defaults(upd.nesterov_momentum) == {"momentum": 0.9}
    assert defaults(upd.apply_momentum) == {"params": None, "momentum": 0.9}
    assert defaults(upd.apply_nesterov_momentum) == {"params": None,
                                                     "momentum": 0.9}
    assert defaults(upd.adagrad) == {"learning_rate": 1.0, "epsilon": 1e-6}
    assert defaults(upd.rmsprop) == {"learning_rate": 1.0, "rho": 0.9,
                                     "epsilon": 1e-6}
    assert defaults(upd.adadelta) == {"learning_rate": 1.0, "rho": 0.95,
                                      "epsilon": 1e-6}
    for f, lr in ((upd.adam, 0.001), (upd.adamax, 0.002),
                  (upd.amsgrad, 0.001)):
        assert defaults(f) == {"learning_rate": lr, "beta1": 0.9,
                               "beta2": 0.999, "epsilon": 1e-8}
    assert defaults(upd.norm_constraint) == {"norm_axes": None,
                                             "epsilon": 1e-7}
    assert defaults(upd.total_norm_constraint) == {"epsilon": 1e-7,
                                                   "return_norm": False}


# ---------------------------------------------------------------------------
# apply_momentum / apply_nesterov_momentum on a given dictionary
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("apply", [upd.apply_momentum,
                                   upd.apply_nesterov_momentum])
def test_apply_momentum_dict_handling(apply):
    W, b = make_params("")
    extra = pytensor.shared(np.zeros(2), name="extra")
    base = OrderedDict([(W, W - 0.1), (extra, extra + 1), (b, b * 2)])
    base_items = list(base.items())

    out = apply(base)                   # params default to all keys
    assert list(base.items()) == base_items      # the input is not modified
    keys = list(out)
    assert keys[:3] == [W, extra, b]
    assert len(keys) == 6
    for vel, p in zip(keys[3:], [W, extra, b]):
        assert vel not in (W, extra, b)
        assert vel.get_value().shape == p.get_value().shape
        assert vel.broadcastable == p.broadcastable
    for p in (W, extra, b):
        assert out[p] is not base[p]

    out = apply(base, params=[b], momentum=0.5)
    keys = list(out)
    assert keys[:3] == [W, extra, b] and len(keys) == 4
    assert out[W] is base[W] and out[extra] is base[extra]
    assert out[b] is not base[b]
    assert keys[3].broadcastable == (True, False)


def test_apply_nesterov_momentum_on_other_updates_numpy():
    """apply_nesterov_momentum's formula on an arbitrary proposed update
    (not sgd): x = mu v + u - p; v <- x; p <- mu x + u."""
    W, b = make_params("")
    proposal = OrderedDict([(W, 0.5 * W + 1.0), (b, b ** 2)])
    out = upd.apply_nesterov_momentum(proposal, momentum=0.7)
    vW, vb = list(out)[2:]
    f = pytensor.function([], [], updates=out)
    p = [W_INIT.copy(), B_INIT.copy()]
    v = [np.zeros(W_SHAPE), np.zeros(B_SHAPE)]
    for _ in range(3):
        f()
        u = [0.5 * p[0] + 1.0, p[1] ** 2]
        for i in range(2):
            x = 0.7 * v[i] + u[i] - p[i]
            v[i] = x
            p[i] = 0.7 * x + u[i]
    np.testing.assert_allclose(W.get_value(), p[0], rtol=1e-12)
    np.testing.assert_allclose(b.get_value(), p[1], rtol=1e-12)
    np.testing.assert_allclose(vW.get_value(), v[0], rtol=1e-12)
    np.testing.assert_allclose(vb.get_value(), v[1], rtol=1e-12)


# ---------------------------------------------------------------------------
# get_or_compute_grads
# ---------------------------------------------------------------------------

def test_get_or_compute_grads():
    W, b = make_params("")
    loss = sym_loss(W, b)
    grads = upd.get_or_compute_grads(loss, [W, b])
    assert len(grads) == 2
    assert grads[0].type.dtype == W.dtype and grads[0].ndim == 2
    assert grads[1].ndim == 2
    given = sym_grads(W, b)
    out = upd.get_or_compute_grads(given, [W, b])
    assert isinstance(out, list)
    assert out[0] is given[0] and out[1] is given[1]


def test_get_or_compute_grads_errors():
    W, b = make_params("")
    loss = sym_loss(W, b)
    with pytest.raises(ValueError):
        upd.get_or_compute_grads(loss, [W, pt.matrix()])
    with pytest.raises(ValueError):
        upd.get_or_compute_grads(loss, [W * 2])
    with pytest.raises(ValueError):
        upd.get_or_compute_grads([W], [W, b])
    with pytest.raises(ValueError):
        upd.get_or_compute_grads([W, b, b], [W, b])
    # the rules pass the errors on
    with pytest.raises(ValueError):
        upd.sgd([W], [W, b], 0.1)
    with pytest.raises(ValueError):
        upd.adam(loss, [W * 2])


# ---------------------------------------------------------------------------
# norm constraints
# ---------------------------------------------------------------------------

def np_norm_constraint(x, max_norm, axes, eps=1e-7):
    n = np.sqrt(np.sum(x ** 2, axis=axes, keepdims=True))
    return x * (np.clip(n, 0, max_norm) / (eps + n))


def test_norm_constraint_against_numpy():
    rng = np.random.RandomState(7)
    x2 = rng.normal(size=(6, 5)) * np.array([0.1, 0.2, 3, 4, 0.05])
    x3 = rng.normal(size=(4, 3, 2)) * np.array([0.05, 2, 0.1, 3])[:, None,
                                                                 None]
    x4 = rng.normal(size=(3, 2, 2, 2))
    v2, v3, v4, v2b = pt.matrix(), pt.tensor3(), pt.tensor4(), pt.matrix()
    max_norm = 1.0
    outs = [upd.norm_constraint(v2, max_norm),
            upd.norm_constraint(v3, max_norm),
            upd.norm_constraint(v4, 0.5, epsilon=1e-3),
            upd.norm_constraint(v2b, max_norm, norm_axes=(1,)),
            upd.norm_constraint(v4, 2.0, norm_axes=[0, 2])]
    f = pytensor.function([v2, v3, v4, v2b], outs)
    r2, r3, r4, r2b, r4b = f(x2, x3, x4, x2)

    np.testing.assert_allclose(r2, np_norm_constraint(x2, max_norm, (0,)),
                               rtol=1e-12)
    np.testing.assert_allclose(r3, np_norm_constraint(x3, max_norm, (1, 2)),
                               rtol=1e-12)
    np.testing.assert_allclose(r4, np_norm_constraint(x4, 0.5, (1, 2, 3),
                                                      eps=1e-3), rtol=1e-12)
    np.testing.assert_allclose(r2b, np_norm_constraint(x2, max_norm, (1,)),
                               rtol=1e-12)
    np.testing.assert_allclose(r4b, np_norm_constraint(x4, 2.0, (0, 2)),
                               rtol=1e-12)

    # the default case really clips some columns and keeps the others
    col_norms = np.sqrt((x2 ** 2).sum(axis=0))
    assert np.any(col_norms > max_norm) and np.any(col_norms < max_norm)
    out_norms = np.sqrt((r2 ** 2).sum(axis=0))
    big = col_norms > max_norm
    np.testing.assert_allclose(out_norms[big], max_norm, rtol=1e-6)
    np.testing.assert_allclose(r2[:, ~big], x2[:, ~big], rtol=1e-5)


def test_norm_constraint_errors_and_types():
    with pytest.raises(ValueError):
        upd.norm_constraint(pt.vector(), 1.0)
    with pytest.raises(ValueError):
        upd.norm_constraint(pt.tensor(shape=(None,) * 6), 1.0)
    with pytest.raises(ValueError):
        upd.norm_constraint(pt.scalar(), 1.0)
    # explicit axes make any rank acceptable
    out = upd.norm_constraint(pt.vector(), 1.0, norm_axes=(0,))
    assert out.ndim == 1
    out = upd.norm_constraint(pt.tensor(shape=(None,) * 6), 1.0,
                              norm_axes=(1, 2))
    assert out.ndim == 6
    # shape and dtype are kept
    m32 = pt.matrix(dtype="float32")
    assert upd.norm_constraint(m32, 3.0).type == m32.type
    W = pytensor.shared(np.ones((3, 1)), shape=(None, 1))
    assert upd.norm_constraint(W, 1.0).broadcastable == (False, True)


def test_total_norm_constraint_against_numpy():
    rng = np.random.RandomState(3)
    a_val = rng.normal(size=(4, 3))
    b_val = rng.normal(size=(5,))
    c_val = rng.normal(size=(2, 2, 2))
    a, b, c = pt.matrix(), pt.vector(), pt.tensor3()
    max_norm = 2.0
    scaled, norm = upd.total_norm_constraint([a, b, c], max_norm,
                                             return_norm=True)
    assert isinstance(scaled, list) and len(scaled) == 3
    scaled_eps = upd.total_norm_constraint([a, b, c], max_norm, epsilon=0.5)
    f = pytensor.function([a, b, c], scaled + [norm] + scaled_eps)

    for factor in (1.0, 0.05):          # above, then below max_norm
        vals = [factor * a_val, factor * b_val, factor * c_val]
        res = f(*vals)
        outs, n_out, outs_eps = res[:3], res[3], res[4:]
        n_ref = np.sqrt(sum(np.sum(v ** 2) for v in vals))
        np.testing.assert_allclose(n_out, n_ref, rtol=1e-12)
        mult = np.clip(n_ref, 0, max_norm) / (1e-7 + n_ref)
        for o, v in zip(outs, vals):
            np.testing.assert_allclose(o, v * mult, rtol=1e-12)
        mult_eps = np.clip(n_ref, 0, max_norm) / (0.5 + n_ref)
        for o, v in zip(outs_eps, vals):
            np.testing.assert_allclose(o, v * mult_eps, rtol=1e-12)
        total = np.sqrt(sum(np.sum(o ** 2) for o in outs))
        if n_ref > max_norm:
            np.testing.assert_allclose(total, max_norm, rtol=1e-6)
        else:
            np.testing.assert_allclose(total, n_ref, rtol=1e-6)


def test_total_norm_constraint_return_types():
    a, b = pt.matrix(), pt.vector()
    out = upd.total_norm_constraint([a, b], 1.0)
    assert isinstance(out, list) and len(out) == 2
    assert out[0].ndim == 2 and out[1].ndim == 1
    out, norm = upd.total_norm_constraint((a, b), 1.0, epsilon=1e-3,
                                          return_norm=True)
    assert isinstance(out, list) and norm.ndim == 0
    a32 = pt.matrix(dtype="float32")
    out32 = upd.total_norm_constraint([a32], 1.0)
    assert out32[0].dtype == "float32"


def test_all_names_exported():
    for name in ["get_or_compute_grads", "sgd", "apply_momentum", "momentum",
                 "apply_nesterov_momentum", "nesterov_momentum", "adagrad",
                 "rmsprop", "adadelta", "adam", "adamax", "amsgrad",
                 "norm_constraint", "total_norm_constraint"]:
        assert callable(getattr(upd, name))
        assert name in upd.__all__
