"""N-step gradient averaging on a network of your own: "do N training steps,
then update the parameters with the average gradient", with two compiled
functions.

The network is a user-defined sequence classifier (does a sequence of digits
contain a 7?): an embedding, a masked LSTMLayer with per-step
gradient clipping that returns its final state, and a softmax DenseLayer,
written with the Lasagne API and the three import lines below.
``accumulation_functions`` compiles

* ``compute_grad(x, mask, y, scale)``: adds the gradient of ``scale · loss``
  of one sequence into accumulators that stay on the device, returns nothing;
* ``apply_mean_grad()``: one SGD update with the accumulated gradient, then
  zeroes the accumulators.

With ``scale = 1/N`` for each of N sequences the update uses their mean
gradient, and it is the update one masked step on the same N sequences
makes: the script checks that on its first window.

Run ``python examples/gradient_averaging.py --help``.
"""
import argparse

import numpy as np

import lasagne_lstm as lasagne             # was: import lasagne
import lasagne_lstm.theano as theano       # was: import theano
import lasagne_lstm.theano.tensor as T     # was: import theano.tensor as T


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--window", type=int, default=16,
                   help="N: sequences whose mean gradient makes one update (default: %(default)s)")
    p.add_argument("--updates", type=int, default=150,
                   help="updates to make (default: %(default)s)")
    p.add_argument("--hidden", type=int, default=32,
                   help="LSTM units (default: %(default)s)")
    p.add_argument("--learning-rate", type=float, default=1.0,
                   help="SGD learning rate (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
    return p.parse_args(argv)


def digit_sequence(rng, max_len=12):
    """Digits 1..9 of a random length; label 1 if a 7 is among them."""
    digits = rng.randint(1, 10, size=rng.randint(2, max_len + 1)).astype("int32")
    return digits, int((digits == 7).any())


def padded(digits):
    """One row, its time axis padded to the width ladder (4, 8, 12, ...) with
    a mask, so the whole run compiles a handful of shapes."""
    x = digits[None, :]
    mask = np.ones(x.shape, dtype=theano.config.floatX)
    return lasagne.utils.pad_to_ladder(x, mask)


def build_network(n_hidden, x, mask):
    l_in = lasagne.layers.InputLayer((None, None), input_var=x)
    l_mask = lasagne.layers.InputLayer((None, None), input_var=mask)
    l_emb = lasagne.layers.EmbeddingLayer(l_in, input_size=10, output_size=8)
    l_lstm = lasagne.layers.LSTMLayer(l_emb, n_hidden, grad_clipping=10,
                                      mask_input=l_mask, only_return_final=True)
    return lasagne.layers.DenseLayer(l_lstm, num_units=2,
                                     nonlinearity=lasagne.nonlinearities.softmax)


def main(argv=None):
    args = parse_args(argv)
    rng = np.random.RandomState(args.seed)
    lasagne.random.set_rng(np.random.RandomState(args.seed))
    x, mask, y = T.imatrix("x"), T.matrix("mask"), T.ivector("y")
    network = build_network(args.hidden, x, mask)
    prediction = lasagne.layers.get_output(network)
    loss = T.nnet.categorical_crossentropy(prediction, y)   # one value per sequence
    params = lasagne.layers.get_all_params(network, trainable=True)
    predict = theano.function([x, mask], prediction.argmax(axis=1))

    compute_grad, apply_mean_grad = lasagne.training.accumulation_functions(
        [x, mask, y], loss, params, lasagne.updates.sgd,
        learning_rate=args.learning_rate)

    # The same window as one padded batch, for the check below: a masked step
    # on it must make the same update as the accumulation cycle.
    window = [digit_sequence(rng) for _ in range(args.window)]
    width = max(len(d) for d, _ in window)
    X = np.zeros((len(window), width), dtype="int32")
    M = np.zeros((len(window), width), dtype=theano.config.floatX)
    for i, (digits, _) in enumerate(window):
        X[i, :len(digits)], M[i, :len(digits)] = digits, 1
    Y = np.array([label for _, label in window], dtype="int32")
    start = [p.get_value() for p in params]
    step_values = theano.function([x, mask, y], [
        p - args.learning_rate * g for p, g in zip(params, T.grad(loss.mean(), params))])
    expected = step_values(*lasagne.utils.pad_to_ladder(X, M), Y)

    for update in range(args.updates):
        if update > 0:
            window = [digit_sequence(rng) for _ in range(args.window)]
        for digits, label in window:
            xi, mi = padded(digits)
            compute_grad(xi, mi, np.array([label], dtype="int32"),
                         np.array([1.0 / args.window], dtype=theano.config.floatX))
        apply_mean_grad()
        if update == 0:
            difference = max(float(np.abs(np.asarray(p.get_value()) - e).max())
                             for p, e in zip(params, expected))
            moved = max(float(np.abs(e - s).max()) for e, s in zip(expected, start))
            print("first update: largest difference from one masked step %.2e "
                  "(the update moved weights by up to %.2e)" % (difference, moved))

    tests = [digit_sequence(rng) for _ in range(200)]
    correct = sum(int(predict(*padded(digits))[0] == label) for digits, label in tests)
    print("accuracy on 200 new sequences: %.3f" % (correct / 200.0))
    return difference, moved, correct / 200.0


if __name__ == "__main__":
    main()
