"""Masked training and gradient accumulation: the same update on the same batch.

References are independent of the code under test: a NumPy SGD step from
finite-difference gradients of a NumPy loss, and the masked step itself for
accumulation cycles (two different graphs: padded with a mask, versus unpadded
sequences or micro-batches summed into accumulators).
"""
import numpy as np
import pytest

import lasagne_lstm.random as lrandom
from lasagne_lstm.training.batching import Batch
from lasagne_lstm.training.models import LanguageModel, SequenceClassifier
from lasagne_lstm.training import StepFunctions

BACKEND = "fast_compile"
LM_CONFIG = dict(task="lm", vocab_size=9, embedding=3, hidden=4, layers=1,
                 cell="lstm", grad_clipping=0)
LENGTHS = [5, 2, 4, 3]


def _lm_batch(seed=0, lengths=LENGTHS, vocab=9):
    rng = np.random.RandomState(seed)
    seqs = [rng.randint(4, vocab, size=n + 1).astype("int32") for n in lengths]
    xs = [s[:-1] for s in seqs]
    ys = [s[1:] for s in seqs]
    return Batch(xs, ys, list(range(len(xs))), [0] * len(xs), "lm")


def _model(config, values=None, seed=1):
    lrandom.set_rng(np.random.RandomState(seed))
    model = (LanguageModel if config["task"] == "lm" else SequenceClassifier)(config)
    if values is not None:
        for name, p in model.params.items():
            p.set_value(values[name])
    return model


def _values(model):
    return {name: p.get_value().copy() for name, p in model.params.items()}


def _max_rel_diff(a, b):
    return max(np.abs(a[k] - b[k]).max() / (np.abs(a[k]).max() + 1e-12) for k in a)


def _masked_then_accumulated(config, optimizer, micro_batch, steps=1, **kwargs):
    batch = _lm_batch()
    masked = _model(config)
    start = _values(masked)
    fm = StepFunctions(masked, "masked", optimizer, learning_rate=0.3,
                       backend=BACKEND, **kwargs)
    for _ in range(steps):
        fm.train(batch.X, batch.mask, batch.y)
    accumulated = _model(config, start)
    fa = StepFunctions(accumulated, "accumulate", optimizer, learning_rate=0.3,
                       backend=BACKEND, **kwargs)
    for _ in range(steps):
        fa.accumulate_batch(batch, micro_batch)
    return start, _values(masked), _values(accumulated), fa


@pytest.mark.parametrize("grad_clipping", [0, 0.002])
@pytest.mark.parametrize("micro_batch", [1, 3])
def test_accumulation_cycle_equals_masked_step_sgd(grad_clipping, micro_batch):
    config = dict(LM_CONFIG, grad_clipping=grad_clipping)
    start, masked, accumulated, _ = _masked_then_accumulated(config, "sgd", micro_batch)
    assert _max_rel_diff(masked, start) > 1e-4  # the step did move the weights
    assert _max_rel_diff(masked, accumulated) < 1e-5


def test_clipping_changes_the_update():
    # the tiny clip value above must be active, or that test proves nothing
    _, clipped, _, _ = _masked_then_accumulated(dict(LM_CONFIG, grad_clipping=0.002),
                                                "sgd", 1)
    _, free, _, _ = _masked_then_accumulated(LM_CONFIG, "sgd", 1)
    assert _max_rel_diff(clipped, free) > 1e-3


def test_accumulation_equals_masked_with_adam_over_steps():
    start, masked, accumulated, _ = _masked_then_accumulated(
        dict(LM_CONFIG, grad_clipping=0.01), "adam", 2, steps=3)
    assert _max_rel_diff(masked, start) > 1e-4
    assert _max_rel_diff(masked, accumulated) < 1e-5


@pytest.mark.parametrize("micro_batch", [1, 3])
def test_accumulation_equals_masked_with_dropout(micro_batch):
    """Dropout masks are keyed by (layer seed, update, row, position), so an
    accumulation cycle draws the masked step's masks: single unpadded
    sequences without a mask (micro_batch 1) and padded micro-batches of 3."""
    config = dict(LM_CONFIG, dropout=0.4)
    start, masked, accumulated, _ = _masked_then_accumulated(config, "sgd", micro_batch)
    assert _max_rel_diff(masked, accumulated) < 1e-6
    _, without, _, _ = _masked_then_accumulated(LM_CONFIG, "sgd", micro_batch)
    assert _max_rel_diff(masked, without) > 1e-3  # dropout did change the update


def test_tied_embeddings_agree_across_modes():
    """Tied weights reach the output op as an expression (the embedding's
    transpose): the masked step (output layer and cross-entropy as one op)
    against single sequences (whole logits, PyTensor's gradient)."""
    config = dict(LM_CONFIG, embedding=4, hidden=4, tie_embeddings=True)
    start, masked, accumulated, _ = _masked_then_accumulated(config, "sgd", 1)
    assert _max_rel_diff(masked, start) > 1e-4
    assert _max_rel_diff(masked, accumulated) < 1e-5


def test_sequence_weighting_and_global_norm_agree_across_modes():
    _, masked, accumulated, _ = _masked_then_accumulated(
        LM_CONFIG, "sgd", 1, weighting="sequences", max_grad_norm=0.05)
    assert _max_rel_diff(masked, accumulated) < 1e-5


def test_masked_sgd_step_matches_numpy_finite_differences():
    """One masked step against SGD on a NumPy LSTM loss with numeric gradients."""
    batch = _lm_batch(lengths=[3, 1, 2])
    config = dict(LM_CONFIG, embedding=2, hidden=2)
    model = _model(config)
    start = _values(model)
    StepFunctions(model, "masked", "sgd", learning_rate=0.5,
                  backend=BACKEND).train(batch.X, batch.mask, batch.y)

    def loss(v):
        total, count = 0.0, 0
        H = 2
        for x, y in batch.sequences():
            h = v["lstm0.hid_init"][0].copy()
            c = v["lstm0.cell_init"][0].copy()
            for xt, yt in zip(x, y):
                e = v["embedding.W"][xt]

                def pre(g):
                    return (e @ v["lstm0.W_in_to_" + g] + h @ v["lstm0.W_hid_to_" + g]
                            + v["lstm0.b_" + g])
                sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
                i = sig(pre("ingate") + c * v["lstm0.W_cell_to_ingate"])
                f = sig(pre("forgetgate") + c * v["lstm0.W_cell_to_forgetgate"])
                c = f * c + i * np.tanh(pre("cell"))
                o = sig(pre("outgate") + c * v["lstm0.W_cell_to_outgate"])
                h = o * np.tanh(c)
                z = h @ v["output.W"] + v["output.b"]
                total += np.log(np.exp(z - z.max()).sum()) + z.max() - z[yt]
                count += 1
        assert H == h.shape[0]
        return total / count

    eps = 1e-6
    for name in ["embedding.W", "lstm0.W_hid_to_forgetgate", "lstm0.W_cell_to_outgate",
                 "output.W", "output.b"]:
        grad = np.zeros_like(start[name])
        for idx in np.ndindex(*grad.shape):
            plus = {k: a.copy() for k, a in start.items()}
            minus = {k: a.copy() for k, a in start.items()}
            plus[name][idx] += eps
            minus[name][idx] -= eps
            grad[idx] = (loss(plus) - loss(minus)) / (2 * eps)
        expected = start[name] - 0.5 * grad
        np.testing.assert_allclose(model.params[name].get_value(), expected,
                                   rtol=1e-6, atol=1e-8, err_msg=name)


def test_compute_grad_returns_nothing_and_apply_zeroes_accumulators():
    batch = _lm_batch()
    model = _model(LM_CONFIG)
    fa = StepFunctions(model, "accumulate", "sgd", learning_rate=0.1, backend=BACKEND)
    x, y = batch.sequences()[0]
    out = fa.compute_grad(x[None], None, y[None], np.array([1.0]))
    assert out is None
    assert any(np.abs(a.get_value()).max() > 0 for a in fa.accumulators)
    assert fa.accumulated_targets.get_value() == len(x)
    loss_sum, n = fa.apply_mean_grad()
    assert n == len(x) and loss_sum > 0
    assert all(np.abs(a.get_value()).max() == 0 for a in fa.accumulators)
    assert fa.accumulated_targets.get_value() == 0


def test_classifier_accumulation_equals_masked():
    config = dict(task="classify", vocab_size=9, embedding=3, hidden=4, num_classes=3,
                  cell="gru", grad_clipping=0.01, bidirectional=True)
    rng = np.random.RandomState(3)
    xs = [rng.randint(4, 9, size=n).astype("int32") for n in LENGTHS]
    batch = Batch(xs, [0, 2, 1, 2], list(range(4)), [0] * 4, "classify")
    masked = _model(config)
    start = _values(masked)
    StepFunctions(masked, "masked", "sgd", learning_rate=0.5,
                  backend=BACKEND).train(batch.X, batch.mask, batch.y)
    accumulated = _model(config, start)
    StepFunctions(accumulated, "accumulate", "sgd", learning_rate=0.5,
                  backend=BACKEND).accumulate_batch(batch, 1)
    assert _max_rel_diff(_values(masked), start) > 1e-4
    assert _max_rel_diff(_values(masked), _values(accumulated)) < 1e-5


def test_evaluate_never_updates():
    batch = _lm_batch()
    model = _model(LM_CONFIG)
    start = _values(model)
    f = StepFunctions(model, "masked", "adam", backend=BACKEND)
    loss_sum, n, correct = f.evaluate(batch.X, batch.mask, batch.y)
    assert n == sum(LENGTHS) and 0 <= correct <= n
    # uniform-ish initial predictions over 9 classes: loss near log(9) per token
    assert abs(loss_sum / n - np.log(9)) < 0.5
    assert _max_rel_diff(start, _values(model)) == 0


def test_bad_settings_are_value_errors():
    model = _model(LM_CONFIG)
    for kwargs in (dict(mode="both"), dict(optimizer="lbfgs"), dict(weighting="words")):
        with pytest.raises(ValueError):
            StepFunctions(model, backend=BACKEND, **kwargs)
    with pytest.raises(ValueError):
        StepFunctions(model, backend="tpu")


@pytest.mark.parametrize("backend", ["fast_compile", "c", "jax"])
def test_target_nll_matches_numpy_log_softmax_and_its_gradient(backend):
    """target_nll against NumPy's log-softmax cross-entropy and its gradient
    (softmax minus one-hot, times each row's weight), with logits large
    enough that an unshifted exp would overflow; its closed-form gradient
    leaves no scatter (``AdvancedIncSubtensor``) in the compiled graph."""
    import pytensor
    import pytensor.tensor as pt
    from pytensor.tensor.subtensor import AdvancedIncSubtensor, AdvancedIncSubtensor1
    from lasagne_lstm import backends
    from lasagne_lstm.training import target_nll
    rng = np.random.RandomState(3)
    z = rng.randn(6, 11) * 400.0
    y = rng.randint(0, 11, size=6).astype("int32")
    w = rng.rand(6)
    Z, Y, W = pt.matrix("Z", dtype="float64"), pt.ivector("Y"), pt.vector("W", dtype="float64")
    nll = target_nll(Z, Y)
    fn = pytensor.function([Z, Y, W], [nll, pytensor.grad((nll * W).sum(), Z)],
                           mode=backends.get_mode(backend))
    got, got_grad = fn(z, y, w)
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(got, -log_p[np.arange(6), y], rtol=1e-12, atol=1e-9)
    expected_grad = np.exp(log_p)
    expected_grad[np.arange(6), y] -= 1.0
    expected_grad *= w[:, None]
    np.testing.assert_allclose(got_grad, expected_grad, rtol=1e-9, atol=1e-12)
    assert np.all(np.isfinite(got))
    ops = [type(node.op) for node in fn.maker.fgraph.apply_nodes]
    assert AdvancedIncSubtensor not in ops and AdvancedIncSubtensor1 not in ops


def test_jax_x64_follows_floatx_within_one_process():
    """A float64 JAX run turns JAX's x64 on; a float32 run after it in the
    same process must turn it off again (with it on, Python floats in the
    LSTM graph became float64 and the scan's carry types no longer matched)."""
    import jax
    import pytensor
    from lasagne_lstm import backends
    pytensor.config.floatX = "float64"
    backends.get_mode("jax")
    assert jax.config.jax_enable_x64
    pytensor.config.floatX = "float32"
    backends.get_mode("jax")
    assert not jax.config.jax_enable_x64
