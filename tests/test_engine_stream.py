"""Stream training in the engine and the CLI (``--task stream``, the Zaremba
presets): it learns, a resumed run continues the stream with its carried
state and ends on the uninterrupted run's values, and a stream checkpoint
evaluates and generates."""
import numpy as np
import pytest

from lasagne_lstm.training import checkpoint
from lasagne_lstm.training.cli import main
from lasagne_lstm.training.data import lm_stream, stream_num_windows
from lasagne_lstm.training.engine import Run
from lasagne_lstm.training.generation import sample

SUBJECTS = ["the cat", "a dog", "my bird", "the old man"]
VERBS = ["sees", "likes", "wants"]
OBJECTS = ["the ball", "a red hat", "some bread"]


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    rng = np.random.RandomState(1)
    lines = ["%s %s %s ." % (SUBJECTS[rng.randint(4)], VERBS[rng.randint(3)],
                             OBJECTS[rng.randint(3)]) for _ in range(300)]
    path = tmp_path_factory.mktemp("stream") / "toy.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _config(corpus, **kwargs):
    config = dict(corpus=corpus, task="stream", backend="fast_compile",
                  float_type="float64", embedding=8, hidden=8, layers=2,
                  batch_size=4, num_steps=5, max_sequences=0, optimizer="sgd",
                  learning_rate=1.0, max_grad_norm=5.0, init_range=0.1,
                  grad_clipping=0.0, epochs=2, seed=2)
    config.update(kwargs)
    return config


def _params(run):
    return {k: np.array(v.get_value()) for k, v in run.model.params.items()}


def test_stream_run_learns_and_reads_every_window(corpus_file):
    run = Run(_config(corpus_file, optimizer="adam", learning_rate=0.02), progress=False)
    assert run.model.config["stateful"] and not run.model.masked
    before = run.evaluate("valid")["perplexity"]
    history = run.fit()
    windows = stream_num_windows(len(lm_stream(run.vocab, run.corpus.train)), 4, 5)
    assert run.step == 2 * windows
    assert history[-1]["tokens"] == windows * 4 * 5
    assert history[-1]["valid_perplexity"] < 0.5 * before


def test_stream_resume_mid_epoch_equals_uninterrupted(corpus_file, tmp_path):
    whole = Run(_config(corpus_file, max_steps=25), progress=False)
    whole.fit()
    path = str(tmp_path / "stream.npz")
    first = Run(_config(corpus_file, max_steps=11), progress=False)
    first.fit(path)
    saved = checkpoint.load(path)
    # two LSTM layers: hidden and cell state of each, for the 4 stream rows
    assert len(saved.carried_state) == 4
    assert all(s.shape == (4, 8) and np.abs(s).max() > 0 for s in saved.carried_state)
    resumed = Run(dict(max_steps=25), resume=path, progress=False)
    resumed.fit()
    a, b = _params(whole), _params(resumed)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    # the carried state matters: resuming from zero states ends elsewhere
    zeroed = Run(dict(max_steps=25), resume=path, progress=False)
    zeroed.feed.restore_carried_state([np.zeros_like(s) for s in saved.carried_state])
    zeroed.fit()
    assert max(np.abs(a[n] - zeroed.model.params[n].get_value()).max() for n in a) > 1e-9


def test_cli_preset_trains_resumes_evaluates_and_generates(corpus_file, tmp_path, capsys):
    path = str(tmp_path / "zaremba.npz")
    small = ["--backend", "fast_compile", "--float", "float64", "--hidden", "6",
             "--embedding", "6", "--num-steps", "4", "--batch-size", "3", "--quiet"]
    assert main(["train", corpus_file, "--preset", "zaremba-small", "--max-steps", "3",
                 "--checkpoint", path] + small) == 0
    config = checkpoint.load(path).meta["config"]
    assert (config["task"], config["layers"], config["optimizer"], config["init_range"],
            config["max_grad_norm"]) == ("stream", 2, "sgd", 0.1, 5.0)
    assert main(["train", "--resume", path, "--max-steps", "5", "--quiet"]) == 0
    assert checkpoint.load(path).meta["step"] == 5
    capsys.readouterr()
    assert main(["evaluate", path]) == 0
    assert "valid perplexity" in capsys.readouterr().out
    text = sample(path, prime="the cat", length=6, seed=1)
    assert text.startswith("the cat")


def test_stream_refuses_accumulation(corpus_file, capsys):
    assert main(["train", corpus_file, "--task", "stream", "--mode", "accumulate",
                 "--backend", "fast_compile", "--hidden", "4", "--embedding", "4",
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--mode accumulate does not apply" in err and len(err.splitlines()) == 1
