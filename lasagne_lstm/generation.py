"""Sampling text from a language-model checkpoint."""
import numpy as np
import pytensor

from . import backends, checkpoint
from .data import Vocabulary, tokenize
from .layers import get_output
from .models import build_model

#: Tokens of context fed back to the model for each sampled token.
CONTEXT = 200


def load_model(path):
    """Rebuild the model and vocabulary stored in a checkpoint (no corpus needed)."""
    saved = checkpoint.load(path)
    meta = saved.meta
    if "model_config" not in meta or "vocab" not in meta:
        raise checkpoint.CheckpointError("%s holds no model description" % path)
    pytensor.config.floatX = meta["config"].get("float_type", "float32")
    model = build_model(meta["model_config"], masked=False)
    checkpoint.check_params_match(saved, model.params)
    names = list(model.params)
    checkpoint.set_values([model.params[n] for n in names],
                          [saved.params[n] for n in names], "parameter")
    return model, Vocabulary.from_dict(meta["vocab"]), meta["config"]


def sample(path, prime="", length=50, temperature=1.0, seed=0):
    """Sample ``length`` tokens after ``prime`` and return the text.

    Each step feeds the last :data:`CONTEXT` tokens (starting from the
    begin-of-sequence token) through the model and draws the next token from
    the softmax at ``temperature``; an end-of-sequence token starts a new line.
    """
    model, vocab, config = load_model(path)
    if model.task != "lm":
        raise checkpoint.CheckpointError("%s is a classifier; generate needs a "
                                         "language model" % path)
    backend = config.get("backend", backends.DEFAULT_BACKEND)
    if backends.needs_static_shapes(backend):
        backend = backends.DEFAULT_BACKEND  # one compile for every context length
    X = model.l_in.input_var
    logits = get_output(model.l_out, {model.l_in: X}, deterministic=True)
    next_logits = pytensor.function([X], logits[-1], mode=backends.get_mode(backend))
    rng = np.random.RandomState(seed)
    tokens = tokenize(prime, level=config["level"],
                           lowercase=config.get("lowercase", False)) if prime else []
    ids = [vocab.bos_id] + [int(i) for i in vocab.encode(tokens)]
    out = []
    for _ in range(length):
        z = next_logits(np.asarray([ids[-CONTEXT:]], dtype="int32")).astype(float)
        z[[vocab.pad_id, vocab.bos_id]] = -np.inf  # never valid next tokens
        z = z / temperature
        p = np.exp(z - z.max())
        p /= p.sum()
        token = int(rng.choice(len(p), p=p))
        if token == vocab.eos_id:
            out.append("\n")
            ids = [vocab.bos_id]
            continue
        ids.append(token)
        out.append(token)
    return _render(vocab, tokens, out)


def _render(vocab, prime_tokens, sampled):
    lines, current = [], list(prime_tokens)
    for item in sampled:
        if item == "\n":
            lines.append(vocab.detokenize(current))
            current = []
        else:
            current.extend(vocab.decode([item], skip_special=False))
    lines.append(vocab.detokenize(current))
    return "\n".join(line for line in lines if line)
