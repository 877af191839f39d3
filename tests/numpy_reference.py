"""NumPy references shared by the tests: the LSTM equations one time step
at a time, masks, and reading a layer's parameters."""
import numpy as np

from lasagne_lstm.layers import InputLayer

LSTM_GATES = ("ingate", "forgetgate", "cell", "outgate")


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def make_mask(lengths, t):
    return (np.arange(t)[None, :] < np.asarray(lengths)[:, None]).astype(float)


def _order(t, backwards):
    return list(range(t - 1, -1, -1)) if backwards else list(range(t))


def _init_state(value, n, u):
    if value is None:
        return np.zeros((n, u))
    return np.broadcast_to(value, (n, u)).copy()


def np_lstm(x, P, mask=None, h0=None, c0=None, peepholes=True,
            backwards=False, only_final=False):
    """Graves-style LSTM, one time step at a time; P maps param names."""
    n, t = x.shape[:2]
    x = x.reshape(n, t, -1)
    u = P["W_hid_to_ingate"].shape[0]
    h, c = _init_state(h0, n, u), _init_state(c0, n, u)
    out = np.zeros((n, t, u))
    order = _order(t, backwards)
    for step in order:
        xt = x[:, step]
        a = {g: xt @ P["W_in_to_" + g] + h @ P["W_hid_to_" + g] + P["b_" + g]
             for g in LSTM_GATES}
        if peepholes:
            a["ingate"] = a["ingate"] + c * P["W_cell_to_ingate"]
            a["forgetgate"] = a["forgetgate"] + c * P["W_cell_to_forgetgate"]
        i, f = sigmoid(a["ingate"]), sigmoid(a["forgetgate"])
        c_new = f * c + i * np.tanh(a["cell"])
        o = a["outgate"]
        if peepholes:
            o = o + c_new * P["W_cell_to_outgate"]
        h_new = sigmoid(o) * np.tanh(c_new)
        if mask is not None:
            keep = mask[:, step, None] != 0
            c, h = np.where(keep, c_new, c), np.where(keep, h_new, h)
        else:
            c, h = c_new, h_new
        out[:, step] = h
    return out[:, order[-1]] if only_final else out


def lstm_names(peepholes=True, inits=True):
    names = []
    for g in LSTM_GATES:
        names += ["W_in_to_" + g, "W_hid_to_" + g, "b_" + g]
    if peepholes:
        names += ["W_cell_to_ingate", "W_cell_to_forgetgate",
                  "W_cell_to_outgate"]
    if inits:
        names += ["cell_init", "hid_init"]
    return names


def values(layer, names):
    return {n: getattr(layer, n).get_value() for n in names
            if hasattr(layer, n) and not isinstance(getattr(layer, n),
                                                     InputLayer)}


def write_word_corpus(path, seed, words, lines, min_words, max_words):
    """Write a toy corpus of ``lines`` sentences, each ``min_words`` to
    ``max_words - 1`` words drawn from ``words`` and ended by " .", seeded."""
    rng = np.random.RandomState(seed)
    vocabulary = words.split()
    text = [" ".join(rng.choice(vocabulary, size=rng.randint(min_words, max_words))) + " ."
            for _ in range(lines)]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return str(path)


def cli_command():
    """The ``lasagne-lstm`` command of the running Python's environment (the
    installed script, or the module run through this interpreter)."""
    import pathlib
    import sys
    script = pathlib.Path(sys.executable).with_name("lasagne-lstm")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from lasagne_lstm.training.cli import "
                                  "main; sys.exit(main())"]
