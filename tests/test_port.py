"""A Lasagne-era script, ported by changing only its imports, trains.

The body below is written the way Lasagne's own recurrent examples were:
symbolic inputs, an embedding, a masked LSTM with per-step gradient
clipping, a ReshapeLayer with a ``[0]``-style reference, a softmax
DenseLayer, masked cross-entropy through ``aggregate``, ``adam``, and one
compiled training function.
"""
import numpy as np

import lasagne_lstm as lasagne  # was: import lasagne
import pytensor as theano  # was: import theano
import pytensor.tensor as T  # was: import theano.tensor as T


def test_lasagne_style_script_trains():
    np.random.seed(42)
    lasagne.random.set_rng(np.random.RandomState(42))
    vocab, n_hidden, batch, steps = 6, 10, 8, 7

    # A learnable task: predict the previous token (needs memory).
    x_data = np.random.randint(1, vocab, size=(batch, steps)).astype("int32")
    y_data = np.concatenate([np.zeros((batch, 1), "int32"), x_data[:, :-1]], axis=1)
    lengths = np.random.randint(3, steps + 1, size=batch)
    mask_data = (np.arange(steps)[None, :] < lengths[:, None]).astype(theano.config.floatX)

    x_sym = T.imatrix("x")
    mask_sym = T.matrix("mask")
    y_sym = T.imatrix("y")
    l_in = lasagne.layers.InputLayer((None, None), input_var=x_sym)
    l_mask = lasagne.layers.InputLayer((None, None), input_var=mask_sym)
    l_emb = lasagne.layers.EmbeddingLayer(l_in, input_size=vocab, output_size=5)
    l_lstm = lasagne.layers.LSTMLayer(l_emb, n_hidden, grad_clipping=5,
                                      mask_input=l_mask,
                                      nonlinearity=lasagne.nonlinearities.tanh)
    l_flat = lasagne.layers.ReshapeLayer(l_lstm, (-1, n_hidden))
    l_out = lasagne.layers.DenseLayer(l_flat, num_units=vocab,
                                      nonlinearity=lasagne.nonlinearities.softmax)

    prediction = lasagne.layers.get_output(l_out)
    loss = lasagne.objectives.categorical_crossentropy(prediction, y_sym.flatten())
    loss = lasagne.objectives.aggregate(loss, mask_sym.flatten(), mode="normalized_sum")
    params = lasagne.layers.get_all_params(l_out, trainable=True)
    updates = lasagne.updates.adam(loss, params, learning_rate=0.05)
    train = theano.function([x_sym, mask_sym, y_sym], loss, updates=updates)
    compute_loss = theano.function([x_sym, mask_sym, y_sym], loss)

    shapes = {l_in: (batch, steps), l_mask: (batch, steps)}
    assert lasagne.layers.get_output_shape(l_out, shapes) == (batch * steps, vocab)
    assert lasagne.layers.count_params(l_out) == (
        vocab * 5 + 4 * (5 * n_hidden + n_hidden * n_hidden + n_hidden)
        + 3 * n_hidden + 2 * n_hidden + n_hidden * vocab + vocab)

    initial = float(compute_loss(x_data, mask_data, y_data))
    # A network with uniform predictions scores log(vocab) per token.
    assert abs(initial - np.log(vocab)) < 0.3
    for _ in range(60):
        train(x_data, mask_data, y_data)
    final = float(compute_loss(x_data, mask_data, y_data))
    assert final < 0.5 * initial, (initial, final)
