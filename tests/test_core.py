"""The step core on user-built networks that are not the built-in models: a
masked step equals an accumulation cycle over the same rows (float64, with
Lasagne's per-step ``grad_clipping`` active and inactive, SGD and Adam), the
masked step matches finite differences of its own loss, and stream training
with carried state matches a NumPy LSTM reading the windows as one stream.
"""
import functools

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import lasagne_lstm as lasagne
from lasagne_lstm.layers import (ConcatLayer, DenseLayer, EmbeddingLayer, InputLayer,
                                 LSTMLayer, ReshapeLayer, get_all_params, get_output)
from lasagne_lstm.training import core
from lasagne_lstm.theano.compile import compile_ahead
from lasagne_lstm.training.distributed import GradientReducer
from numpy_reference import lstm_names, np_lstm, values

BACKEND = "fast_compile"
VOCAB, CLASSES, UNITS = 6, 3, 4


def _token_loss(l_out, y, mask):
    """Per-row summed cross-entropy of per-token labels, and real-token counts."""
    nll = lasagne.objectives.categorical_crossentropy(get_output(l_out), y.flatten())
    return (nll.reshape(y.shape) * mask).sum(axis=1), mask.sum(axis=1)


def bidirectional_tagger(clip, seed=0):
    """Embedding → forward and backward masked LSTMs → per-token softmax."""
    lasagne.random.set_rng(np.random.RandomState(seed))
    X, mask, y = pt.imatrix("X"), pt.matrix("mask"), pt.imatrix("y")
    l_in = InputLayer((None, None), input_var=X)
    l_mask = InputLayer((None, None), input_var=mask)
    l_emb = EmbeddingLayer(l_in, VOCAB, 3)
    l_fwd = LSTMLayer(l_emb, UNITS, mask_input=l_mask, grad_clipping=clip)
    l_bwd = LSTMLayer(l_emb, UNITS, mask_input=l_mask, grad_clipping=clip,
                      backwards=True)
    l_cat = ConcatLayer([l_fwd, l_bwd], axis=2)
    l_out = DenseLayer(ReshapeLayer(l_cat, (-1, 2 * UNITS)), CLASSES,
                       nonlinearity=lasagne.nonlinearities.softmax)
    row_loss, row_counts = _token_loss(l_out, y, mask)
    return dict(inputs=[X, mask, y], row_loss=row_loss, row_counts=row_counts,
                params=get_all_params(l_out, trainable=True))


def encoder_decoder(clip, seed=0):
    """Two recurrent layers, the second's ``hid_init`` the first's final state."""
    lasagne.random.set_rng(np.random.RandomState(seed))
    Xe, me = pt.imatrix("Xe"), pt.matrix("me")
    Xd, md, y = pt.imatrix("Xd"), pt.matrix("md"), pt.imatrix("y")
    l_enc_mask = InputLayer((None, None), input_var=me)
    l_enc = LSTMLayer(EmbeddingLayer(InputLayer((None, None), input_var=Xe), VOCAB, 3),
                      UNITS, mask_input=l_enc_mask, grad_clipping=clip,
                      only_return_final=True)
    l_dec_mask = InputLayer((None, None), input_var=md)
    l_dec = LSTMLayer(EmbeddingLayer(InputLayer((None, None), input_var=Xd), VOCAB, 3),
                      UNITS, mask_input=l_dec_mask, grad_clipping=clip, hid_init=l_enc)
    l_out = DenseLayer(ReshapeLayer(l_dec, (-1, UNITS)), CLASSES,
                       nonlinearity=lasagne.nonlinearities.softmax)
    row_loss, row_counts = _token_loss(l_out, y, md)
    return dict(inputs=[Xe, me, Xd, md, y], row_loss=row_loss, row_counts=row_counts,
                params=get_all_params(l_out, trainable=True))


def _padded(rng, lengths, high):
    width = max(lengths)
    X = rng.randint(0, high, size=(len(lengths), width)).astype("int32")
    mask = (np.arange(width)[None, :] < np.asarray(lengths)[:, None]).astype("float64")
    return X * mask.astype("int32"), mask


def tagger_batch(rng, lengths=(5, 2, 4, 1)):
    X, mask = _padded(rng, lengths, VOCAB)
    y, _ = _padded(rng, lengths, CLASSES)
    return [X, mask, y], [lengths]


def seq2seq_batch(rng, enc_lengths=(3, 5, 1), dec_lengths=(4, 2, 3)):
    Xe, me = _padded(rng, enc_lengths, VOCAB)
    Xd, md = _padded(rng, dec_lengths, VOCAB)
    y, _ = _padded(rng, dec_lengths, CLASSES)
    return [Xe, me, Xd, md, y], [enc_lengths, dec_lengths]


def _rows(batch, lengths, i):
    """Row ``i`` of a batch, each array cut to the row's own length(s)."""
    arrays = list(batch)
    cuts = {0: lengths[0][i], 1: lengths[0][i]}
    if len(arrays) == 5:  # encoder arrays, then decoder arrays and labels
        cuts.update({2: lengths[1][i], 3: lengths[1][i], 4: lengths[1][i]})
    else:
        cuts[2] = lengths[0][i]
    return [a[i:i + 1, :cuts[k]] for k, a in enumerate(arrays)]


def _values(params):
    return [np.array(p.get_value()) for p in params]


def _masked_and_accumulated(build, make_batch, rule, clip, steps=1, backend=BACKEND,
                            accumulator_options=None, **rule_kwargs):
    """Parameters after ``steps`` masked updates, and after as many
    accumulation cycles of one row per compute_grad call, and the
    accumulator (built with ``accumulator_options``)."""
    rng = np.random.RandomState(3)
    batches = [make_batch(rng) for _ in range(steps)]
    net = build(clip)
    start = _values(net["params"])
    train = core.masked_step(net["inputs"], (net["row_loss"], net["row_counts"]),
                             net["params"], rule, backend=backend, **rule_kwargs)
    masked_objectives = [float(train(*b)) for b, _ in batches]
    masked = _values(net["params"])

    net = build(clip)
    accumulation = core.accumulation_functions(
        net["inputs"], net["row_loss"], net["params"], rule, backend=backend,
        **rule_kwargs, **(accumulator_options or {}))
    compute_grad, apply_mean_grad = accumulation
    accumulated_objectives = []
    for batch, lengths in batches:
        token_mask = batch[3] if len(batch) == 5 else batch[1]
        total = float(token_mask.sum())
        for i in range(len(lengths[0])):
            assert compute_grad(*_rows(batch, lengths, i), np.array([1.0 / total])) is None
        accumulated_objectives.append(float(apply_mean_grad()))
    np.testing.assert_allclose(accumulated_objectives, masked_objectives, rtol=1e-10)
    return start, masked, _values(net["params"]), accumulation.accumulator


def _max_rel_diff(a, b):
    return max(np.abs(x - y).max() / (np.abs(x).max() + 1e-12) for x, y in zip(a, b))


CASES = [
    ("tagger", "sgd", 0.0, 1, dict(learning_rate=0.5)),
    ("tagger", "sgd", 2e-3, 1, dict(learning_rate=0.5)),
    ("tagger", "adam", 2e-3, 2, dict(learning_rate=0.05)),
    ("seq2seq", "adam", 2e-3, 2, dict(learning_rate=0.05)),
    ("seq2seq", "sgd", 0.0, 1, dict(learning_rate=0.5, max_grad_norm=0.1)),
]
NETWORKS = {"tagger": (bidirectional_tagger, tagger_batch),
            "seq2seq": (encoder_decoder, seq2seq_batch)}


@functools.lru_cache(maxsize=None)
def _case(k):
    network, rule, clip, steps, kwargs = CASES[k]
    build, make_batch = NETWORKS[network]
    return _masked_and_accumulated(build, make_batch, rule, clip, steps, **kwargs)


@pytest.mark.parametrize("k", range(len(CASES)),
                         ids=["%s-%s-clip%g-%dsteps" % c[:4] for c in CASES])
def test_accumulation_cycle_equals_masked_step(k):
    start, masked, accumulated, _ = _case(k)
    assert _max_rel_diff(masked, start) > 1e-4  # the updates did move the weights
    assert _max_rel_diff(masked, accumulated) < 1e-6


def test_the_tiny_clip_is_active():
    """Without this, the clipped cases above would prove nothing about
    clipping: the same SGD step on the same batch, clip 0 against clip 2e-3."""
    assert CASES[0][:2] == CASES[1][:2] and CASES[0][3:] == CASES[1][3:]
    assert _max_rel_diff(_case(0)[1], _case(1)[1]) > 1e-3


@pytest.mark.parametrize("backend", ["fast_compile", "jax"])
def test_output_weights_accumulated_as_rows_equal_the_masked_step(backend, monkeypatch):
    """The output layer's weight gradient kept as (input row, output-gradient
    row) pairs (:class:`core.FactoredGradient`), added in products of 8 rows
    (the last padded to a multiple of 4 on JAX), with active clipping and
    Adam: the 14 rows of each batch's 4 calls (3 + 3 + 4 + 4) split a call
    across two products and leave 6 for the apply (two row counts: JAX
    compiles one compute-grad per shape)."""
    monkeypatch.setattr(core, "FOLD_ROWS", 8)
    monkeypatch.setattr(core, "FOLD_MULTIPLE", 4)
    start, masked, accumulated, accumulator = _masked_and_accumulated(
        bidirectional_tagger, functools.partial(tagger_batch, lengths=(3, 3, 4, 4)),
        "adam", 2e-3, steps=2, backend=backend,
        accumulator_options=dict(factored_min_size=1), learning_rate=0.05)
    (index,) = accumulator.factored  # the output layer's W, not its bias
    assert accumulator.params[index].name == "W"
    assert accumulator.params[index].get_value().shape == (2 * UNITS, CLASSES)
    assert _max_rel_diff(masked, start) > 1e-4
    assert _max_rel_diff(masked, accumulated) < 1e-6


#: backend -> (network, its batches): on JAX a tagger with two row lengths
#: only (one compute-grad compile per shape), one of them a single token
REARRANGED_CASES = {
    "jax": ("tagger", functools.partial(tagger_batch, lengths=(4, 1, 4, 1))),
    "fast_compile": ("seq2seq", seq2seq_batch),
}


@pytest.mark.parametrize("backend", sorted(REARRANGED_CASES))
def test_parameters_rearranged_once_per_cycle_equal_the_masked_step(backend):
    """The gates' concatenated weights, the backward loops' transposed
    stacked hidden weights and the output layer's transposed weights, read
    from shared variables recomputed once per cycle
    (:class:`lasagne_lstm.training.cycle_constants.CycleConstants`), with
    active clipping and Adam over two cycles: a value left from the first
    cycle would give the second its gradient at the old weights. The
    tagger's batch holds a one-token row (its embedding gradient is one row
    at one index, which PyTensor's JAX code refused)."""
    network, make_batch = REARRANGED_CASES[backend]
    build, _ = NETWORKS[network]
    start, masked, accumulated, accumulator = _masked_and_accumulated(
        build, make_batch, "adam", 2e-3, steps=2, backend=backend,
        accumulator_options=dict(constant_min_size=1), learning_rate=0.05)
    shapes = [shared.get_value().shape for _, shared in accumulator.constants.entries]
    layers = 2
    assert shapes.count((3, 4 * UNITS)) == layers  # input weights, four gates side by side
    assert shapes.count((4 * UNITS, UNITS)) == layers  # hidden weights, stacked, transposed
    assert (CLASSES, 2 * UNITS if network == "tagger" else UNITS) in shapes  # output W.T
    assert _max_rel_diff(masked, start) > 1e-4
    assert _max_rel_diff(masked, accumulated) < 1e-6


@pytest.mark.parametrize("backend", ["fast_compile", "numba", "jax"])
def test_rearranged_parameters_follow_new_values(backend):
    """``tanh(X @ concat(A, B).T)`` summed, the concatenation and its
    transpose held once per cycle: the accumulated gradients against NumPy's
    hand-derived ones after an SGD update (in place on some backends) and
    after ``set_value``, each of which must renew the held values."""
    rng = np.random.RandomState(1)
    A = pytensor.shared(rng.randn(3, 2), name="A")
    B = pytensor.shared(rng.randn(3, 4), name="B")
    X = pt.matrix("X")
    row_loss = pt.tanh(pt.dot(X, pt.concatenate([A, B], axis=1).T)).sum(axis=1)
    acc = core.GradientAccumulator([A, B], "sgd", learning_rate=0.1, backend=backend,
                                   constant_min_size=1)
    compute_grad = acc.compute_grad_function([X], row_loss)
    assert acc.constants.entries

    def gradients(x, scale):
        C = np.concatenate([A.get_value(), B.get_value()], axis=1)
        G = scale[:, None] * (1 - np.tanh(x @ C.T) ** 2)
        dC = G.T @ x
        return dC[:, :2], dC[:, 2:]

    # each check reads the values left by the step before it: none, an
    # update, then set_value
    for then in ("update", "set_value", "none"):
        x, scale = rng.randn(5, 6), rng.rand(5)
        want = gradients(x, scale)
        compute_grad(x, scale)
        for accumulator, expected in zip(acc.accumulators, want):
            np.testing.assert_allclose(accumulator.get_value(), expected, rtol=1e-10)
        acc.apply_mean_grad()
        if then == "set_value":
            A.set_value(rng.randn(3, 2))
            B.set_value(rng.randn(3, 4))


class _OneRank:
    """A communicator of one rank: the all-reduce's sum is the buffer."""
    size, rank = 1, 0

    def allreduce_sum(self, buffer):
        pass


@pytest.mark.parametrize("backend,sum_by", [("fast_compile", "fold"), ("jax", "fold"),
                                            ("jax", "allreduce")])
def test_factored_gradient_sums_the_products_of_every_row(backend, sum_by, monkeypatch):
    """The accumulated gradients of ``((X @ W + b) @ V) @ V`` under a squared
    loss against NumPy's hand-derived ones, over calls of 3, 7, 2, 9 and 5
    rows, ``W``'s kept as rows and added 8 at a time; the bias (a sum, not
    a product) stays dense, and so does ``V``, used twice (its gradient a
    sum of two products). The MPI all-reduce adds the kept rows in before
    it sends the accumulators."""
    monkeypatch.setattr(core, "FOLD_ROWS", 8)
    monkeypatch.setattr(core, "FOLD_MULTIPLE", 4)
    rng = np.random.RandomState(0)
    W = pytensor.shared(rng.randn(4, 5), name="W")
    b = pytensor.shared(rng.randn(5), name="b")
    V = pytensor.shared(rng.randn(5, 5), name="V")  # used twice
    X, T = pt.matrix("X"), pt.matrix("T")
    out = (pt.dot(X, W) + b).dot(V).dot(V)
    row_loss = 0.5 * ((out - T) ** 2).sum(axis=1)
    acc = core.GradientAccumulator([W, b, V], "sgd", learning_rate=0.1, backend=backend,
                                   factored_min_size=1)
    compute_grad = acc.compute_grad_function([X, T], row_loss)
    assert list(acc.factored) == [0]
    # the shapes compiled ahead of use: every multiple of 4 rows up to 8 on
    # JAX; none on a backend that compiles once for all shapes
    shapes = [(a.shape, b.shape) for a, b in acc.factored[0].signatures()]
    assert shapes == ([((4, 4), (4, 5)), ((8, 4), (8, 5))] if backend == "jax" else [])
    fold = acc.factored[0].function
    if shapes:
        compile_ahead([(fold, rows) for rows in acc.factored[0].signatures()]).join()
        assert fold.ahead_seconds > 0
    want = [np.zeros((4, 5)), np.zeros(5), np.zeros((5, 5))]
    Wv, bv, Vv = W.get_value(), b.get_value(), V.get_value()
    for rows in (3, 7, 2, 9, 5):
        x, t, scale = rng.randn(rows, 4), rng.randn(rows, 5), rng.rand(rows)
        compute_grad(x, t, scale)
        h = x @ Wv + bv
        g_out = scale[:, None] * (h @ Vv @ Vv - t)
        g_h = g_out @ Vv.T @ Vv.T
        want[0] += x.T @ g_h
        want[1] += g_h.sum(axis=0)
        want[2] += (h @ Vv).T @ g_out + h.T @ (g_out @ Vv.T)
    assert acc.factored[0].rows == 26 % 8  # the rest waits for the apply
    if sum_by == "fold":
        acc.fold()
        summed = [a.get_value() for a in acc.accumulators]
    else:
        reducer = GradientReducer(acc, _OneRank())
        reducer.allreduce()
        summed = [reducer.buffer[reducer.offsets[k]:reducer.offsets[k + 1]].reshape(
            reducer.shapes[k]) for k in range(3)]
    for value, expected in zip(summed, want):
        np.testing.assert_allclose(value, expected, rtol=1e-10, atol=1e-12)
    if shapes:  # every product found its shape compiled ahead
        assert fold.compile_seconds == 0 and fold.compiled == 2
    acc.apply_mean_grad()
    np.testing.assert_allclose(W.get_value(), Wv - 0.1 * want[0], rtol=1e-10)
    assert acc.factored[0].rows == 0


def test_masked_sgd_step_matches_finite_differences():
    """The update of a callable rule (a ``functools.partial``) against SGD on
    central differences of the compiled forward loss."""
    net = bidirectional_tagger(0.0)
    batch, _ = tagger_batch(np.random.RandomState(5))
    objective = net["row_loss"].sum() / net["row_counts"].sum()
    loss_of = pytensor.function(net["inputs"], objective,
                                mode=lasagne.backends.get_mode(BACKEND))
    params = net["params"]
    start = _values(params)
    eps = 1e-6
    expected = {}
    for k in (0, 5, len(params) - 2):  # embedding, a forward-LSTM weight, output W
        grad = np.zeros_like(start[k])
        for idx in np.ndindex(*grad.shape):
            for sign in (1, -1):
                value = start[k].copy()
                value[idx] += sign * eps
                params[k].set_value(value)
                grad[idx] += sign * loss_of(*batch) / (2 * eps)
            params[k].set_value(start[k])
        expected[k] = start[k] - 0.3 * grad
    train = core.masked_step(net["inputs"], objective, params,
                             functools.partial(lasagne.updates.sgd, learning_rate=0.3),
                             backend=BACKEND)
    train(*batch)
    for k, want in expected.items():
        np.testing.assert_allclose(params[k].get_value(), want, rtol=1e-6, atol=1e-9,
                                   err_msg=params[k].name)


def test_apply_returns_sums_and_zeroes_the_accumulators():
    net = bidirectional_tagger(0.0)
    batch, lengths = tagger_batch(np.random.RandomState(1))
    acc = core.GradientAccumulator(net["params"], "sgd", learning_rate=0.1,
                                   backend=BACKEND)
    compute_grad = acc.compute_grad_function(
        net["inputs"], net["row_loss"], sums=[net["row_loss"].sum(), net["row_counts"].sum()])
    compute_grad(*batch, np.full(4, 0.25))
    assert any(np.abs(a.get_value()).max() > 0 for a in acc.accumulators)
    objective, loss_sum, tokens = acc.apply_mean_grad()
    assert tokens == sum(lengths[0])
    assert objective == pytest.approx(loss_sum / 4)
    assert all(np.abs(a.get_value()).max() == 0 for a in acc.accumulators)
    with pytest.raises(ValueError, match="keeps 2 sums"):
        acc.compute_grad_function(net["inputs"], net["row_loss"])


def test_update_rule_errors():
    net = bidirectional_tagger(0.0)
    loss = net["row_loss"].sum()
    with pytest.raises(ValueError, match="unknown optimizer"):
        core.masked_step(net["inputs"], loss, net["params"], "lbfgs")
    with pytest.raises(ValueError, match="no default learning rate"):
        core.masked_step(net["inputs"], loss, net["params"], lasagne.updates.sgd)
    with pytest.raises(ValueError, match="must be finite"):
        core.masked_step(net["inputs"], loss, net["params"], "adam",
                         learning_rate=float("inf"))
    with pytest.raises(ValueError, match="scalar or a"):
        core.masked_step(net["inputs"], net["row_loss"], net["params"], "sgd")


def test_stream_step_carries_state_like_one_numpy_pass():
    """A stateful LM written with the Lasagne API (state in through
    layer-valued hid_init/cell_init, out as outputs of the step): two
    windows with carried state give the losses and final states of a NumPy
    LSTM reading both windows as one sequence per row."""
    lasagne.random.set_rng(np.random.RandomState(2))
    rows, steps, units = 2, 3, 3
    X, y = pt.imatrix("X"), pt.imatrix("y")
    h0, c0 = pt.matrix("h0"), pt.matrix("c0")
    l_in = InputLayer((None, None), input_var=X)
    l_emb = EmbeddingLayer(l_in, VOCAB, 2)
    l_lstm = LSTMLayer(l_emb, units, hid_init=InputLayer((None, units), input_var=h0),
                       cell_init=InputLayer((None, units), input_var=c0))
    l_out = DenseLayer(ReshapeLayer(l_lstm, (-1, units)), VOCAB, nonlinearity=None)
    logits, hid = get_output([l_out, l_lstm])
    loss_sum = -pt.take_along_axis(pt.special.log_softmax(logits, axis=-1),
                                   y.flatten()[:, None], axis=1).sum()
    params = get_all_params(l_out, trainable=True)
    step = core.masked_step([X, y, h0, c0], loss_sum / rows, params, "sgd",
                            learning_rate=0.0,  # the weights stay as NumPy sees them
                            outputs=[loss_sum, hid[:, -1], l_lstm.cell_output[:, -1]],
                            backend=BACKEND)
    rng = np.random.RandomState(4)
    stream = rng.randint(0, VOCAB, size=(rows, 2 * steps + 1)).astype("int32")
    state = [np.zeros((rows, units))] * 2
    losses = []
    for w in range(2):
        cut = slice(w * steps, (w + 1) * steps)
        _, loss, h, c = step(stream[:, cut], stream[:, 1:][:, cut], *state)
        losses.append(float(loss))
        state = [h, c]
    # NumPy: the same weights, the six steps read in one pass from zero state
    P = values(l_lstm, lstm_names(inits=False))
    emb = l_emb.W.get_value()[stream[:, :-1]]
    H = np_lstm(emb, P)
    W, b = l_out.W.get_value(), l_out.b.get_value()
    z = H @ W + b
    logp = z - z.max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, stream[:, 1:, None], axis=-1)[..., 0]
    np.testing.assert_allclose(losses, [nll[:, :steps].sum(), nll[:, steps:].sum()],
                               rtol=1e-10)
    np.testing.assert_allclose(state[0], H[:, -1], rtol=1e-10)
    # the carried state matters: restarting the second window from zeros differs
    _, restarted, _, _ = step(stream[:, steps:2 * steps], stream[:, steps + 1:],
                              np.zeros((rows, units)), np.zeros((rows, units)))
    assert abs(float(restarted) - losses[1]) > 1e-6


def test_a_non_finite_gradient_is_not_applied():
    """A finite loss whose gradient is not finite (the slope of sqrt|w - x|
    at w = x) leaves the parameters and the optimizer state as they were, in
    both modes; a finite step afterwards is applied."""
    w = pytensor.shared(np.array([0.0, 2.0]), name="w")
    x = pt.vector("x")
    loss = pt.sqrt(pt.abs(w - x)).sum()
    train = core.masked_step([x], loss, [w], "adam", learning_rate=0.1, backend=BACKEND)
    state = [v.get_value().copy() for v in train.optimizer_state]
    assert np.isfinite(train(np.array([0.0, 1.0])))
    assert train.last_applied is False
    np.testing.assert_array_equal(w.get_value(), [0.0, 2.0])
    for var, before in zip(train.optimizer_state, state):
        np.testing.assert_array_equal(var.get_value(), before)
    train(np.array([1.0, 1.0]))
    assert train.last_applied is True and w.get_value()[1] < 2.0

    v = pytensor.shared(np.array([0.0, 2.0]), name="v")
    compute_grad, apply_mean_grad = core.accumulation_functions(
        [x], pt.sqrt(pt.abs(v - x)).sum(), [v], "sgd", learning_rate=0.1,
        backend=BACKEND)
    accumulator = apply_mean_grad.__self__
    compute_grad(np.array([0.0, 1.0]), np.float64(1.0))
    apply_mean_grad()
    assert accumulator.last_applied is False
    np.testing.assert_array_equal(v.get_value(), [0.0, 2.0])
    assert all(np.abs(a.get_value()).max() == 0 for a in accumulator.accumulators)
    compute_grad(np.array([1.0, 1.0]), np.float64(1.0))
    apply_mean_grad()
    assert accumulator.last_applied is True and v.get_value()[1] < 2.0


def test_guard_updates_catches_any_non_finite_value():
    """The guard's sum-based check against NumPy's isfinite: a NaN or an
    infinity anywhere, in a checked value or in a new value, of either sign
    and in several arrays at once, holds the update back; finite values,
    integers among them, let it through."""
    from collections import OrderedDict
    p = pytensor.shared(np.zeros(3), name="p")
    count = pytensor.shared(np.int64(0), name="count")
    g, new = pt.vector("g"), pt.vector("new")
    guarded, finite = core.guard_updates(OrderedDict([(p, new), (count, count + 1)]), [g])
    check = pytensor.function([g, new], [finite, guarded[p]], mode="FAST_COMPILE")
    cases = [([1.0, -2.0, 3.0], [0.5, 1e30, -1e30])]
    for bad in (np.nan, np.inf, -np.inf):
        cases += [([1.0, bad, 3.0], [0.0, 0.0, 0.0]), ([1.0, 2.0, 3.0], [bad, 0.0, 0.0])]
    cases += [([np.inf, 0.0, 0.0], [-np.inf, 0.0, 0.0])]
    for g_value, new_value in cases:
        ok, value = check(np.array(g_value), np.array(new_value))
        expected = bool(np.isfinite(g_value).all() and np.isfinite(new_value).all())
        assert bool(ok) == expected, (g_value, new_value)
        np.testing.assert_array_equal(value, new_value if expected else np.zeros(3))
