"""Penalties against sums computed by hand from the parameter values."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lasagne_lstm.layers import DenseLayer, InputLayer
from lasagne_lstm.regularization import (
    apply_penalty, l1, l2, regularize_layer_params,
    regularize_layer_params_weighted, regularize_network_params)

A = np.array([[1., -2.], [3., 0.5]])
B = np.array([-1., 4., 0.])


@pytest.fixture(scope="module")
def net():
    l_in = InputLayer((None, 2))
    l1_ = DenseLayer(l_in, 3, W=np.arange(6.).reshape(2, 3) - 2,
                     b=np.array([1., -1., 5.]))
    l2_ = DenseLayer(l1_, 2, W=np.array([[1., -1.], [2., 0.], [-3., 1.]]),
                     b=np.array([10., 20.]))
    return l_in, l1_, l2_


def values(layer):
    return [p.get_value() for p in layer.get_params(regularizable=True)]


def test_penalties_and_network_sums(net):
    l_in, d1, d2 = net
    a, b = pt.matrix(), pt.vector()
    w1, w2 = d1.W.get_value(), d2.W.get_value()
    exprs = [
        l1(a), l2(a),
        apply_penalty(a, l2),
        apply_penalty([a, b], l1),
        apply_penalty((a, b), lambda x, power: (abs(x) ** power).sum(),
                      power=3),
        regularize_layer_params(d1, l2),
        regularize_layer_params([d1, d2], l1),
        regularize_layer_params(d2, l2, tags={"regularizable": False}),
        regularize_layer_params_weighted({d1: 0.1, d2: 2.}, l2),
        regularize_network_params(d2, l1),
        regularize_network_params(d2, l2, tags={"trainable": True}),
        regularize_network_params(d1, l2, tags={"regularizable": False}),
    ]
    res = pytensor.function([a, b], exprs, on_unused_input="ignore")(A, B)
    expected = [
        6.5, 1 + 4 + 9 + 0.25,
        14.25,
        6.5 + 5,
        np.sum(np.abs(A) ** 3) + np.sum(np.abs(B) ** 3),
        (w1 ** 2).sum(),
        np.abs(w1).sum() + np.abs(w2).sum(),
        10. ** 2 + 20. ** 2,                     # only the biases
        0.1 * (w1 ** 2).sum() + 2 * (w2 ** 2).sum(),
        np.abs(w1).sum() + np.abs(w2).sum(),
        sum((v ** 2).sum() for v in [w1, np.array([1., -1., 5.]), w2,
                                     np.array([10., 20.])]),
        1 + 1 + 25,
    ]
    for r, e in zip(res, expected):
        np.testing.assert_allclose(r, e, rtol=1e-12)


def test_empty_and_symbolic():
    assert apply_penalty([], l2) == 0
    assert regularize_layer_params(InputLayer((1, 2)), l2) == 0
    x = pt.vector()
    assert l2(x).ndim == 0 and l1(x).ndim == 0
