"""The training loop, checkpoints and the train/evaluate/generate commands, on a
small synthetic corpus written to a temporary folder."""
import json

import numpy as np
import pytest

from lasagne_lstm.training import checkpoint
from lasagne_lstm.training.cli import main
from lasagne_lstm.training.engine import LearningRateSchedule, Run, TrainingDiverged
from lasagne_lstm.training.generation import sample

SUBJECTS = ["the cat", "a dog", "my bird", "the old man", "her child"]
VERBS = ["sees", "likes", "wants", "finds"]
OBJECTS = ["the ball", "a red hat", "the green tree", "some bread"]


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    rng = np.random.RandomState(0)
    lines = ["%s %s %s ." % (SUBJECTS[rng.randint(5)], VERBS[rng.randint(4)],
                             OBJECTS[rng.randint(4)]) for _ in range(400)]
    path = tmp_path_factory.mktemp("corpus") / "toy.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _config(corpus, **kwargs):
    config = dict(corpus=corpus, backend="fast_compile", float_type="float64",
                  embedding=8, hidden=12, batch_size=16, max_sequences=None,
                  epochs=2, optimizer="adam", learning_rate=0.02, seed=3)
    config.update(kwargs)
    return config


def _params(run):
    return {k: v.get_value().copy() for k, v in run.model.params.items()}


@pytest.mark.parametrize("mode", ["masked", "accumulate"])
def test_training_lowers_validation_perplexity(corpus_file, mode):
    run = Run(_config(corpus_file, mode=mode), progress=False)
    before = run.evaluate("valid")["perplexity"]
    history = run.fit()
    after = history[-1]["valid_perplexity"]
    assert len(history) == 2
    # the toy grammar has about 5 choices per slot: far below the vocabulary
    assert after < 0.5 * before, (before, after)
    assert after < 12


def test_jax_backend_static_shapes_both_modes_agree(corpus_file, tmp_path):
    """JAX compiles one function per (batch, padded length): both modes run,
    learn, and make the same updates (float32, so to 1e-4); sampling works."""
    results = {}
    for mode in ("masked", "accumulate"):
        run = Run(_config(corpus_file, backend="jax", float_type="float32", mode=mode,
                          epochs=1, learning_rate=0.05), progress=False)
        before = run.evaluate("valid")["perplexity"]
        history = run.fit(str(tmp_path / ("%s.npz" % mode)))
        results[mode] = (before, history[-1]["valid_perplexity"], _params(run))
        assert run.steps.compiled_functions > 2  # several shapes, one function each
        # the engine had them compiled ahead of use, in the background
        assert history[-1]["compile_ahead_seconds"] > 0
    (b1, a1, p1), (b2, a2, p2) = results["masked"], results["accumulate"]
    assert a1 < 0.8 * b1
    assert a1 == pytest.approx(a2, rel=1e-4)
    for name in p1:
        np.testing.assert_allclose(p1[name], p2[name], rtol=1e-3, atol=1e-4, err_msg=name)
    text = sample(str(tmp_path / "masked.npz"), prime="the cat", length=8, seed=2)
    assert text.startswith("the cat") and len(text.split()) > 2


def test_interrupted_write_keeps_previous_checkpoint(corpus_file, tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    run = Run(_config(corpus_file, max_steps=2), progress=False)
    run.fit(str(path))
    good = checkpoint.load(path).params

    def crash(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(checkpoint.CheckpointError, match="cannot write checkpoint .*disk full"):
        run.save(str(path))
    monkeypatch.undo()
    reloaded = checkpoint.load(path)
    assert reloaded.meta["step"] == 2
    for name, value in good.items():
        np.testing.assert_array_equal(reloaded.params[name], value)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]  # no temp left


def test_nan_loss_stops_and_keeps_last_good_checkpoint(corpus_file, tmp_path):
    path = str(tmp_path / "ckpt.npz")
    run = Run(_config(corpus_file, save_every=1, max_steps=3), progress=False)
    run.fit(path)
    poisoned = Run(dict(max_steps=6), resume=path, progress=False)
    bias = poisoned.model.params["output.b"]
    bias.set_value(np.full_like(bias.get_value(), np.nan))
    with pytest.raises(TrainingDiverged, match="nan"):
        poisoned.fit(path)
    saved = checkpoint.load(path)
    assert saved.meta["step"] == 3
    assert np.isfinite(saved.params["output.b"]).all()


def test_checkpoint_contents(corpus_file, tmp_path):
    path = str(tmp_path / "ckpt.npz")
    run = Run(_config(corpus_file, max_steps=2, optimizer="adam"), progress=False)
    run.fit(path)
    saved = checkpoint.load(path)
    assert set(saved.params) == set(run.model.params)
    assert "lstm0.W_in_to_ingate" in saved.params and "embedding.W" in saved.params
    # adam: two moments per trainable parameter, then the step count
    assert len(saved.optimizer_state) == 2 * len(run.steps.params) + 1
    assert saved.optimizer_state[-1] == 2
    meta = saved.meta
    assert meta["step"] == 2 and meta["config"]["hidden"] == 12
    assert meta["vocab"] == run.vocab.to_dict()


def test_architecture_and_vocabulary_mismatch_are_clear_errors(corpus_file, tmp_path):
    path = str(tmp_path / "ckpt.npz")
    Run(_config(corpus_file, max_steps=1), progress=False).fit(path)
    other = Run(_config(corpus_file, hidden=7, max_steps=1), progress=False)
    with pytest.raises(checkpoint.CheckpointError, match="shape"):
        checkpoint.check_params_match(checkpoint.load(path), other.model.params)
    saved = checkpoint.load(path)
    vocab = dict(saved.meta["vocab"])
    with pytest.raises(ValueError):
        other.vocab.check_matches(dict(vocab, tokens=vocab["tokens"][:-1]))


def test_learning_rate_schedules():
    decay = LearningRateSchedule("decay", factor=0.5, start=4)
    lrs, lr = [], 1.0
    for epoch in range(6):
        lr = decay.end_epoch(epoch, None, lr)
        lrs.append(lr)
    # Zaremba et al.: constant for 4 epochs, then halved after each epoch
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.25, 0.125]
    plateau = LearningRateSchedule("plateau", factor=0.1, patience=2)
    lrs, lr = [], 1.0
    for epoch, loss in enumerate([5.0, 4.0, 4.5, 4.2, 3.0, 3.5]):
        lr = plateau.end_epoch(epoch, loss, lr)
        lrs.append(lr)
    assert lrs == pytest.approx([1.0, 1.0, 1.0, 0.1, 0.1, 0.1])
    with pytest.raises(ValueError):
        LearningRateSchedule("cosine")


def test_cli_train_evaluate_generate(corpus_file, tmp_path, capsys):
    path = str(tmp_path / "lm.npz")
    log = tmp_path / "log.jsonl"
    common = ["--backend", "fast_compile", "--float", "float64", "--embedding", "8",
              "--hidden", "12", "--max-sequences", "0", "--quiet"]
    assert main(["train", corpus_file, "--max-steps", "3", "--checkpoint", path,
                 "--log", str(log)] + common) == 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["step"] for r in records if r["event"] == "update"] == [1, 2, 3]
    for key in ("loss", "perplexity", "tokens", "padding_fraction", "tokens_per_s",
                "learning_rate", "wall_time"):
        assert key in records[0]
    capsys.readouterr()
    assert main(["evaluate", path, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["perplexity"] > 1 and result["split"] == "valid"
    assert main(["generate", path, "--length", "12", "--prime", "the cat",
                 "--seed", "1"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("the cat")
    assert len(text.split()) > 2


def _exit_code(argv):
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own errors
        return exc.code


@pytest.mark.parametrize("argv, message", [
    (["train", "--batch-size", "0"], "positive"),
    (["train", "--optimizer", "lbfgs"], "invalid choice"),
    (["train", "--dropout", "1.5"], "[0, 1)"),
    (["train", "--mode", "masked", "--micro-batch", "4"], "--mode accumulate"),
    (["evaluate", "missing.npz"], "does not exist"),
])
def test_cli_errors_are_one_line(argv, message, capsys):
    assert _exit_code(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1
    assert "Traceback" not in err


def test_cli_rejects_a_file_that_is_not_a_checkpoint(tmp_path, capsys):
    bogus = tmp_path / "bogus.npz"
    bogus.write_bytes(b"not a zip at all")
    assert main(["generate", str(bogus)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a readable checkpoint" in err and len(err.splitlines()) == 1
