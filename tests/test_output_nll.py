"""The fused output layer and cross-entropy (lasagne_lstm.training.output_nll)
against NumPy: its sums, and its gradients, on every backend, with the JAX
code's chunks and skipped padding rows exercised by small chunk sizes."""
import numpy as np
import pytest

ROWS, HIDDEN, CLASSES = 23, 5, 13


def _problem(seed=0):
    rng = np.random.RandomState(seed)
    h = rng.randn(ROWS, HIDDEN) * 30.0  # logits large enough to overflow an unshifted exp
    W = rng.randn(HIDDEN, CLASSES)
    b = rng.randn(CLASSES)
    y = rng.randint(0, CLASSES, size=ROWS).astype("int32")
    m = (rng.rand(ROWS) < 0.6).astype("float64")  # scattered padding rows
    m[[0, 7, 8]] = 1.0
    w = m * rng.rand(ROWS)
    return h, W, b, y, m, w


def _numpy_reference(h, W, b, y, m, w):
    z = h @ W + b
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    nll = -log_p[np.arange(len(y)), y]
    correct = (m * (z.argmax(axis=1) == y)).sum()
    dz = np.exp(log_p)
    dz[np.arange(len(y)), y] -= 1.0
    dz *= w[:, None]
    return [(w * nll).sum(), (m * nll).sum(), correct, dz @ W.T, h.T @ dz, dz.sum(axis=0)]


def _compiled(backend, chunk_rows, grads=True, scale=1.0):
    import pytensor
    import pytensor.tensor as pt
    from lasagne_lstm import backends
    from lasagne_lstm.training.output_nll import DenseSoftmaxNLL
    h, W, b = (pt.matrix("h"), pt.matrix("W"), pt.vector("b"))
    y, m, w = pt.ivector("y"), pt.vector("m"), pt.vector("w")
    outs = DenseSoftmaxNLL(grads, chunk_rows)(h, W, b, y, m, w)[:3]
    if grads:
        # a scale on the loss reaches the gradients through the op's pullback
        outs = outs + [g / scale for g in pytensor.grad(scale * outs[0], [h, W, b])]
    return pytensor.function([h, W, b, y, m, w], outs, mode=backends.get_mode(backend))


@pytest.mark.parametrize("backend,chunk_rows", [
    ("fast_compile", 256), ("c", 4), ("jax", 256), ("jax", 8), ("jax", 4)])
def test_sums_and_gradients_match_numpy(backend, chunk_rows):
    """One chunk (256 rows) and several (8, 4: the rows are split, real
    ones first, and the chunks holding only padding are skipped on JAX)."""
    problem = _problem()
    got = _compiled(backend, chunk_rows, scale=3.0)(*problem)
    names = ["loss", "nll_sum", "correct", "dh", "dW", "db"]
    for name, value, expected in zip(names, got, _numpy_reference(*problem)):
        np.testing.assert_allclose(value, expected, rtol=1e-10, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("backend", ["c", "jax"])
def test_without_gradients_gives_the_same_sums(backend):
    problem = _problem(seed=1)
    got = _compiled(backend, 4, grads=False)(*problem)
    assert len(got) == 3
    np.testing.assert_allclose(got, _numpy_reference(*problem)[:3], rtol=1e-10)


def test_padding_rows_change_nothing():
    """Rows with m = w = 0 may hold anything finite: the sums and the real
    rows' gradients are those of the real rows alone, and the padding rows
    get a zero gradient."""
    h, W, b, y, m, w = _problem(seed=2)
    fn = _compiled("jax", 4)
    real = m != 0
    h_other = np.where(real[:, None], h, 1e3)
    full = fn(h_other, W, b, y, m, w)
    alone = fn(h[real], W, b, y[real], m[real], w[real])
    for k in range(3):
        np.testing.assert_allclose(full[k], alone[k], rtol=1e-12)
    np.testing.assert_allclose(full[3][real], alone[3], rtol=1e-12)
    assert not full[3][~real].any()
    np.testing.assert_allclose(full[4], alone[4], rtol=1e-10, atol=1e-12)


def test_only_the_weighted_loss_is_differentiable():
    import pytensor
    import pytensor.tensor as pt
    from lasagne_lstm.training.output_nll import dense_softmax_nll
    h, W, b = pt.matrix("h"), pt.matrix("W"), pt.vector("b")
    y, m, w = pt.ivector("y"), pt.vector("m"), pt.vector("w")
    _, nll_sum, _ = dense_softmax_nll(h, W, b, y, m, w)
    with pytest.raises(NotImplementedError):
        pytensor.grad(nll_sum, h)
    loss, _, _ = dense_softmax_nll(h, W, b, y, m, w, grads=False)
    with pytest.raises(NotImplementedError):
        pytensor.grad(loss, h)


def test_chunk_plan_covers_the_rows_in_equal_chunks():
    from lasagne_lstm.training.output_nll import chunk_plan
    for rows in (1, 8, 128, 256, 257, 352, 1408, 1920):
        chunks, size = chunk_plan(rows, 256)
        assert size % 8 == 0 and size <= 256 + 7
        assert chunks * size >= rows > (chunks - 1) * size
        assert chunks == -(-rows // 256)
