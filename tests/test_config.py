"""The one definition of a run's settings (``lasagne_lstm.training.config``):
the flags of ``train`` and ``data stats`` built from it, number validation,
the presets, and the ``--resume`` rules."""
import argparse
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from lasagne_lstm import backends
from lasagne_lstm.training import batching, checkpoint, config, engine, models, steps
from lasagne_lstm.training.cli import build_parser, main
from lasagne_lstm.training.cli import train as cli_train
from lasagne_lstm.training.data import corpora

SHARED = config.DATA_STATS_SETTINGS
# a value other than the default for every flag train and data stats share
SHARED_ARGV = ["--task", "classify", "--level", "char", "--no-lowercase",
               "--max-sequences", "7", "--vocab-size", "50", "--min-count", "2",
               "--max-len", "9", "--overflow", "split", "--batch-size", "3",
               "--bucketing", "tokens", "--pad-multiple", "2", "--pad-growth", "1.5",
               "--encoding", "latin-1", "--seed", "11"]
SHARED_VALUES = dict(task="classify", level="char", lowercase=False, max_sequences=7,
                     vocab_size=50, min_count=2, max_len=9, overflow="split",
                     batch_size=3, bucketing="tokens", pad_multiple=2, pad_growth=1.5,
                     encoding="latin-1", seed=11)


def _subcommand_parser(*names):
    parser = build_parser()
    for name in names:
        subparsers = next(a for a in parser._actions
                          if isinstance(a, argparse._SubParsersAction))
        parser = subparsers.choices[name]
    return parser


def _shown_action(parser, dest):
    """The argparse action of ``dest`` that --help shows (not a hidden alias)."""
    matches = [a for a in parser._actions if a.dest == dest and a.help != argparse.SUPPRESS]
    assert len(matches) == 1, dest
    return matches[0]


def _parse(*argv):
    return build_parser().parse_args(list(argv))


def _one_line_error(capsys, argv, *needles):
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, err)
    return lines[0]


# -- the definition and what is derived from it --------------------------------
def test_engine_uses_the_definition():
    assert engine.DEFAULTS is config.DEFAULTS
    assert engine.MODEL_KEYS is config.MODEL_KEYS
    assert engine.SCHEDULES is config.SCHEDULES
    assert len(config.BY_NAME) == len(config.SETTINGS)  # names are unique
    assert set(config.DEFAULTS) == {s.name for s in config.SETTINGS if s.in_config}
    assert {s.group for s in config.SETTINGS} == set(config.GROUPS)
    assert set(config.MODEL_KEYS) <= set(config.DEFAULTS)
    assert config.DEFAULTS["num_steps"] == 35
    assert config.RESUMABLE == ("lr_schedule", "lr_decay", "lr_decay_start", "patience",
                                "epochs", "max_steps", "backend", "distributed",
                                "check_every", "checkpoint", "overwrite", "save_every",
                                "log", "quiet")
    # command-line only: never part of a checkpoint's configuration
    assert "overwrite" not in config.DEFAULTS and "checkpoint" not in config.DEFAULTS
    # how many processes train is a launch setting, not the run's
    assert "distributed" not in config.DEFAULTS


def test_choices_match_the_modules_that_implement_them():
    # written out in config.py so that building the parser imports no PyTensor code
    assert config.OPTIMIZER_NAMES == tuple(steps.OPTIMIZERS)
    assert config.WEIGHTINGS == steps.WEIGHTINGS
    assert config.MODES == steps.MODES
    assert config.BUCKETING_STRATEGIES == batching.STRATEGIES
    assert config.OVERFLOW_ACTIONS == batching.OVERFLOW
    assert config.CELLS == models.CELLS
    assert config.BY_NAME["backend"].choices == backends.BACKENDS
    assert set(corpora.TASKS) < set(config.TASKS)  # plus "stream"


def test_every_default_passes_its_own_validation():
    for setting in config.SETTINGS:
        value = setting.default
        if value is None or setting.is_switch:
            continue
        if setting.choices is not None:
            assert value in setting.choices, setting.name
        else:
            assert setting.parse(str(value)) == value, setting.name


# -- train and data stats share their flags --------------------------------------
def test_shared_flags_are_the_same_flags():
    train = _subcommand_parser("train")
    stats = _subcommand_parser("data", "stats")
    assert {s.name for s in SHARED} == {s.name for s in config.SETTINGS
                                        if s.group == "data"}
    for setting in SHARED:
        a, b = _shown_action(train, setting.name), _shown_action(stats, setting.name)
        assert a.option_strings == b.option_strings, setting.name
        assert (type(a), a.type, a.choices, a.default) == (type(b), b.type, b.choices,
                                                           b.default), setting.name
        if not setting.positional:  # the corpus is optional in train only
            assert a.help == b.help == setting.help_text().replace("%", "%%")
            assert "(default: " in a.help


def test_shared_flags_parse_to_the_same_settings():
    assert set(SHARED_VALUES) == {s.name for s in SHARED} - {"corpus"}
    train = _parse("train", "c.txt", *SHARED_ARGV)
    stats = _parse("data", "stats", "c.txt", *SHARED_ARGV)
    expected = dict(SHARED_VALUES, corpus="c.txt")
    assert config.given_settings(stats, SHARED) == expected
    assert config.given_settings(train) == expected
    # nothing given: both come to the definition's defaults
    train = config.resolve(config.given_settings(_parse("train", "c.txt")))
    stats = config.resolve(config.given_settings(_parse("data", "stats", "c.txt"), SHARED))
    for setting in SHARED:
        expected = "c.txt" if setting.name == "corpus" else setting.default
        assert train[setting.name] == stats[setting.name] == expected, setting.name
    assert config.resolve(config.given_settings(_parse("train"))) == config.DEFAULTS


def test_old_spellings_still_work():
    for command in (("train",), ("data", "stats", "c.txt")):
        assert config.given_settings(_parse(*command, "--max-vocab", "99"))["vocab_size"] == 99
        assert config.given_settings(_parse(*command, "--lowercase"))["lowercase"] is True
    given = config.given_settings(_parse("train", "--tie-embeddings", "--no-bidirectional",
                                         "--float", "float64"))
    assert given == dict(tie_embeddings=True, bidirectional=False, float_type="float64")
    assert _parse("train", "--quiet").quiet is True


# -- numbers -------------------------------------------------------------------
@pytest.mark.parametrize("argv, flag", [
    (["train", "--learning-rate", "inf"], "--learning-rate"),
    (["train", "--learning-rate", "nan"], "--learning-rate"),
    (["train", "--learning-rate=-inf"], "--learning-rate"),
    (["train", "--dropout", "nan"], "--dropout"),
    (["train", "--grad-clipping", "inf"], "--grad-clipping"),
    (["train", "--lr-decay", "NaN"], "--lr-decay"),
    (["train", "--max-grad-norm", "Infinity"], "--max-grad-norm"),
    (["data", "stats", "c.txt", "--pad-growth", "inf"], "--pad-growth"),
    (["data", "stats", "c.txt", "--pad-growth", "nan"], "--pad-growth"),
])
def test_nan_and_inf_are_refused_in_one_line(capsys, argv, flag):
    _one_line_error(capsys, argv, flag + " must be a finite number")


@pytest.mark.parametrize("argv, message", [
    (["train", "--batch-size", "0"], "--batch-size must be positive, got 0"),
    (["data", "stats", "c.txt", "--batch-size", "0"], "--batch-size must be positive, got 0"),
    (["train", "--vocab-size", "4"], "--vocab-size must be at least 5, got 4"),
    (["train", "--dropout", "1"], "--dropout must be in [0, 1), got 1"),
    (["train", "--seed", "-1"], "--seed must be in [0, 4294967296), got -1"),
    (["train", "--hidden", "2.5"], "'2.5' is not an integer"),
    (["train", "--learning-rate", "fast"], "'fast' is not a number"),
    (["train", "--preset", "zaremba-huge"], "invalid choice: 'zaremba-huge'"),
])
def test_out_of_range_is_one_line(capsys, argv, message):
    _one_line_error(capsys, argv, message, "see lasagne-lstm ")


def test_number_parser():
    parse = config.number_parser(float, 0, exclusive=True)
    assert parse("0.5") == 0.5 and parse("1e3") == 1000.0
    for text in ("0", "-1", "inf", "nan", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)
    assert config.number_parser(int, 1, below=4)("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match=r"in \[1, 4\), got 4"):
        config.number_parser(int, 1, below=4)("4")


# -- presets -------------------------------------------------------------------
# Zaremba, Sutskever & Vinyals (2014), section 4.1, written out independently
PAPER = {
    "zaremba-small": dict(hidden=200, num_steps=20, dropout=0.0, init_range=0.1,
                          epochs=13, lr_decay=0.5, full_rate_epochs=4, max_grad_norm=5),
    "zaremba-medium": dict(hidden=650, num_steps=35, dropout=0.5, init_range=0.05,
                           epochs=39, lr_decay=1 / 1.2, full_rate_epochs=6,
                           max_grad_norm=5),
    "zaremba-large": dict(hidden=1500, num_steps=35, dropout=0.65, init_range=0.04,
                          epochs=55, lr_decay=1 / 1.15, full_rate_epochs=14,
                          max_grad_norm=10),
}


@pytest.mark.parametrize("name", sorted(PAPER))
def test_presets_set_the_papers_values(name):
    paper = dict(PAPER[name])
    full_rate_epochs = paper.pop("full_rate_epochs")
    settings = config.apply_preset(name, {})
    for key, value in dict(paper, embedding=paper["hidden"], task="stream", layers=2,
                           vocab_size=10000, optimizer="sgd", learning_rate=1.0,
                           lr_schedule="decay", grad_clipping=0, cell="lstm",
                           batch_size=20, tie_embeddings=False).items():
        assert settings[key] == pytest.approx(value), key
    # "lr 1 for N epochs, then multiplied by the decay after each epoch"
    schedule = engine.LearningRateSchedule(settings["lr_schedule"], settings["lr_decay"],
                                           settings["lr_decay_start"])
    lr, rates = settings["learning_rate"], []
    for epoch in range(full_rate_epochs + 3):
        rates.append(lr)  # the rate epoch + 1 trains with
        lr = schedule.end_epoch(epoch, None, lr)
    d = paper["lr_decay"]
    assert rates == pytest.approx([1.0] * full_rate_epochs + [d, d * d, d ** 3])
    # every value is one the command line accepts
    for key, value in settings.items():
        setting = config.BY_NAME[key]
        if setting.choices is not None:
            assert value in setting.choices, key
        elif not setting.is_switch:
            assert setting.parse(str(value)) == value, key


def test_flags_override_the_preset():
    args = _parse("train", "--preset", "zaremba-medium", "--hidden", "100",
                  "--no-lowercase", "--epochs", "2")
    settings = cli_train._requested_settings(args)
    assert settings["hidden"] == 100 and settings["epochs"] == 2
    assert settings["lowercase"] is False
    assert settings["embedding"] == 650 and settings["dropout"] == 0.5
    assert settings["task"] == "stream" and settings["num_steps"] == 35
    resolved = config.resolve(settings)
    assert resolved["seed"] == config.DEFAULTS["seed"]
    with pytest.raises(ValueError, match="zaremba-small"):
        config.apply_preset("zaremba", {})


# -- help ----------------------------------------------------------------------
def test_train_help_explains_itself(capsys):
    assert main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    for group in config.GROUPS:
        assert "\n%s:\n" % group in text
    assert "--max-sequences N" in text and "(default: 20000)" in text
    assert "--learning-rate X" in text and "usual one" in text
    resume_paragraph = " ".join(text[text.index("--resume: every"):].split())
    for name in config.RESUMABLE:
        assert config.BY_NAME[name].flag in resume_paragraph
    for name, (valid, test) in config.PRESET_PAPER_PERPLEXITIES.items():
        assert name in text and "%.1f" % valid in text and "%.1f" % test in text
    preset_help = config.BY_NAME["preset"].help
    assert "120.7" in preset_help and "78.4" in preset_help


def test_building_the_parser_imports_no_engine():
    code = ("import sys\n"
            "from lasagne_lstm.training.cli import build_parser\n"
            "build_parser()\n"
            "heavy = [m for m in ('lasagne_lstm.training.engine', "
            "'lasagne_lstm.training.models', 'jax') if m in sys.modules]\n"
            "print(heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# -- --resume ------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(corpus path, checkpoint path) of a one-update run of a tiny model."""
    folder = tmp_path_factory.mktemp("resume")
    words = ["the cat", "a dog", "sees", "likes", "the ball", "some bread"]
    rng = np.random.RandomState(0)
    corpus = folder / "toy.txt"
    corpus.write_text("\n".join("%s %s %s ." % (words[rng.randint(2)], words[2 + rng.randint(2)],
                                                words[4 + rng.randint(2)])
                                for _ in range(120)) + "\n", encoding="utf-8")
    path = folder / "run.npz"
    engine.Run(dict(corpus=str(corpus), backend="fast_compile", float_type="float64",
                    embedding=4, hidden=6, batch_size=8, max_sequences=0, max_steps=1,
                    optimizer="adam", learning_rate=0.01, seed=1),
               progress=False).fit(str(path))
    return corpus, path


@pytest.fixture
def resumable(trained, tmp_path):
    """A copy of the module's checkpoint, free to be changed."""
    path = tmp_path / "copy.npz"
    shutil.copyfile(trained[1], path)
    return str(path)


def test_resume_with_a_different_setting_is_one_line(capsys, trained, resumable):
    before = open(resumable, "rb").read()
    line = _one_line_error(capsys, ["train", "--resume", resumable, "--hidden", "7",
                                    "--optimizer", "sgd", "--embedding", "4", "--epochs", "3"],
                           "lasagne-lstm train: error: ", "--hidden 7 (the checkpoint's: 6)",
                           "--optimizer sgd (the checkpoint's: adam)")
    assert "--embedding 4" not in line and "--epochs 3" not in line  # same, resumable
    _one_line_error(capsys, ["train", "other.txt", "--resume", resumable],
                    "CORPUS other.txt (the checkpoint's: %s)" % trained[0])
    _one_line_error(capsys, ["train", "--resume", resumable, "--preset", "zaremba-small"],
                    "--task stream (the checkpoint's: lm)", "--layers 2")
    assert open(resumable, "rb").read() == before
    assert checkpoint.load(resumable).meta["step"] == 1


def test_resume_without_checkpoint_saves_into_the_resumed_file(capsys, trained, resumable):
    corpus = os.path.relpath(trained[0])  # the same corpus, spelled differently
    assert main(["train", corpus, "--resume", resumable, "--hidden", "6", "--max-steps", "2",
                 "--lr-schedule", "decay", "--backend", "fast_compile", "--quiet"]) == 0
    assert "checkpoint: %s (update 2)" % resumable in capsys.readouterr().out
    meta = checkpoint.load(resumable).meta
    assert meta["step"] == 2
    assert meta["config"]["lr_schedule"] == "decay" and meta["config"]["max_steps"] == 2


def test_resume_conflicts_of_an_older_checkpoint():
    saved = dict(config.DEFAULTS, hidden=12)
    del saved["num_steps"]  # written before the setting existed: its default
    assert config.resume_conflicts(dict(hidden=12, num_steps=35, epochs=9), saved) == []
    [(setting, wanted, had)] = config.resume_conflicts(dict(num_steps=20, epochs=9), saved)
    assert (setting.name, wanted, had) == ("num_steps", 20, 35)
