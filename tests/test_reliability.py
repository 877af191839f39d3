"""Training that never loses work and reproduces to the bit: what ``train``,
``evaluate`` and the engine refuse instead of silently changing (an existing
checkpoint, an unwritable path, a second writer, changed data, a model too
large for memory, settings that cannot work), the checkpoint lock and the
temporary files of interrupted saves, logs on ``--resume``, SIGINT/SIGTERM
(saved, exit 130/143, resumed to the uninterrupted run's bits), the NaN stop,
user errors against internal ones, and the compile counts of epoch records.

Runs use tiny models on a toy corpus written by the tests; the runs that
train are few and shared (a module fixture), and the signal test runs its
processes side by side."""
import contextlib
import io
import json
import os
import pathlib
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lasagne_lstm import backends
from lasagne_lstm.training import checkpoint, engine, steps
from lasagne_lstm.training.cli import main
from lasagne_lstm.training.data import DataError, load_corpus
from lasagne_lstm.training.data.corpora import fingerprint_differences
from lasagne_lstm.training.errors import SettingsError
from lasagne_lstm.training.models import build_model
from numpy_reference import cli_command

SUBJECTS = ["the cat", "a dog", "my bird", "the old man", "her child"]
VERBS = ["sees", "likes", "wants", "finds"]
OBJECTS = ["the ball", "a red hat", "the green tree", "some bread"]
#: The tiny run of the brief, on fast_compile without dropout (deterministic).
TINY = ["--backend", "fast_compile", "--float", "float64", "--hidden", "8",
        "--embedding", "8", "--batch-size", "8"]


def _toy_lines(n, seed=0):
    rng = np.random.RandomState(seed)
    return ["%s %s %s ." % (SUBJECTS[rng.randint(5)], VERBS[rng.randint(4)],
                            OBJECTS[rng.randint(4)]) for _ in range(n)]


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "toy.txt"
    path.write_text("\n".join(_toy_lines(400)) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def trained(corpus_file, tmp_path_factory):
    """One real run shared by the tests: 9 updates of 7 per epoch (so one
    epoch record), a checkpoint, a log and what the command printed."""
    folder = tmp_path_factory.mktemp("trained")
    ckpt, log = folder / "run.npz", folder / "log.jsonl"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["train", corpus_file, "--max-sequences", "60", "--epochs", "3",
                       "--max-steps", "9", "--checkpoint", str(ckpt), "--log", str(log),
                       "--quiet"] + TINY)
    assert status == 0, err.getvalue()
    return dict(corpus=corpus_file, checkpoint=str(ckpt), log=str(log),
                stdout=out.getvalue())


@pytest.fixture
def ckpt_copy(trained, tmp_path):
    """A copy of the shared checkpoint (and its log), free to be changed."""
    path = tmp_path / "copy.npz"
    shutil.copyfile(trained["checkpoint"], path)
    shutil.copyfile(trained["log"], tmp_path / "log.jsonl")
    return str(path)


def _state(path):
    """Bytes and modification time of a file, to show it was not touched."""
    p = pathlib.Path(path)
    return p.read_bytes(), p.stat().st_mtime_ns


def _one_line(capsys, argv, status=2):
    """Run the command; check its exit status and that stderr is one line
    without a traceback; return that line."""
    assert main(list(argv)) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines()
             if "BLAS" not in line and not line.startswith("corpus ")]  # the run's own
    assert len(lines) == 1, err
    return lines[0]


def _dead_pid():
    """The id of a process that has just ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _write_lock(path, pid, host=None):
    lock = pathlib.Path(str(path) + ".lock")
    lock.write_text(json.dumps({"pid": pid, "host": host or socket.gethostname()}))
    return lock


# -- 1. refusal instead of silent change ---------------------------------------
def test_existing_checkpoint_is_kept_without_overwrite(capsys, trained, ckpt_copy,
                                                       monkeypatch):
    before = _state(ckpt_copy)
    line = _one_line(capsys, ["train", trained["corpus"], "--checkpoint", ckpt_copy,
                              "--max-steps", "1", "--quiet"] + TINY)
    assert line.startswith("lasagne-lstm train: error: %s exists" % ckpt_copy)
    assert "--overwrite" in line and "--resume" in line
    assert _state(ckpt_copy) == before
    assert not os.path.exists(ckpt_copy + ".lock")
    # --overwrite gets past the check (the run itself is a stand-in: no training)
    fitted = []
    monkeypatch.setattr(engine.Run, "fit", lambda run, path: fitted.append(path) or [])
    assert main(["train", trained["corpus"], "--checkpoint", ckpt_copy, "--overwrite",
                 "--max-sequences", "60", "--quiet"] + TINY) == 0
    assert fitted == [ckpt_copy]


@pytest.mark.parametrize("case", ["parent is a file", "path is a directory",
                                  "no permission"])
def test_unwritable_checkpoint_is_refused_before_training(capsys, trained, tmp_path,
                                                          monkeypatch, case):
    if case == "parent is a file":
        target, expected = os.path.join(trained["corpus"], "run.npz"), "is a file, not a folder"
    elif case == "path is a directory":
        target, expected = str(tmp_path), "it is a directory"
    else:
        target, expected = str(tmp_path / "deeper" / "run.npz"), "no permission to write in"
        monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    log = tmp_path / "log.jsonl"
    started = time.perf_counter()
    line = _one_line(capsys, ["train", trained["corpus"], "--checkpoint", target,
                              "--log", str(log), "--quiet"] + TINY)
    assert "cannot write checkpoint %s" % target in line and expected in line
    assert not log.exists()  # refused before the log was opened, let alone training
    assert not (tmp_path / "deeper").exists()
    assert time.perf_counter() - started < 5


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes everywhere")
def test_read_only_folder_is_refused(capsys, trained, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        line = _one_line(capsys, ["train", trained["corpus"], "--checkpoint",
                                  str(folder / "run.npz"), "--quiet"] + TINY)
    finally:
        folder.chmod(0o700)
    assert "no permission to write in" in line


@pytest.mark.parametrize("holder", ["this process", "the parent process"])
def test_live_lock_refuses_a_second_writer(capsys, ckpt_copy, holder):
    pid = os.getpid() if holder == "this process" else os.getppid()
    lock = _write_lock(ckpt_copy, pid)
    before, lock_before = _state(ckpt_copy), lock.read_bytes()
    line = _one_line(capsys, ["train", "--resume", ckpt_copy, "--max-steps", "12",
                              "--quiet"])
    assert "is being written by another run (process %d" % pid in line
    assert _state(ckpt_copy) == before
    assert lock.read_bytes() == lock_before  # someone else's lock is left alone


def test_lock_of_another_host_is_not_taken(capsys, ckpt_copy):
    lock = _write_lock(ckpt_copy, 12345, host="elsewhere.invalid")
    line = _one_line(capsys, ["train", "--resume", ckpt_copy, "--quiet"])
    assert "on host elsewhere.invalid, which cannot be checked" in line
    assert "delete %s" % lock in line


def test_lock_objects_exclude_each_other_and_release(tmp_path):
    path = tmp_path / "run.npz"
    with checkpoint.CheckpointLock(path) as first:
        assert first.held and first.taken_over is None
        holder = json.loads(first.lock_path.read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        with pytest.raises(checkpoint.CheckpointLocked, match="another run"):
            checkpoint.CheckpointLock(path).acquire()
    assert not first.lock_path.exists() and not first.held
    # a stale lock is taken over and says whose it was
    pid = _dead_pid()
    _write_lock(path, pid)
    with checkpoint.CheckpointLock(path) as lock:
        assert lock.taken_over == {"pid": pid, "host": socket.gethostname()}
    assert not lock.lock_path.exists()


def test_lock_is_released_when_the_run_fails(ckpt_copy, monkeypatch):
    """An internal error keeps its traceback (it is not a user mistake) and
    still releases the lock."""
    def broken(run, path):
        assert os.path.exists(ckpt_copy + ".lock")  # held while training
        raise ValueError("a bug inside the engine")
    monkeypatch.setattr(engine.Run, "fit", broken)
    with pytest.raises(ValueError, match="a bug inside the engine"):
        main(["train", "--resume", ckpt_copy, "--quiet"])
    assert not os.path.exists(ckpt_copy + ".lock")


def test_orphan_temporary_files_are_removed_by_the_next_save(tmp_path):
    path = tmp_path / "run.npz"
    dead, alive = _dead_pid(), os.getppid()
    orphans = {pid: tmp_path / (".run.npz.tmp-%d" % pid)
               for pid in (dead, os.getpid(), alive)}
    for orphan in orphans.values():
        orphan.write_bytes(b"PK\x03\x04 half a zip")
    other = tmp_path / (".other.npz.tmp-%d" % dead)
    other.write_bytes(b"not ours")
    checkpoint.save(path, checkpoint.Checkpoint({"w": np.ones(3)}, meta={"step": 1}))
    assert checkpoint.load(path).meta["step"] == 1
    assert not orphans[dead].exists() and not orphans[os.getpid()].exists()
    assert orphans[alive].exists()  # a live process may still be writing it
    assert other.exists()           # another checkpoint's


_SLOW_SAVE = """
import sys, time
import numpy as np
from lasagne_lstm.training import checkpoint
def slow(f, **arrays):
    f.write(b"PK\\x03\\x04 half")
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
np.savez = slow
checkpoint.save(sys.argv[1], checkpoint.Checkpoint({"w": np.zeros(3)}, meta={"step": 99}))
"""


def test_kill_during_a_save_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "run.npz"
    checkpoint.save(path, checkpoint.Checkpoint({"w": np.ones(3)}, meta={"step": 1}))
    before = _state(path)
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_SAVE, str(path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        while proc.stdout.readline().strip() != "writing":
            assert proc.poll() is None
        proc.kill()  # SIGKILL: no handler, no cleanup
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    orphan = tmp_path / (".run.npz.tmp-%d" % proc.pid)
    assert orphan.exists() and _state(path) == before
    assert checkpoint.load(path).meta["step"] == 1
    checkpoint.save(path, checkpoint.Checkpoint({"w": np.ones(3)}, meta={"step": 2}))
    assert not orphan.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]


def test_non_finite_values_are_never_written(tmp_path):
    path = tmp_path / "run.npz"
    checkpoint.save(path, checkpoint.Checkpoint({"w": np.ones(3)}, meta={"step": 1}))
    before = _state(path)
    bad_param = checkpoint.Checkpoint({"w": np.array([1.0, np.nan, 2.0])})
    with pytest.raises(checkpoint.NonFiniteError, match="parameter w holds NaN"):
        checkpoint.save(path, bad_param)
    bad_state = checkpoint.Checkpoint({"w": np.ones(3)},
                                      optimizer_state=[np.ones(3), np.array(np.inf)])
    with pytest.raises(checkpoint.NonFiniteError, match="optimizer state 0001"):
        checkpoint.save(path, bad_state)
    with pytest.raises(checkpoint.NonFiniteError):
        checkpoint.save(tmp_path / "new.npz", bad_param)
    assert _state(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]


# -- 2. the data fingerprint ---------------------------------------------------
def test_fingerprint_tells_data_apart(corpus_file, tmp_path):
    original = load_corpus(corpus_file, max_sequences=60).fingerprint()
    assert original["files"]["count"] == 1
    assert original["files"]["list"][0][1] == os.path.getsize(corpus_file)
    moved = tmp_path / "moved.txt"
    shutil.copyfile(corpus_file, moved)  # same bytes under another name
    assert fingerprint_differences(original, load_corpus(str(moved), max_sequences=60)
                                   .fingerprint()) == []
    with open(moved, "a", encoding="utf-8") as f:
        f.write("the purple cat eats a sandwich .\n")
    changed = fingerprint_differences(original, load_corpus(str(moved), max_sequences=60)
                                      .fingerprint())
    assert len(changed) == 1 and "moved.txt changed" in changed[0]
    other_settings = fingerprint_differences(
        original, load_corpus(corpus_file, max_sequences=50, lowercase=True).fingerprint())
    assert "max_sequences 50 (the checkpoint's: 60)" in other_settings
    assert "lowercase True (the checkpoint's: False)" in other_settings


def test_resume_on_changed_data_is_refused(capsys, trained, tmp_path):
    corpus = tmp_path / "data.txt"
    shutil.copyfile(trained["corpus"], corpus)
    saved = checkpoint.load(trained["checkpoint"])
    saved.meta["config"]["corpus"] = str(corpus)  # the same run, on a copy of its data
    path = tmp_path / "run.npz"
    checkpoint.save(path, saved)
    with open(corpus, "a", encoding="utf-8") as f:
        f.write("the cat sees a dog .\n")
    before = _state(path)
    line = _one_line(capsys, ["train", "--resume", str(path), "--max-steps", "12",
                              "--quiet"])
    assert "%s was trained on other data: data.txt changed" % path in line
    assert "--resume needs the data it was trained on" in line
    assert _state(path) == before and not os.path.exists(str(path) + ".lock")
    # the engine refuses a changed setting of the data as well
    with pytest.raises(DataError, match="max_sequences 50"):
        engine.Run(dict(max_sequences=50), resume=trained["checkpoint"], progress=False)


def test_evaluate_on_another_corpus_warns_with_its_unknown_rate(capsys, trained, tmp_path):
    other = tmp_path / "other.txt"
    # every sentence has a word the checkpoint never saw
    lines = [line.replace(" ", " purple ", 1) for line in _toy_lines(60, seed=5)]
    other.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["evaluate", trained["checkpoint"], str(other), "--json"]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if "warning" in line]
    assert len(warnings) == 1
    # the rate counted here from the checkpoint's token list and the split
    saved = checkpoint.load(trained["checkpoint"])
    known = set(saved.meta["vocab"]["tokens"][4:])
    c = saved.meta["config"]
    valid = load_corpus(str(other), level=c["level"], lowercase=c["lowercase"],
                        seed=c["seed"], max_sequences=c["max_sequences"]).valid
    tokens = [t for seq in valid for t in seq]
    rate = sum(t not in known for t in tokens) / len(tokens)
    assert 0 < rate < 1
    assert ("%.1f%% of its valid tokens are unknown to the checkpoint's vocabulary"
            % (100 * rate)) in warnings[0]
    assert "is not the data %s was trained on" % trained["checkpoint"] in warnings[0]
    assert json.loads(captured.out)["perplexity"] > 1  # evaluated all the same


def test_evaluate_with_an_empty_split_says_so(capsys, trained, tmp_path):
    small = tmp_path / "small.txt"
    small.write_text("\n".join(_toy_lines(9)) + "\n", encoding="utf-8")  # 0 valid
    assert main(["evaluate", trained["checkpoint"], str(small)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "NoneType" not in err
    assert err.strip().splitlines()[-1] == (
        "lasagne-lstm evaluate: error: the valid split of small.txt has nothing to "
        "evaluate (0 sequences); try --split test, or a corpus with more text")


# -- 3. logs on resume ---------------------------------------------------------
def test_resume_removes_the_log_records_after_its_checkpoint(capsys, ckpt_copy, tmp_path):
    """A run that went on logging after its last checkpoint (killed before the
    next save) and is resumed with the same --log writes every step once.
    The stale lock it left is taken over on the way."""
    log = tmp_path / "log.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    run_id = records[0]["run"]
    assert [r["step"] for r in records if r["event"] == "update"] == list(range(1, 10))
    assert [(r["epoch"], r["step"]) for r in records if r["event"] == "epoch"] == [(1, 7)]
    epoch_record = next(r for r in records if r["event"] == "epoch")
    lost = [dict(records[-1], step=s) for s in (10, 11, 12)]
    lost.append(dict(epoch_record, step=14, epoch=2))      # an epoch record too
    foreign = dict(records[-1], step=10, run="another-run")  # another run's: kept
    with open(log, "a", encoding="utf-8") as f:
        for record in lost + [foreign]:
            f.write(json.dumps(record) + "\n")
        f.write('{"event": "update", "step": 13, "lo')      # torn by the kill
    lock = _write_lock(ckpt_copy, _dead_pid())
    assert main(["train", "--resume", ckpt_copy, "--max-steps", "11", "--log", str(log),
                 "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "removed 5 records written after update 9 from %s" % log in err
    assert "%s was left by process" % lock in err and "taking it over" in err
    assert not lock.exists()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    mine = [r for r in records if r["run"] == run_id]
    assert [r["step"] for r in mine if r["event"] == "update"] == list(range(1, 12))
    assert [r["epoch"] for r in mine if r["event"] == "epoch"] == [1]
    assert [r for r in records if r["run"] != run_id] == [foreign]
    assert checkpoint.load(ckpt_copy).meta["step"] == 11


def test_trim_log_keeps_everything_else(tmp_path):
    log = tmp_path / "log.jsonl"
    lines = ['{"event": "update", "step": 1}', "not json", '{"event": "update", "step": 3}',
             '{"event": "epoch", "step": 3, "epoch": 1}', '{"event": "update", "step": 2}']
    log.write_text("\n".join(lines) + "\n")
    assert engine.trim_log(str(log), None, 2, 0) == 2  # records without a run id: None
    assert log.read_text().splitlines() == [lines[0], lines[1], lines[4]]
    assert engine.trim_log(str(log), None, 2, 0) == 0
    assert engine.trim_log(str(tmp_path / "missing.jsonl"), None, 0, 0) == 0


# -- 4. interrupts -------------------------------------------------------------
def _wait_for_update(proc, log, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if log.exists() and '"event": "update"' in log.read_text():
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("no update record after %d s" % timeout)


def _interrupted_step(err, signum, ckpt):
    """The update saved, read from the run's last line on stderr (which must
    be a line of its own, not glued to a progress bar)."""
    last = err.rstrip("\n").split("\n")[-1]
    step = checkpoint.load(ckpt).meta["step"]
    assert last == ("lasagne-lstm train: interrupted by %s after update %d: saved "
                    "update %d to %s; continue with: lasagne-lstm train --resume %s"
                    % (signal.Signals(signum).name, step, step, ckpt, ckpt)), err
    return step


def test_signals_save_exit_and_resume_to_the_same_bits(capsys, corpus_file, tmp_path,
                                                       monkeypatch):
    """SIGINT to a ``lasagne-lstm train`` process (progress bar on) and SIGTERM
    to this process running ``main`` (side by side, as the machine may have
    few cores): each saves at the end of its update and exits 130 or 143;
    a second SIGTERM arriving during the save waits for it; resumed to a
    fixed step, both end on the uninterrupted run's bits."""
    run_flags = [corpus_file, "--max-sequences", "400", "--epochs", "50"] + TINY
    files = {signum: (tmp_path / ("%s.npz" % signal.Signals(signum).name),
                      tmp_path / ("%s.jsonl" % signal.Signals(signum).name))
             for signum in (signal.SIGINT, signal.SIGTERM)}
    ckpt, log = files[signal.SIGINT]
    proc = subprocess.Popen(cli_command() + ["train"] + run_flags + [
        "--checkpoint", str(ckpt), "--log", str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ckpt, log = files[signal.SIGTERM]

        def terminate_after_the_first_update():
            while not (log.exists() and '"event": "update"' in log.read_text()):
                time.sleep(0.02)
            os.kill(os.getpid(), signal.SIGTERM)
        sender = threading.Thread(target=terminate_after_the_first_update, daemon=True)
        handler = signal.getsignal(signal.SIGTERM)
        real_save, second = checkpoint.save, []

        def save_with_a_second_signal(path, contents):
            if not second:
                second.append(True)
                os.kill(os.getpid(), signal.SIGTERM)  # handled while this save runs
                time.sleep(0.2)
            return real_save(path, contents)
        monkeypatch.setattr(checkpoint, "save", save_with_a_second_signal)
        sender.start()
        status = main(["train"] + run_flags + ["--checkpoint", str(ckpt), "--log", str(log),
                                               "--quiet"])
        sender.join(timeout=5)
        monkeypatch.undo()
        assert status == 143 and second == [True]
        saved = {signal.SIGTERM: _interrupted_step(capsys.readouterr().err,
                                                   signal.SIGTERM, ckpt)}
        assert signal.getsignal(signal.SIGTERM) == handler  # put back

        ckpt, log = files[signal.SIGINT]
        _wait_for_update(proc, log)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    saved[signal.SIGINT] = _interrupted_step(err, signal.SIGINT, ckpt)
    for signum, (ckpt, log) in files.items():
        updates = [json.loads(line)["step"] for line in log.read_text().splitlines()]
        assert updates == list(range(1, saved[signum] + 1))
        assert not os.path.exists(str(ckpt) + ".lock")
    # both resumed to the same fixed step, and an uninterrupted run
    total = max(saved.values()) + 3
    for ckpt, _ in files.values():
        assert main(["train", "--resume", str(ckpt), "--max-steps", str(total),
                     "--quiet"]) == 0
    reference = tmp_path / "whole.npz"
    assert main(["train"] + run_flags + ["--max-steps", str(total), "--checkpoint",
                                         str(reference), "--quiet"]) == 0
    expected = checkpoint.load(reference)
    assert expected.meta["step"] == total
    for ckpt, _ in files.values():
        got = checkpoint.load(ckpt)
        assert got.meta["step"] == total
        assert set(got.params) == set(expected.params)
        for name in expected.params:
            np.testing.assert_array_equal(got.params[name], expected.params[name],
                                          err_msg=name)
        assert len(got.optimizer_state) == len(expected.optimizer_state)
        for a, b in zip(got.optimizer_state, expected.optimizer_state):
            np.testing.assert_array_equal(a, b)


# -- 5. errors ------------------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["--tie-embeddings", "--embedding", "8", "--hidden", "12"],
     "--tie-embeddings needs --embedding equal to --hidden (got 8 and 12)"),
    (["--task", "stream", "--mode", "accumulate"],
     "--task stream trains one window per update"),
    (["--task", "stream", "--batch-size", "200", "--num-steps", "50"],
     "is too short for --batch-size 200 and --num-steps 50"),
])
def test_settings_that_cannot_work_are_one_line(capsys, trained, argv, message):
    line = _one_line(capsys, ["train", trained["corpus"], "--backend", "fast_compile",
                              "--max-sequences", "60", "--quiet"] + argv)
    assert line.startswith("lasagne-lstm train: error: ") and message in line


def test_missing_backend_is_one_line(capsys, trained, monkeypatch):
    def no_jax(name):
        raise ImportError("the jax backend needs JAX: pip install jax")
    monkeypatch.setattr(backends, "get_mode", no_jax)
    line = _one_line(capsys, ["train", trained["corpus"], "--backend", "jax", "--quiet"])
    assert "--backend jax cannot run here: the jax backend needs JAX" in line


def test_an_internal_error_shows_its_traceback(trained, monkeypatch):
    """Only the project's own user-facing errors become one line: a ValueError
    or ImportError from a bug propagates (the console script prints it)."""
    for error in (ValueError("shapes (3,) and (4,) not aligned"), ImportError("no module x")):
        def broken(*args, **kwargs):
            raise error
        monkeypatch.setattr(engine, "build_model", broken)
        with pytest.raises(type(error), match=str(error).split()[0]):
            main(["train", trained["corpus"], "--max-sequences", "60", "--quiet"] + TINY)


def test_model_too_large_is_refused_before_allocation(capsys, trained, tmp_path):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.perf_counter()
    ckpt = tmp_path / "big.npz"
    line = _one_line(capsys, ["train", trained["corpus"], "--hidden", "100000",
                              "--max-sequences", "60", "--checkpoint", str(ckpt),
                              "--backend", "fast_compile", "--quiet"])
    assert time.perf_counter() - started < 10
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 < peak + 2 ** 30
    assert "the model is too large for this machine" in line and "bytes" in line
    count = engine.parameter_count(dict(vocab_size=26, embedding=128, hidden=100000,
                                        layers=1, cell="lstm"))[0]
    assert format(count, ",") + " parameters" in line
    assert not ckpt.exists() and not os.path.exists(str(ckpt) + ".lock")


@pytest.mark.parametrize("model_config", [
    dict(task="lm", vocab_size=30, embedding=5, hidden=7, layers=2, cell="lstm"),
    dict(task="lm", vocab_size=30, embedding=7, hidden=7, layers=1, cell="gru",
         tie_embeddings=True),
    dict(task="lm", vocab_size=30, embedding=6, hidden=4, layers=2, cell="lstm",
         stateful=True),
    dict(task="classify", vocab_size=30, embedding=5, hidden=3, cell="lstm",
         bidirectional=True, num_classes=4),
    dict(task="classify", vocab_size=30, embedding=5, hidden=3, cell="gru", num_classes=2),
])
def test_parameter_count_matches_the_built_model(model_config):
    config = dict(dict(grad_clipping=0, dropout=0, tie_embeddings=False,
                       bidirectional=False, init_range=None, layers=1), **model_config)
    model = build_model(config, masked=not config.get("stateful"))
    sizes = [p.get_value().size for p in model.params.values()]
    assert engine.parameter_count(config) == (sum(sizes), max(sizes))


@pytest.mark.parametrize("name", sorted(steps.OPTIMIZERS))
def test_optimizer_state_arrays_match_the_rules(name):
    params = [pytensor.shared(np.zeros((3, 4)), name="a"), pytensor.shared(np.zeros(5), name="b")]
    rule = steps.UpdateRule(name, learning_rate=0.1)
    rule.updates([pt.zeros_like(p) for p in params], params)
    per_parameter = [v for v in rule.state if v.get_value().shape in ((3, 4), (5,))]
    assert len(per_parameter) == engine.OPTIMIZER_STATE_ARRAYS[name] * len(params)


def test_memory_check_uses_the_available_memory(monkeypatch):
    config = dict(engine.DEFAULTS, optimizer="adam", mode="accumulate", float_type="float32")
    model_config = dict(task="lm", vocab_size=10, embedding=2, hidden=3, layers=1, cell="lstm")
    count, largest = engine.parameter_count(model_config)
    need = engine.estimate_memory(config, model_config)
    # parameters, gradients, adam's two moments and the accumulators in float32,
    # and the float64 draw of the largest parameter
    assert need["bytes"] == count * 5 * 4 + largest * 8
    monkeypatch.setattr(engine, "available_memory", lambda: need["bytes"] - 1)
    with pytest.raises(SettingsError, match="%s bytes" % format(need["bytes"], ",")):
        engine.check_memory(config, model_config)
    monkeypatch.setattr(engine, "available_memory", lambda: need["bytes"])
    engine.check_memory(config, model_config)
    monkeypatch.setattr(engine, "available_memory", lambda: None)  # unknown: no check
    engine.check_memory(dict(config, hidden=10 ** 6), dict(model_config, hidden=10 ** 6))


def test_available_memory_reads_the_machine():
    available = engine.available_memory()
    assert available is None or available > 0


# -- 6. the NaN stop ------------------------------------------------------------
def test_nan_stop_names_the_checkpoint_with_the_last_good_state(ckpt_copy):
    before = _state(ckpt_copy)
    run = engine.Run(dict(max_steps=20), resume=ckpt_copy, progress=False)
    bias = run.model.params["output.b"]
    bias.set_value(np.full_like(bias.get_value(), np.nan))
    with pytest.raises(engine.TrainingDiverged) as info:
        run.fit(ckpt_copy)
    message = str(info.value)
    assert "update 10 (epoch 2)" in message
    assert "the last good state is update 9 in %s" % ckpt_copy in message
    assert info.value.step == 10 and info.value.saved == (ckpt_copy, 9)
    assert _state(ckpt_copy) == before
    # and the file never takes NaN values, whoever asks
    with pytest.raises(checkpoint.NonFiniteError):
        run.save(ckpt_copy)
    assert _state(ckpt_copy) == before


def test_unapplied_update_stops_the_cli_run(capsys, trained, tmp_path, monkeypatch):
    """The step functions say an update was not applied (non-finite): the run
    stops at once, exit 1, and says no checkpoint was written (none was)."""
    for cls in (steps.StepFunctions, steps.StreamStepFunctions):
        monkeypatch.setattr(cls, "last_update_applied", property(lambda self: False),
                            raising=False)
    # what the compiled step returns does not matter here (nothing compiles)
    monkeypatch.setattr(steps.StepFunctions, "train_batch", lambda *args: (1.0, 1.0))
    ckpt = tmp_path / "never.npz"
    line = _one_line(capsys, ["train", trained["corpus"], "--max-sequences", "60",
                              "--checkpoint", str(ckpt), "--save-every", "1",
                              "--quiet"] + TINY, status=1)
    assert line.startswith("lasagne-lstm train: stopped: update 1 (epoch 1) was not "
                           "applied: its loss, gradients or new values were not all finite "
                           "(loss 1.0)")
    assert "no checkpoint was written" in line
    assert not ckpt.exists() and not os.path.exists(str(ckpt) + ".lock")


# -- 7. compile counts -----------------------------------------------------------
def test_epoch_records_count_compiled_functions(trained):
    records = [json.loads(line) for line in open(trained["log"])]
    [epoch] = [r for r in records if r["event"] == "epoch"]
    assert epoch["compiled_functions"] == 2  # the training step and the evaluation
    assert epoch["total_compile_seconds"] >= epoch["compile_seconds"] > 0
    assert ("2 functions compiled (%.1f s in all)" % epoch["total_compile_seconds"]
            in trained["stdout"])
