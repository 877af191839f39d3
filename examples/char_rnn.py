"""A character-level text generator in the style of the Lasagne era.

Two stacked LSTMLayers with per-step gradient clipping read ``SEQ_LENGTH``
one-hot characters and predict the next one; ``T.nnet.categorical_crossentropy``
is the loss, adagrad the update rule, and text is generated greedily, one
character at a time. The script body is written as Lasagne scripts were:
only the three import lines below differ from a Theano/Lasagne original.

Run ``python examples/char_rnn.py --help``; the default text is the short
passage below, ``--text FILE`` trains on a file instead.
"""
import argparse
import sys

import numpy as np

import lasagne_lstm as lasagne             # was: import lasagne
import lasagne_lstm.theano as theano       # was: import theano
import lasagne_lstm.theano.tensor as T     # was: import theano.tensor as T

TEXT = (
    "the quick brown fox jumps over the lazy dog. the lazy dog sleeps in the sun. "
    "the fox runs into the woods and the dog does not follow. in the evening the "
    "fox comes back to the edge of the woods and looks at the sleeping dog. "
) * 4

SEQ_LENGTH = 20        # characters the network reads before each prediction
N_HIDDEN = 128         # units of each LSTM layer
LEARNING_RATE = 0.1    # adagrad
GRAD_CLIP = 100        # per-step gradient clipping of the LSTM gates
PRINT_FREQ = 50        # iterations between samples
NUM_ITERATIONS = 1000
BATCH_SIZE = 64


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--text", help="train on this text file (default: a built-in passage)")
    p.add_argument("--iterations", type=int, default=NUM_ITERATIONS,
                   help="training iterations (default: %(default)s)")
    p.add_argument("--hidden", type=int, default=N_HIDDEN,
                   help="units per LSTM layer (default: %(default)s)")
    p.add_argument("--seq-length", type=int, default=SEQ_LENGTH,
                   help="characters of context (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE,
                   help="sequences per update (default: %(default)s)")
    p.add_argument("--print-freq", type=int, default=PRINT_FREQ,
                   help="iterations between samples (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="seed (default: %(default)s)")
    return p.parse_args(argv)


def gen_data(text, char_to_ix, p, batch_size, seq_length):
    """One-hot windows of ``seq_length`` characters starting at ``p``, ``p+1``,
    ..., and the character following each window."""
    vocab_size = len(char_to_ix)
    x = np.zeros((batch_size, seq_length, vocab_size))
    y = np.zeros(batch_size)
    for n in range(batch_size):
        start = (p + n) % (len(text) - seq_length - 1)
        for i in range(seq_length):
            x[n, i, char_to_ix[text[start + i]]] = 1.0
        y[n] = char_to_ix[text[start + seq_length]]
    return x, np.array(y, dtype="int32")


def build_network(vocab_size, n_hidden):
    l_in = lasagne.layers.InputLayer(shape=(None, None, vocab_size))
    l_forward_1 = lasagne.layers.LSTMLayer(
        l_in, n_hidden, grad_clipping=GRAD_CLIP,
        nonlinearity=lasagne.nonlinearities.tanh)
    l_forward_2 = lasagne.layers.LSTMLayer(
        l_forward_1, n_hidden, grad_clipping=GRAD_CLIP,
        nonlinearity=lasagne.nonlinearities.tanh, only_return_final=True)
    l_out = lasagne.layers.DenseLayer(
        l_forward_2, num_units=vocab_size, W=lasagne.init.Normal(),
        nonlinearity=lasagne.nonlinearities.softmax)
    return l_in, l_out


def main(argv=None):
    args = parse_args(argv)
    np.random.seed(args.seed)
    text = TEXT if args.text is None else open(args.text, encoding="utf-8").read()
    chars = sorted(set(text))
    char_to_ix = {ch: i for i, ch in enumerate(chars)}
    vocab_size = len(chars)
    if len(text) <= args.seq_length + 1:
        sys.exit("char_rnn: the text must be longer than --seq-length + 1 characters")

    l_in, l_out = build_network(vocab_size, args.hidden)
    target_values = T.ivector("target_output")
    network_output = lasagne.layers.get_output(l_out)
    cost = T.nnet.categorical_crossentropy(network_output, target_values).mean()
    all_params = lasagne.layers.get_all_params(l_out, trainable=True)
    updates = lasagne.updates.adagrad(cost, all_params, LEARNING_RATE)

    print("Compiling functions ...")
    train = theano.function([l_in.input_var, target_values], cost, updates=updates,
                            allow_input_downcast=True)
    compute_cost = theano.function([l_in.input_var, target_values], cost,
                                   allow_input_downcast=True)
    probs = theano.function([l_in.input_var], network_output, allow_input_downcast=True)

    def try_it_out(seed_text, n=60):
        """Greedy generation: append the most probable next character."""
        x = np.zeros((1, len(seed_text), vocab_size))
        for i, ch in enumerate(seed_text):
            x[0, i, char_to_ix[ch]] = 1.0
        generated = ""
        for _ in range(n):
            ix = int(np.argmax(probs(x).ravel()))
            generated += chars[ix]
            x[:, :-1] = x[:, 1:]
            x[:, -1] = 0.0
            x[0, -1, ix] = 1.0
        return generated

    x_eval, y_eval = gen_data(text, char_to_ix, 0, args.batch_size, args.seq_length)
    first_cost = float(compute_cost(x_eval, y_eval))
    print("Training ... (initial cost %.3f)" % first_cost)
    p = 0
    avg_cost = 0.0
    for it in range(1, args.iterations + 1):
        x, y = gen_data(text, char_to_ix, p, args.batch_size, args.seq_length)
        p += args.seq_length + args.batch_size - 1
        if p + args.batch_size + args.seq_length >= len(text):
            p = 0
        avg_cost += train(x, y)
        if it % args.print_freq == 0:
            seed_text = text[:args.seq_length]
            print("iteration %d: average cost %.3f; %r -> %r" % (
                it, avg_cost / args.print_freq, seed_text, try_it_out(seed_text)))
            avg_cost = 0.0
    final_cost = float(compute_cost(x_eval, y_eval))
    print("final cost %.3f (initial %.3f)" % (final_cost, first_cost))
    return first_cost, final_cost


if __name__ == "__main__":
    main()
