"""Losses and metrics against NumPy formulas and hand-computed values.

All symbolic results are evaluated in one compiled function."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lasagne_lstm.objectives import (
    aggregate, align_targets, binary_accuracy, binary_crossentropy,
    binary_hinge_loss, categorical_accuracy, categorical_crossentropy,
    huber_loss, multiclass_hinge_loss, squared_error)

RNG = np.random.RandomState(3)
P_BIN = RNG.uniform(0.05, 0.95, size=(4, 3))
T_BIN = (RNG.rand(4, 3) > 0.5).astype(float)
SCORES = np.array([[0.1, 0.5, 0.3, 0.1],
                   [0.7, 0.1, 0.15, 0.05],
                   [0.2, 0.2, 0.5, 0.1]])
LABELS = np.array([1, 2, 2], dtype="int32")
ONEHOT = np.eye(4)[LABELS]
SOFT_T = np.array([[0.2, 0.8, 0., 0.], [0.5, 0.5, 0., 0.],
                   [0., 0., 0.1, 0.9]])
COL = np.array([[0.2], [0.9], [0.6]])          # a (N, 1) prediction column
COL_T = np.array([0., 1., 0.])
WEIGHTS = np.array([[1., 0., 1.], [1., 1., 0.], [0., 0., 0.], [1., 1., 1.]])


@pytest.fixture(scope="module")
def results():
    p = pt.matrix("p")
    t = pt.matrix("t")
    s = pt.matrix("s")
    lab = pt.ivector("lab")
    oh = pt.matrix("oh")
    soft = pt.matrix("soft")
    col = pt.tensor("col", shape=(None, 1))
    colt = pt.vector("colt")
    w = pt.matrix("w")
    bce = binary_crossentropy(p, t)
    exprs = dict(
        bce=bce,
        cce_int=categorical_crossentropy(s, lab),
        cce_onehot=categorical_crossentropy(s, oh),
        cce_soft=categorical_crossentropy(s, soft),
        sq=squared_error(p, t),
        sq_col=squared_error(col, colt),
        bce_col=binary_crossentropy(col, colt),
        mean=aggregate(bce),
        sum=aggregate(bce, mode="sum"),
        wmean=aggregate(bce, w),
        wsum=aggregate(bce, w, mode="sum"),
        nsum=aggregate(bce, w, mode="normalized_sum"),
        hinge_logodds=binary_hinge_loss(s - 0.3, t[:3, :3].repeat(2, 1)[:, :4],
                                        log_odds=True),
        hinge_prob=binary_hinge_loss(p, t, log_odds=False),
        hinge_pm1=binary_hinge_loss(p, 2 * t - 1, delta=0.5, log_odds=True,
                                    binary=False),
        hinge_col=binary_hinge_loss(col, colt, log_odds=True),
        mc_hinge_int=multiclass_hinge_loss(s, lab),
        mc_hinge_onehot=multiclass_hinge_loss(s, oh, delta=0.3),
        huber=huber_loss(p * 4, t),
        huber_d=huber_loss(p * 4, t, delta=2.5),
        huber_col=huber_loss(col, colt, delta=0.5),
        bacc=binary_accuracy(p, t),
        bacc_thr=binary_accuracy(p, t, threshold=0.7),
        bacc_col=binary_accuracy(col, colt),
        cacc=categorical_accuracy(s, lab),
        cacc_onehot=categorical_accuracy(s, oh),
        cacc_top2=categorical_accuracy(s, lab, top_k=2),
        cacc_top3=categorical_accuracy(s, oh, top_k=3),
    )
    exprs["cce_int_grad"] = pytensor.grad(exprs["cce_int"].sum(), s)
    exprs["mc_hinge_grad"] = pytensor.grad(exprs["mc_hinge_int"].sum(), s)
    keys = list(exprs)
    fn = pytensor.function([p, t, s, lab, oh, soft, col, colt, w],
                           [exprs[k] for k in keys],
                           on_unused_input="ignore")
    vals = fn(P_BIN, T_BIN, SCORES, LABELS, ONEHOT, SOFT_T, COL, COL_T,
              WEIGHTS)
    return dict(zip(keys, vals))


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_crossentropies(results):
    bce = -(T_BIN * np.log(P_BIN) + (1 - T_BIN) * np.log(1 - P_BIN))
    close(results["bce"], bce)
    close(results["cce_int"], -np.log([0.5, 0.15, 0.5]))
    close(results["cce_onehot"], -np.log([0.5, 0.15, 0.5]))
    close(results["cce_soft"], -(SOFT_T * np.log(SCORES)).sum(axis=1))
    # d(-log p[i, y_i]) / dp = -1 / p at (i, y_i), zero elsewhere
    grad = np.zeros_like(SCORES)
    grad[np.arange(3), LABELS] = -1 / SCORES[np.arange(3), LABELS]
    close(results["cce_int_grad"], grad)


def test_squared_error_and_alignment(results):
    close(results["sq"], (P_BIN - T_BIN) ** 2)
    # (N, 1) predictions with (N,) targets: element-wise, not (N, N)
    assert results["sq_col"].shape == (3, 1)
    close(results["sq_col"], [[0.04], [0.01], [0.36]])
    close(results["bce_col"], -np.log([[0.8], [0.9], [0.4]]))
    p, t = pt.matrix(), pt.vector()
    assert align_targets(p, t)[1] is t           # no static size-1 axis
    col = pt.tensor(shape=(None, 1))
    assert align_targets(col, t)[1].type.shape == (None, 1)
    assert align_targets(col, pt.matrix())[1].ndim == 2


def test_aggregate(results):
    bce = -(T_BIN * np.log(P_BIN) + (1 - T_BIN) * np.log(1 - P_BIN))
    close(results["mean"], bce.mean())
    close(results["sum"], bce.sum())
    close(results["wmean"], (bce * WEIGHTS).mean())
    close(results["wsum"], (bce * WEIGHTS).sum())
    close(results["nsum"], (bce * WEIGHTS).sum() / WEIGHTS.sum())
    with pytest.raises(ValueError):
        aggregate(pt.matrix(), mode="normalized_sum")
    with pytest.raises(ValueError):
        aggregate(pt.matrix(), mode="max")
    with pytest.raises(ValueError):
        aggregate(pt.matrix(), pt.matrix(), mode="average")


def test_binary_hinge(results):
    t = T_BIN[:3, :3].repeat(2, 1)[:, :4]
    close(results["hinge_logodds"],
          np.maximum(0, 1 - (SCORES - 0.3) * (2 * t - 1)))
    logit = np.log(P_BIN / (1 - P_BIN))
    close(results["hinge_prob"], np.maximum(0, 1 - logit * (2 * T_BIN - 1)))
    close(results["hinge_pm1"], np.maximum(0, 0.5 - P_BIN * (2 * T_BIN - 1)))
    # column of log-odds 0.2, 0.9, 0.6 with targets -1, +1, -1
    close(results["hinge_col"], [[1.2], [0.1], [1.6]])
    with pytest.raises(FutureWarning):
        binary_hinge_loss(pt.matrix(), pt.matrix())


def test_multiclass_hinge(results):
    # max other score - correct score + 1
    close(results["mc_hinge_int"], [0.3 - 0.5 + 1, 0.7 - 0.15 + 1,
                                    0.2 - 0.5 + 1])
    close(results["mc_hinge_onehot"], np.maximum(
        0, np.array([0.3 - 0.5, 0.7 - 0.15, 0.2 - 0.5]) + 0.3))
    # every row is active: +1 at the best wrong class, -1 at the label
    # (row 2 has a tie for the best wrong class, which backends split
    # differently, so it is left out)
    grad = np.zeros((2, 4))
    grad[[0, 1], [2, 0]] = 1
    grad[[0, 1], LABELS[:2]] = -1
    close(results["mc_hinge_grad"][:2], grad)
    with pytest.raises(TypeError):
        multiclass_hinge_loss(pt.matrix(), pt.tensor3())


def test_huber(results):
    def ref(p, t, d):
        a = np.abs(t - p)
        return np.where(a <= d, 0.5 * a ** 2, d * (a - d / 2))
    close(results["huber"], ref(P_BIN * 4, T_BIN, 1))
    close(results["huber_d"], ref(P_BIN * 4, T_BIN, 2.5))
    # |diff| = 0.2, 0.1, 0.6 with delta 0.5
    close(results["huber_col"], [[0.02], [0.005], [0.5 * (0.6 - 0.25)]])


def test_accuracies(results):
    close(results["bacc"], (P_BIN >= 0.5) == T_BIN)
    close(results["bacc_thr"], (P_BIN >= 0.7) == T_BIN)
    close(results["bacc_col"], [[1], [1], [0]])
    close(results["cacc"], [1, 0, 1])
    close(results["cacc_onehot"], [1, 0, 1])
    # top-2 of row 1 is {0, 2}: label 2 now counts
    close(results["cacc_top2"], [1, 1, 1])
    close(results["cacc_top3"], [1, 1, 1])


def test_rank_errors():
    with pytest.raises(TypeError):
        categorical_crossentropy(pt.matrix(), pt.tensor3())
    with pytest.raises(TypeError):
        categorical_crossentropy(pt.tensor3(), pt.imatrix())
    with pytest.raises(TypeError):
        categorical_accuracy(pt.matrix(), pt.tensor3())
    with pytest.raises(TypeError):
        categorical_accuracy(pt.tensor3(), pt.ivector())


def test_top_k_single_row():
    scores = pt.constant(np.array([[0.1, 0.5, 0.3, 0.2]] * 2))
    labels = pt.constant(np.array([0, 3]))
    res = categorical_accuracy(scores, labels, top_k=3).eval()
    assert res.tolist() in ([0, 1], [False, True])


def test_crossentropy_of_a_softmax_is_its_stable_log_softmax():
    """A softmax output's cross-entropy is taken as the log-softmax of the
    softmax's input: finite where the probability underflows to 0, with the
    gradient softmax - one_hot (NumPy reference), for both the Lasagne
    objective and Theano's ``T.nnet`` version."""
    from lasagne_lstm import nonlinearities, objectives
    from lasagne_lstm.theano.tensor import nnet
    z = np.array([[0.0, 800.0, -5.0], [3.0, 1.0, 2.0]])
    y = np.array([0, 2], dtype="int32")
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    expected = -log_p[np.arange(2), y]
    grad = np.exp(log_p)
    grad[np.arange(2), y] -= 1
    Z, Y = pt.matrix("Z"), pt.ivector("Y")
    for loss_of in (objectives.categorical_crossentropy, nnet.categorical_crossentropy):
        loss = loss_of(nonlinearities.softmax(Z), Y)
        got, got_grad = pytensor.function([Z, Y], [loss, pytensor.grad(loss.sum(), Z)])(z, y)
        np.testing.assert_allclose(got, expected, rtol=1e-12)
        np.testing.assert_allclose(got_grad, grad, rtol=1e-9, atol=1e-12)
