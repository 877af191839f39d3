"""kill -9 at any moment, then ``--resume``, gives the uninterrupted run's
bits, with dropout: on JAX in masked mode and in accumulate mode
(micro-batches of 3), and on a dynamic-shape backend for single sequences.

Each case trains the same 7 updates (over an epoch boundary at update 6)
three times, in fresh processes: uninterrupted; killed with SIGKILL at the
case's point; resumed to the end. The points are spread over the cases:
in the middle of writing a checkpoint, right after an update between two
saves, and right after the epoch record (after the save of update 6 but
before the epoch's own save). After the kill the checkpoint on disk must
load and hold the last save made; the resumed run must end on the
uninterrupted run's bits (parameters, optimizer state, position) and its
log must hold every update and the epoch record exactly once.

The kill points are exact because a worker wraps the command line:
``STALL_SAVE_AT=n`` makes the save of update n write half its file and
wait, ``STALL_AFTER=update:n`` or ``epoch:n`` makes the run wait after
logging that record; the worker says so on stdout and the test sends
SIGKILL. On JAX, the default backend, accumulation pads every micro-batch
(single sequences too) and masks it, one path for any size; single
sequences run unpadded and unmasked on a dynamic-shape backend,
PyTensor's ``fast_compile``: Numba takes the same path but compiles each
training graph for minutes on an empty cache, more than the whole suite
may take. Each case is three processes of about 15 s of start-up and
compiling; the cases run side by side."""
import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from lasagne_lstm.training import checkpoint
from numpy_reference import write_word_corpus

TOTAL_STEPS, SAVE_EVERY, EPOCH_LENGTH = 7, 2, 6

#: case -> (flags, kill point, the update the checkpoint holds after the kill)
CASES = {
    "jax-masked": (["--backend", "jax"], dict(STALL_SAVE_AT=4), 2),
    "jax-accumulate-mb3": (["--backend", "jax", "--mode", "accumulate",
                            "--micro-batch", "3"], dict(STALL_AFTER="epoch:1"), 6),
    "fast_compile-accumulate-mb1": (["--backend", "fast_compile", "--mode", "accumulate",
                                     "--micro-batch", "1"], dict(STALL_AFTER="update:3"), 2),
}

WORKER = r"""
import os, sys, time
import numpy as np
from lasagne_lstm.training import checkpoint, engine
from lasagne_lstm.training.cli import main

stall_save = int(os.environ.get("STALL_SAVE_AT", "0"))
stall_after = os.environ.get("STALL_AFTER", "")
real_save, real_emit, real_savez = engine.Run.save, engine.Run._emit, np.savez

def half_written(f, **arrays):
    f.write(b"PK\x03\x04 half a checkpoint")
    f.flush()
    print("stalled in save", flush=True)
    time.sleep(600)

def save(self, path):
    if self.step == stall_save:
        np.savez = half_written
    try:
        return real_save(self, path)
    finally:
        np.savez = real_savez

def emit(self, record):
    real_emit(self, record)
    number = record["step"] if record["event"] == "update" else record["epoch"]
    if stall_after == "%s:%d" % (record["event"], number):
        print("stalled after record", flush=True)
        time.sleep(600)

engine.Run.save, engine.Run._emit = save, emit
sys.exit(main(sys.argv[1:]))
"""


def _run(argv, stall=None, timeout=900):
    """Run the worker; with ``stall``, SIGKILL it at the stall it reports.
    Returns what the worker printed on stderr."""
    env = dict(os.environ, **{key: str(value) for key, value in (stall or {}).items()})
    proc = subprocess.Popen([sys.executable, "-c", WORKER] + argv, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if stall is None:
            _, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, err[-3000:]
            return err
        line = proc.stdout.readline().strip()   # blocks until the stall (or the end)
        if not line.startswith("stalled"):
            _, err = proc.communicate(timeout=timeout)
            raise AssertionError("no stall (%r, exit %s): %s" % (line, proc.returncode,
                                                                 err[-3000:]))
        proc.send_signal(signal.SIGKILL)  # no handler runs, nothing is cleaned up
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        return err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _case(name, common, folder):
    """Uninterrupted, killed, resumed; returns the paths to compare."""
    flags, stall, _ = CASES[name]
    ckpt, log, whole = (folder / (name + ".npz"), folder / (name + ".jsonl"),
                        folder / (name + "-whole.npz"))
    _run(["train"] + common + flags + ["--checkpoint", str(whole)])
    _run(["train"] + common + flags + ["--checkpoint", str(ckpt), "--log", str(log)], stall)
    killed_at = checkpoint.load(ckpt).meta["step"]   # the checkpoint loads
    _run(["train", "--resume", str(ckpt), "--log", str(log), "--quiet"])
    return ckpt, log, whole, killed_at


def _records(log):
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_kill_nine_at_any_moment_then_resume_gives_the_same_bits(tmp_path):
    corpus = write_word_corpus(tmp_path / "toy.txt", seed=3,
                               words="the a cat dog bird sees likes wants ball tree red old",
                               lines=200, min_words=3, max_words=10)
    common = [corpus, "--max-sequences", "48", "--embedding", "6", "--hidden", "8",
              "--batch-size", "8", "--dropout", "0.3", "--seed", "4", "--epochs", "3",
              "--max-steps", str(TOTAL_STEPS), "--save-every", str(SAVE_EVERY), "--quiet"]
    with ThreadPoolExecutor(max_workers=len(CASES)) as pool:
        futures = {name: pool.submit(_case, name, common, tmp_path) for name in CASES}
        results = {name: future.result() for name, future in futures.items()}
    assert set(results) == set(CASES)

    for name, (ckpt, log, whole, killed_at) in results.items():
        assert killed_at == CASES[name][2], name
        got, expected = checkpoint.load(ckpt), checkpoint.load(whole)
        assert [r["step"] for r in expected.meta["history"]] == [EPOCH_LENGTH], name
        assert got.meta["step"] == expected.meta["step"] == TOTAL_STEPS, name
        assert (got.meta["epoch"], got.meta["position"]) == (1, TOTAL_STEPS - EPOCH_LENGTH)
        assert got.meta["position"] == expected.meta["position"], name
        assert set(got.params) == set(expected.params), name
        for key in expected.params:
            np.testing.assert_array_equal(got.params[key], expected.params[key],
                                          err_msg="%s %s" % (name, key))
        assert len(got.optimizer_state) == len(expected.optimizer_state), name
        for a, b in zip(got.optimizer_state, expected.optimizer_state):
            np.testing.assert_array_equal(a, b, err_msg=name)
        # the epoch the kills split reports the whole epoch's figures
        for field in ("tokens", "train_loss", "valid_loss"):
            assert [r[field] for r in got.meta["history"]] == \
                [r[field] for r in expected.meta["history"]], (name, field)
        records = _records(log)
        assert [r["step"] for r in records if r["event"] == "update"] == \
            list(range(1, TOTAL_STEPS + 1)), name
        assert [r["epoch"] for r in records if r["event"] == "epoch"] == [1], name
        # the killed writers' lock and half-written temporary file are gone
        assert not os.path.exists(str(ckpt) + ".lock"), name
    assert not list(tmp_path.glob(".*.tmp-*"))
