"""Counter-based noise layers: masks as a pure function of the layer's seed,
the step key and the element's coordinates (against NumPy statistics and
hand-made shifts and crops), the same on every backend, and new noise on each
call of a plain compiled function when no key is given."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import lasagne_lstm as lasagne
from lasagne_lstm.layers import DropoutLayer, GaussianNoiseLayer, InputLayer, get_output


def _keyed_dropout(p=0.5, shared_axes=(), seed=7, mode="fast_compile"):
    lasagne.random.set_rng(np.random.RandomState(seed))
    x = pt.tensor3("x")
    key, offset = pt.scalar("key", dtype="uint32"), pt.scalar("offset", dtype="uint32")
    layer = DropoutLayer(InputLayer((None, None, None), input_var=x), p=p,
                         rescale=False, shared_axes=shared_axes)
    out = get_output(layer, noise_key=key, noise_row_offset=offset)
    fn = lasagne.theano.function([x, key, offset], out, mode=mode)
    return lambda shape, k, o=0: fn(np.ones(shape), np.uint32(k), np.uint32(o))


@pytest.fixture(scope="module")
def keyed():
    return _keyed_dropout()


def test_keep_rate_and_shared_axes():
    mask = _keyed_dropout(p=0.3)((40, 50, 20), 1)
    kept = mask.mean()
    # binomial standard error of 40,000 draws at q = 0.7 is 0.0023
    assert abs(kept - 0.7) < 0.01
    assert set(np.unique(mask)) == {0.0, 1.0}
    channels = _keyed_dropout(p=0.5, shared_axes=(1,))((30, 6, 40), 1)
    assert (channels == channels[:, :1, :]).all()   # one mask for every step
    assert 0.4 < channels.mean() < 0.6


def test_keys_rows_and_widths(keyed):
    a = keyed((4, 5, 3), 10)
    assert (a == keyed((4, 5, 3), 10)).all()              # same key, same mask
    assert (a != keyed((4, 5, 3), 11)).any()              # another step, another
    # coordinates, not flat positions: rows keep their numbers when split off
    # (row offset) and real steps keep theirs when the width is padded
    np.testing.assert_array_equal(keyed((2, 5, 3), 10, 2), a[2:])
    np.testing.assert_array_equal(keyed((4, 9, 3), 10)[:, :5], a)
    np.testing.assert_array_equal(keyed((7, 5, 3), 10)[:4], a)


def test_another_seed_draws_other_masks(keyed):
    assert (_keyed_dropout(seed=8)((4, 5, 3), 10) != keyed((4, 5, 3), 10)).any()


def test_same_masks_on_jax():
    np.testing.assert_array_equal(_keyed_dropout(mode="jax")((3, 4, 5), 9),
                                  _keyed_dropout()((3, 4, 5), 9))


@pytest.mark.parametrize("mode", ["fast_compile", "jax"])
def test_without_a_key_every_call_draws_anew_and_seeds_reproduce(mode):
    def masks():
        lasagne.random.set_rng(np.random.RandomState(3))
        x = pt.matrix("x")
        out = get_output(DropoutLayer(InputLayer((None, None), input_var=x), p=0.5))
        fn = lasagne.theano.function([x], out, mode=mode)
        return [fn(np.ones((6, 8))) for _ in range(3)]
    first = masks()
    assert (first[0] != first[1]).any() and (first[1] != first[2]).any()
    for a, b in zip(first, masks()):
        np.testing.assert_array_equal(a, b)


def test_gaussian_noise_moments():
    lasagne.random.set_rng(np.random.RandomState(0))
    x = pt.matrix("x")
    key = pt.scalar("key", dtype="uint32")
    out = get_output(GaussianNoiseLayer(InputLayer((None, None), input_var=x), sigma=2.0),
                     noise_key=key)
    noise = pytensor.function([x, key], out)(np.zeros((200, 100)), np.uint32(4))
    # standard errors over 20,000 draws: mean 0.014, std about 0.01
    assert abs(noise.mean()) < 0.06 and abs(noise.std() - 2.0) < 0.05
    assert np.isfinite(noise).all()
    assert abs(np.corrcoef(noise[:, :-1].ravel(), noise[:, 1:].ravel())[0, 1]) < 0.03
