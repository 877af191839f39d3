"""A token vocabulary with reserved ids for padding, unknown, begin and end."""
import collections
import hashlib
import json

import numpy as np

from .tokenize import check_level, detokenize as _detokenize

__all__ = ["Vocabulary", "SPECIAL_TOKENS", "PAD", "UNK", "BOS", "EOS"]

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIAL_TOKENS = (PAD, UNK, BOS, EOS)
_FORMAT = "lasagne_lstm.vocabulary"
_VERSION = 1


class Vocabulary:
    """Maps tokens to ids: ``<pad>`` 0, ``<unk>`` 1, ``<bos>`` 2, ``<eos>`` 3,
    then the regular tokens by decreasing training count (ties by token).

    A token in the text that spells one of the reserved names is never a
    regular entry: ``"<unk>"`` (as in PTB-style text) encodes to ``unk_id``
    and so do the other three, which must not masquerade as padding or
    sequence boundaries.
    """
    pad_id, unk_id, bos_id, eos_id = 0, 1, 2, 3
    specials = SPECIAL_TOKENS

    def __init__(self, tokens, level="word", counts=None):
        check_level(level)
        tokens = list(tokens)
        if tuple(tokens[:len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise ValueError("a vocabulary's first tokens must be %s"
                             % ", ".join(SPECIAL_TOKENS))
        index = {}
        for i, token in enumerate(tokens):
            if not isinstance(token, str):
                raise ValueError("vocabulary token %d is %r, not a string" % (i, token))
            if token in index:
                raise ValueError("vocabulary token %r appears twice (ids %d and %d)"
                                 % (token, index[token], i))
            index[token] = i
        self.level = level
        self.tokens = tokens
        self.index = index
        self.counts = None if counts is None else [int(c) for c in counts]

    # -- construction -----------------------------------------------------
    @classmethod
    def build(cls, token_seqs, min_count=1, max_size=None, level="word"):
        """Vocabulary of ``token_seqs`` (training text only).

        Tokens seen fewer than ``min_count`` times map to ``<unk>``;
        ``max_size`` caps ``len(vocab)``, the four reserved entries included.
        """
        if int(min_count) < 1:
            raise ValueError("min_count must be at least 1, not %r" % (min_count,))
        if max_size is not None and int(max_size) <= len(SPECIAL_TOKENS):
            raise ValueError("max_size must exceed the %d reserved entries, not %r"
                             % (len(SPECIAL_TOKENS), max_size))
        counter = collections.Counter()
        for seq in token_seqs:
            counter.update(seq)
        for special in SPECIAL_TOKENS:
            counter.pop(special, None)
        entries = sorted((item for item in counter.items() if item[1] >= min_count),
                         key=lambda item: (-item[1], item[0]))
        if max_size is not None:
            entries = entries[:int(max_size) - len(SPECIAL_TOKENS)]
        tokens = list(SPECIAL_TOKENS) + [t for t, _ in entries]
        counts = [0] * len(SPECIAL_TOKENS) + [c for _, c in entries]
        return cls(tokens, level=level, counts=counts)

    # -- mapping ------------------------------------------------------------
    def __len__(self):
        return len(self.tokens)

    def __contains__(self, token):
        return token in self.index and self.index[token] >= len(SPECIAL_TOKENS)

    def __repr__(self):
        return "Vocabulary(%d %s tokens, fingerprint %s)" % (
            len(self), self.level, self.fingerprint())

    def token_id(self, token):
        i = self.index.get(token, self.unk_id)
        return i if i >= len(SPECIAL_TOKENS) else self.unk_id

    def encode(self, tokens, add_bos=False, add_eos=False):
        """int32 ids of ``tokens``, unknown ones as ``unk_id``."""
        index, unk, first = self.index, self.unk_id, len(SPECIAL_TOKENS)
        ids = [self.bos_id] if add_bos else []
        for token in tokens:
            i = index.get(token, unk)
            ids.append(i if i >= first else unk)
        if add_eos:
            ids.append(self.eos_id)
        return np.asarray(ids, dtype=np.int32)

    def decode(self, ids, skip_special=True):
        """Tokens of ``ids``; with ``skip_special``, pad/bos/eos are left out
        (``<unk>`` is kept: it stands for a real token)."""
        out = []
        size = len(self.tokens)
        for i in np.asarray(ids).ravel().tolist():
            i = int(i)
            if not 0 <= i < size:
                raise ValueError("id %d is outside this vocabulary of %d tokens" % (i, size))
            if skip_special and i in (self.pad_id, self.bos_id, self.eos_id):
                continue
            out.append(self.tokens[i])
        return out

    def detokenize(self, tokens):
        """Words joined with spaces, characters without."""
        return _detokenize(tokens, self.level)

    # -- persistence ----------------------------------------------------------
    def to_dict(self):
        d = {"format": _FORMAT, "version": _VERSION, "level": self.level,
             "size": len(self), "fingerprint": self.fingerprint(),
             "tokens": list(self.tokens)}
        if self.counts is not None:
            d["counts"] = list(self.counts)
        return d

    @classmethod
    def from_dict(cls, d):
        if not isinstance(d, dict) or d.get("format") != _FORMAT:
            raise ValueError("not a lasagne_lstm vocabulary (no format %r)" % _FORMAT)
        if d.get("version") != _VERSION:
            raise ValueError("vocabulary format version %r is not supported (expected %d)"
                             % (d.get("version"), _VERSION))
        tokens = d.get("tokens")
        if not isinstance(tokens, list):
            raise ValueError("vocabulary has no token list")
        vocab = cls(tokens, level=d.get("level", "word"), counts=d.get("counts"))
        if "fingerprint" in d and d["fingerprint"] != vocab.fingerprint():
            raise ValueError("vocabulary is corrupt: its tokens do not give its "
                             "recorded fingerprint %s" % d["fingerprint"])
        return vocab

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, ensure_ascii=False)
            f.write("\n")

    @classmethod
    def load(cls, path):
        try:
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
        except FileNotFoundError:
            raise ValueError("vocabulary file %s does not exist" % path) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError("vocabulary file %s is not valid JSON: %s" % (path, exc)) from None
        try:
            return cls.from_dict(d)
        except ValueError as exc:
            raise ValueError("%s: %s" % (path, exc)) from None

    # -- identity -------------------------------------------------------------
    def fingerprint(self):
        """Short stable hash of the level and the token list (not the counts)."""
        blob = json.dumps([self.level, self.tokens], ensure_ascii=True,
                          separators=(",", ":")).encode("ascii")
        return hashlib.sha256(blob).hexdigest()[:12]

    def __eq__(self, other):
        return (isinstance(other, Vocabulary) and self.level == other.level
                and self.tokens == other.tokens)

    def __hash__(self):
        return hash(self.fingerprint())

    def check_matches(self, other, what="the checkpoint's vocabulary"):
        """Raise ValueError naming the first difference from ``other``
        (a Vocabulary or its ``to_dict()``); return None when they agree."""
        if isinstance(other, dict):
            other = Vocabulary.from_dict(other)
        if not isinstance(other, Vocabulary):
            raise TypeError("expected a Vocabulary or a dict, not %r" % type(other).__name__)
        if self.level != other.level:
            raise ValueError("vocabulary mismatch: this one is %s-level, %s is %s-level"
                             % (self.level, what, other.level))
        if len(self) != len(other):
            raise ValueError("vocabulary mismatch: this one has %d tokens, %s has %d "
                             "(fingerprints %s vs %s)" % (len(self), what, len(other),
                                                          self.fingerprint(), other.fingerprint()))
        for i, (a, b) in enumerate(zip(self.tokens, other.tokens)):
            if a != b:
                raise ValueError("vocabulary mismatch: id %d is %r here but %r in %s "
                                 "(fingerprints %s vs %s)" % (i, a, b, what,
                                                              self.fingerprint(), other.fingerprint()))
        return None


def lm_sequences(vocab, token_seqs):
    """Language-model id sequences: ``[bos] + ids + [eos]`` for each (int32)."""
    return [vocab.encode(seq, add_bos=True, add_eos=True) for seq in token_seqs]


def task_sequences(vocab, token_seqs, task):
    """Id sequences as a task consumes them: :func:`lm_sequences` for a
    language model ("lm"), plain encodings for a classifier ("classify")."""
    if task == "lm":
        return lm_sequences(vocab, token_seqs)
    return [vocab.encode(seq) for seq in token_seqs]
