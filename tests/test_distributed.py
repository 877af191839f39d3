"""Data-parallel training over MPI (``--distributed mpi``), run for real under
``mpiexec`` on this machine: 2 ranks, and 3 ranks on 2 cores
(oversubscribed).

The reference is always a separate single-process run of the ordinary
masked step (no accumulators, no shares, no all-reduce): in float64, K
ranks must give its parameters and optimizer state to 1e-6, with Lasagne's
per-step gradient clipping active (shown to change the update) and with
dropout. MPI comes from the ``[mpi]`` extra; without it these tests fail,
saying how to install it.
"""
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from lasagne_lstm.training import checkpoint
from lasagne_lstm.training.distributed import share_pad_rows, token_shares
from numpy_reference import cli_command, write_word_corpus

MPIEXEC = pathlib.Path(sys.executable).with_name("mpiexec")
#: A tiny run: float64, a fast-compiling backend, clipping at 0.001 (active
#: on every step of this model).
RUN = ("--backend fast_compile --float float64 --hidden 8 --embedding 8 --batch-size 8 "
       "--max-sequences 200 --quiet --grad-clipping 0.001 --seed 3").split()
SGD = ["--optimizer", "sgd", "--learning-rate", "0.5"]
ADAM = ["--optimizer", "adam", "--learning-rate", "0.01", "--dropout", "0.3"]


def _mpiexec(ranks):
    if not MPIEXEC.exists():
        pytest.fail("no mpiexec beside %s: install the MPI extra, pip install -e "
                    "'.[mpi]'" % sys.executable)
    return [str(MPIEXEC), "-n", str(ranks)]


def _run(command, cwd, timeout=600):
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    return proc


def _train(cwd, ranks, *flags, expect=0):
    """``lasagne-lstm train toy.txt`` in one process (``ranks=None``) or
    under ``mpiexec -n ranks`` with ``--distributed mpi``."""
    command = cli_command() + ["train", "toy.txt"] + RUN + list(flags)
    if ranks is not None:
        command = _mpiexec(ranks) + command + ["--distributed", "mpi"]
    proc = _run(command, cwd)
    assert proc.returncode == expect, (command, proc.stdout, proc.stderr[-3000:])
    return proc


def _state(path):
    saved = checkpoint.load(str(path))
    return saved.params, saved.optimizer_state, saved.meta["step"]


def _max_difference(a, b):
    params_a, state_a, step_a = _state(a)
    params_b, state_b, step_b = _state(b)
    assert step_a == step_b and sorted(params_a) == sorted(params_b)
    worst = max(np.max(np.abs(params_a[k] - params_b[k])) for k in params_a)
    if state_a:
        worst = max(worst, max(np.max(np.abs(x - y)) for x, y in zip(state_a, state_b)))
    return worst


def _identical(a, b):
    params_a, state_a, _ = _state(a)
    params_b, state_b, _ = _state(b)
    return (all(np.array_equal(params_a[k], params_b[k]) for k in params_a)
            and all(np.array_equal(x, y) for x, y in zip(state_a, state_b)))


@pytest.fixture
def corpus_dir(tmp_path):
    write_word_corpus(tmp_path / "toy.txt", 0,
                      "the cat dog sat on a mat ran far near big small red", 300, 3, 12)
    return tmp_path


# -- shares -----------------------------------------------------------------------
def test_token_shares_by_hand():
    assert token_shares([5, 5, 5, 5], 2) == [(0, 2), (2, 4)]
    # running counts 0 10 11 12 13 14; goal 7 is closest to 10
    assert token_shares([10, 1, 1, 1, 1], 2) == [(0, 1), (1, 5)]
    # goals 4 and 8 over running counts 0 3 6 9 12: closest are 3 and 9
    assert token_shares([3, 3, 3, 3], 3) == [(0, 1), (1, 3), (3, 4)]
    # fewer rows than ranks: goals 2.67 and 5.33 are both closest to 4
    assert token_shares([4, 4], 3) == [(0, 1), (1, 1), (1, 2)]
    assert token_shares([], 2) == [(0, 0), (0, 0)]


def test_token_shares_cover_every_row_once_and_balance():
    rng = np.random.RandomState(0)
    for _ in range(200):
        lengths = rng.randint(1, 40, size=rng.randint(1, 40))
        size = rng.randint(1, 6)
        shares = token_shares(lengths, size)
        assert len(shares) == size and shares[0][0] == 0 and shares[-1][1] == len(lengths)
        assert all(a[1] == b[0] for a, b in zip(shares, shares[1:]))
        # each boundary is within one row's tokens of its equal-split goal
        running = np.concatenate([[0], np.cumsum(lengths)])
        for r, (_, stop) in enumerate(shares[:-1]):
            goal = running[-1] * (r + 1) / size
            assert abs(running[stop] - goal) <= lengths.max() + 1e-9


def test_share_pad_rows_by_hand():
    # an even share of 32 rows over 2 ranks is 16; multiples of 2
    assert [share_pad_rows(n, 32, 2) for n in (1, 15, 16, 17)] == [2, 16, 16, 18]
    assert share_pad_rows(3, 8, 3) == 3  # multiple 1


# -- the equivalence, under mpiexec ------------------------------------------------
def test_sgd_on_2_and_3_ranks_equals_one_masked_process_and_resumes_across_k(corpus_dir):
    d = corpus_dir
    _train(d, None, *SGD, "--max-steps", "4", "--checkpoint", "ref.npz")
    # the clip is active: without it the update is another one
    _train(d, None, *SGD, "--max-steps", "4", "--checkpoint", "noclip.npz",
           "--grad-clipping", "0")
    assert _max_difference("%s/ref.npz" % d, "%s/noclip.npz" % d) > 1e-4
    # masked windows shared by 2 ranks; accumulation in micro-batches of 2 on 3
    _train(d, 2, *SGD, "--max-steps", "4", "--checkpoint", "k2.npz")
    _train(d, 3, *SGD, "--max-steps", "4", "--checkpoint", "k3mb2.npz",
           "--mode", "accumulate", "--micro-batch", "2")
    for name in ("k2.npz", "k3mb2.npz"):
        assert _max_difference(d / "ref.npz", d / name) < 1e-6, name
    # K=1 (one plain process) -> K=2, and K=2 -> K=1; the same K=2
    # checkpoint, copied, resumes on K=2 to the bit
    _train(d, None, *SGD, "--max-steps", "2", "--checkpoint", "from1.npz")
    _train(d, 2, "--resume", "from1.npz", "--max-steps", "4")
    _train(d, 2, *SGD, "--max-steps", "2", "--checkpoint", "from2.npz")
    shutil.copyfile(d / "from2.npz", d / "again2.npz")
    _train(d, None, "--resume", "from2.npz", "--max-steps", "4")
    for name in ("from1.npz", "from2.npz"):
        assert _max_difference(d / "ref.npz", d / name) < 1e-6, name
    _train(d, 2, "--resume", "again2.npz", "--max-steps", "4")
    assert _identical(d / "k2.npz", d / "again2.npz")


def test_adam_with_dropout_on_3_and_2_ranks_equals_one_masked_process(corpus_dir):
    d = corpus_dir
    _train(d, None, *ADAM, "--max-steps", "3", "--checkpoint", "ref.npz")
    _train(d, 3, *ADAM, "--max-steps", "3", "--checkpoint", "k3.npz")
    _train(d, 2, *ADAM, "--max-steps", "3", "--checkpoint", "k2mb1.npz",
           "--mode", "accumulate", "--micro-batch", "1", "--log", "run.log")
    for name in ("k3.npz", "k2mb1.npz"):
        assert _max_difference(d / "ref.npz", d / name) < 1e-6, name
    # rank 0 alone wrote the log: each update once, with the all-reduce's cost
    import json
    records = [json.loads(line) for line in (d / "run.log").read_text().splitlines()]
    updates = [r for r in records if r["event"] == "update"]
    assert [r["step"] for r in updates] == [1, 2, 3]
    assert all(r["ranks"] == 2 and r["allreduce_bytes"] > 0 for r in updates)


# -- invariants ----------------------------------------------------------------------
PERTURB = textwrap.dedent("""
    import sys
    from lasagne_lstm.training.distributed import RanksDiverged, mpi_world
    from lasagne_lstm.training.engine import Run
    comm = mpi_world()
    run = Run(dict(corpus="toy.txt", backend="fast_compile", float_type="float64",
                   hidden=8, embedding=8, batch_size=8, max_sequences=200,
                   optimizer="sgd", learning_rate=0.5, max_steps=2, check_every=1),
              progress=False, distributed=comm)
    run.fit()
    if comm.rank == 1:  # the deliberate fault
        p = run.steps.params[0]
        p.set_value(p.get_value() + 1e-9)
    run.config["max_steps"] = 4
    try:
        run.fit()
    except RanksDiverged as exc:
        caught = str(exc)
    else:
        caught = "not caught"
    # one file per rank: mpiexec interleaves the ranks' output
    with open("rank%d.txt" % comm.rank, "w") as f:
        f.write(caught)
    sys.exit(3 if caught != "not caught" else 0)
""")


def test_the_rank_checksum_catches_a_perturbed_rank(corpus_dir):
    (corpus_dir / "perturb.py").write_text(PERTURB)
    proc = _run(_mpiexec(2) + [sys.executable, "perturb.py"], corpus_dir)
    assert proc.returncode == 3, (proc.stdout, proc.stderr[-3000:])
    for rank in (0, 1):
        told = (corpus_dir / ("rank%d.txt" % rank)).read_text()
        assert told.startswith("after update 3 rank 1 holds other parameters than "
                               "rank 0 (embedding.W differs)"), told


def _rank_pid(marker, rank):
    """The process id of rank ``rank`` of the job whose environment holds ``marker``."""
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker.encode() in env and ("PMI_RANK=%d" % rank).encode() in env:
            return int(entry.name)
    return None


def _wait_for_updates(proc, log, count, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if log.exists() and log.read_text().count('"update"') >= count:
            return
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()


def test_ctrl_c_stops_every_rank_after_the_same_update_and_saves(corpus_dir):
    d = corpus_dir
    command = _mpiexec(2) + cli_command() + ["train", "toy.txt"] + RUN + SGD + [
        "--epochs", "1000", "--log", "run.log", "--checkpoint", "stop.npz",
        "--distributed", "mpi"]
    proc = subprocess.Popen(command, cwd=d, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_updates(proc, d / "run.log", 3)
        proc.send_signal(signal.SIGINT)  # mpiexec passes it to every rank
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    logged = (d / "run.log").read_text().count('"update"')
    assert "interrupted by SIGINT after update %d: saved" % logged in err, err
    assert _state(d / "stop.npz")[2] == logged


def test_killing_one_rank_ends_every_rank_within_seconds(corpus_dir):
    d = corpus_dir
    marker = "LASAGNE_LSTM_TEST_JOB=%s" % d
    env = dict(os.environ, LASAGNE_LSTM_TEST_JOB=str(d))
    command = _mpiexec(2) + cli_command() + ["train", "toy.txt"] + RUN + SGD + [
        "--epochs", "1000", "--log", "run.log", "--distributed", "mpi"]
    proc = subprocess.Popen(command, cwd=d, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_updates(proc, d / "run.log", 3)
        victim, survivor = _rank_pid(marker, 1), _rank_pid(marker, 0)
        assert victim and survivor
        os.kill(victim, signal.SIGKILL)
        killed = time.time()
        out, err = proc.communicate(timeout=60)
        ended = time.time() - killed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode != 0
    assert ended < 20, ended
    # rank 0 went with it
    assert not pathlib.Path("/proc/%d" % survivor).exists() or \
        "zombie" in pathlib.Path("/proc/%d/status" % survivor).read_text()


def test_an_error_ends_the_job_in_one_line(corpus_dir):
    """A mistake every rank makes ends the job with exit status 2 and its one
    line; rank 0 tells it, and the other rank, which waits 2 s before telling
    its own, is usually ended first (not always, on a loaded machine)."""
    proc = _run(_mpiexec(2) + cli_command() + ["train", "missing.txt", "--quiet",
                                        "--distributed", "mpi"], corpus_dir)
    assert proc.returncode == 2
    told = [line for line in proc.stderr.splitlines() if "lasagne-lstm train" in line]
    assert 1 <= len(told) <= 2 and all("missing.txt" in line for line in told), proc.stderr
    assert "Traceback" not in proc.stderr
    proc = _run(_mpiexec(2) + cli_command() + ["train", "toy.txt", "--task", "stream", "--quiet",
                                        "--distributed", "mpi"], corpus_dir)
    assert proc.returncode == 2 and "cannot be distributed" in proc.stderr, proc.stderr
