"""Stream mode: state carried from one window to the next equals reading the
whole stream at once; training on a stream learns."""
import numpy as np
import pytest

import lasagne_lstm.random as lrandom
from lasagne_lstm.training.data import stream_batches
from lasagne_lstm.training.models import LanguageModel
from lasagne_lstm.training import StepFunctions, StreamStepFunctions

BACKEND = "fast_compile"


def _stateful(cell, **kwargs):
    lrandom.set_rng(np.random.RandomState(0))
    config = dict(task="lm", vocab_size=10, embedding=3, hidden=4, layers=2, cell=cell,
                  stateful=True, init_range=0.5)
    config.update(kwargs)
    return LanguageModel(config, masked=False)


def _check_carried_state_equals_one_pass(cell):
    model = _stateful(cell)
    stream = StreamStepFunctions(model, "sgd", backend=BACKEND)
    ids = np.random.RandomState(1).randint(0, 10, size=3 * 13 + 1).astype("int32")
    windows = list(stream_batches(ids, batch_size=3, num_steps=4))
    assert len(windows) == 3
    states = stream.initial_states(3)
    carried = 0.0
    for X, y in windows:
        loss, n, states = stream.evaluate(X, y, states)
        carried += loss
    # Reference: a stateless model with the same weights reading the three
    # windows as one sequence per row (its initial states are zero params).
    whole = LanguageModel(dict(model.config, stateful=False), masked=True,
                          shared=model.params)
    X = np.concatenate([w[0] for w in windows], axis=1)
    y = np.concatenate([w[1] for w in windows], axis=1)
    mask = np.ones(X.shape)
    loss_sum, n, _ = StepFunctions(whole, backend=BACKEND).evaluate(X, mask, y)
    assert n == X.size
    np.testing.assert_allclose(carried, loss_sum, rtol=1e-10)
    # and the state matters: restarting from zeros gives another loss
    restarted = sum(stream.evaluate(X_, y_, stream.initial_states(3))[0]
                    for X_, y_ in windows)
    assert abs(restarted - loss_sum) > 1e-6


def test_carried_lstm_state_equals_one_pass():
    _check_carried_state_equals_one_pass("lstm")


def test_carried_gru_state_equals_one_pass():
    _check_carried_state_equals_one_pass("gru")


def test_stream_training_learns_a_periodic_stream():
    model = _stateful("lstm", hidden=8, layers=1, init_range=0.1)
    stream = StreamStepFunctions(model, "adam", learning_rate=0.05, max_grad_norm=5,
                                 backend=BACKEND)
    ids = np.tile(np.arange(2, 9), 60).astype("int32")  # period 7 > window 5
    perplexities = []
    for epoch in range(10):
        states, total, count = stream.initial_states(4), 0.0, 0.0
        for X, y in stream_batches(ids, 4, 5):
            loss, n, states = stream.train(X, y, states)
            total, count = total + loss, count + n
        perplexities.append(np.exp(total / count))
    assert perplexities[0] > 3
    assert perplexities[-1] < 1.5, perplexities


def test_fused_output_updates_like_the_whole_logits(monkeypatch):
    """A stream update, and an evaluation, with the output layer and
    cross-entropy as one op (its hand-written gradient) against the logits
    computed whole and differentiated by PyTensor, from the same weights
    and state, on the op's NumPy code (FAST_COMPILE) and its JAX code."""
    from lasagne_lstm.training import steps
    ids = np.random.RandomState(2).randint(0, 10, size=3 * 10 + 1).astype("int32")
    X, y = next(iter(stream_batches(ids, batch_size=3, num_steps=9)))
    for backend in ("fast_compile", "jax"):
        results = []
        for fused in (True, False):
            if not fused:
                monkeypatch.setattr(steps, "fusable_output", lambda layer: False)
            model = _stateful("lstm", layers=1)
            stream = StreamStepFunctions(model, "sgd", learning_rate=0.5, backend=backend)
            assert stream._fused is fused
            states = [s + 0.1 for s in stream.initial_states(3)]
            evaluated = stream.evaluate(X, y, states)[0]
            loss, n, finals = stream.train(X, y, states)
            results.append((evaluated, loss, finals,
                            {k: p.get_value() for k, p in model.params.items()}))
            monkeypatch.undo()
        (e1, l1, f1, p1), (e2, l2, f2, p2) = results
        assert e1 == pytest.approx(e2, rel=1e-10) and l1 == pytest.approx(l2, rel=1e-10)
        for a, b in zip(f1, f2):
            np.testing.assert_allclose(a, b, rtol=1e-10)
        for name in p1:
            np.testing.assert_allclose(p1[name], p2[name], rtol=1e-9, atol=1e-12,
                                       err_msg=name)
        # the update moved the output weights: the comparison is not vacuous
        before = _stateful("lstm", layers=1).params["output.W"].get_value()
        assert not np.allclose(p1["output.W"], before)
