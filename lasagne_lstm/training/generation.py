"""Sampling text from a language-model checkpoint."""
import numpy as np
import pytensor

from .. import backends
from . import checkpoint
from .data import Vocabulary, tokenize
from ..layers import get_output
from .models import build_model
from ..theano import function
from .steps import symbolic_inputs

#: Tokens of context fed back to the model for each sampled token. The
#: context is padded to this fixed length (and masked), so one compiled
#: function serves every step, on every backend.
CONTEXT = 100


def load_model(path, masked=True):
    """Rebuild the model and vocabulary stored in a checkpoint (no corpus needed)."""
    saved = checkpoint.load(path)
    meta = saved.meta
    if ("model_config" not in meta or "vocab" not in meta
            or not isinstance(meta.get("config"), dict)):
        raise checkpoint.CheckpointError("%s holds no model description" % path)
    try:
        vocab = Vocabulary.from_dict(meta["vocab"])
    except ValueError as exc:
        raise checkpoint.CheckpointError("%s holds no usable vocabulary: %s"
                                         % (path, exc)) from None
    pytensor.config.floatX = meta["config"].get("float_type", "float32")
    model_config = dict(meta["model_config"])
    # A stream model starts each stream from zero states; the same network
    # without state inputs has zero initial-state parameters in their place.
    stateful = model_config.pop("stateful", False)
    model = build_model(model_config, masked=masked)
    zero_states = {}
    if stateful:
        zero_states = {name: p for name, p in model.params.items()
                       if name.endswith((".hid_init", ".cell_init"))}
        for p in zero_states.values():
            p.set_value(np.zeros_like(p.get_value()))
    _load_params(saved, model, skip=zero_states)
    return model, vocab, meta["config"]


def _load_params(saved, model, skip=()):
    """Set the model's parameters (all but ``skip``) from a checkpoint."""
    params = {name: p for name, p in model.params.items() if name not in skip}
    checkpoint.check_params_match(saved, params)
    names = list(params)
    checkpoint.set_values([params[n] for n in names],
                          [saved.params[n] for n in names], "parameter")


def sample(path, prime="", length=50, temperature=1.0, seed=0, backend=None):
    """Sample ``length`` tokens after ``prime`` and return the text.

    Each step feeds the last :data:`CONTEXT` tokens (starting from the
    begin-of-sequence token) through the model and draws the next token from
    the softmax at ``temperature``; an end-of-sequence token starts a new line.
    """
    from .engine import check_backend
    model, vocab, config = load_model(path)
    if model.task != "lm":
        raise checkpoint.CheckpointError("%s is a classifier; generate needs a "
                                         "language model" % path)
    backend = backend or config.get("backend", backends.DEFAULT_BACKEND)
    check_backend(backend)

    X, M, _ = symbolic_inputs("lm", True)
    logits = get_output(model.l_out, {model.l_in: X, model.l_mask: M}, deterministic=True)
    all_logits = function([X, M], logits, name="next_token_logits", lazy=True,
                          backend=backend)
    rng = np.random.RandomState(seed)
    tokens = tokenize(prime, level=config["level"],
                      lowercase=config.get("lowercase", False)) if prime else []
    ids = [vocab.bos_id] + [int(i) for i in vocab.encode(tokens)]
    window = np.full((1, CONTEXT), vocab.pad_id, dtype="int32")
    mask = np.zeros((1, CONTEXT), dtype=pytensor.config.floatX)
    out = []
    for _ in range(length):
        context = ids[-CONTEXT:]
        window[0, :len(context)] = context
        mask[0, :] = 0
        mask[0, :len(context)] = 1
        z = np.array(all_logits(window, mask)[len(context) - 1], dtype=float)
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
