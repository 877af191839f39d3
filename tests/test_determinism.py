"""The seed decides everything: two fresh processes training with the same
seed and dropout end on the same bits (fast_compile, accumulating single
sequences); a different seed ends elsewhere. On JAX in both modes
(micro-batches of 3) and on fast_compile with single sequences,
tests/test_kill_resume.py compares fresh processes too: each uninterrupted
run against one killed and resumed."""
import json
import subprocess
import sys

import pytest

from numpy_reference import write_word_corpus

RUNS = {
    "fast_compile-accumulate-mb1": dict(backend="fast_compile", mode="accumulate"),
    "fast_compile-accumulate-mb1-seed2": dict(backend="fast_compile", mode="accumulate",
                                              seed=2),
}

WORKER = """
import hashlib, json, sys
import numpy as np
from lasagne_lstm.training.engine import Run
runs = json.loads(sys.argv[2])
digests = {}
for name, settings in runs.items():
    config = dict(corpus=sys.argv[1], embedding=6, hidden=8, batch_size=8,
                  max_sequences=0, dropout=0.3, max_steps=4, seed=1,
                  optimizer="adam", learning_rate=0.01, float_type="float64")
    config.update(settings)
    run = Run(config, progress=False)
    run.fit()
    h = hashlib.sha256()
    for key, p in sorted(run.model.params.items()):
        h.update(key.encode())
        h.update(np.ascontiguousarray(np.asarray(p.get_value())).tobytes())
    digests[name] = h.hexdigest()
print(json.dumps(digests))
"""


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    return write_word_corpus(tmp_path_factory.mktemp("seeded") / "toy.txt", seed=5,
                             words="the a cat dog sees likes ball tree red old",
                             lines=120, min_words=3, max_words=9)


def _digests(corpus, processes=2):
    """The digests of every run, from ``processes`` fresh processes started
    together."""
    started = [subprocess.Popen([sys.executable, "-c", WORKER, corpus, json.dumps(RUNS)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(processes)]
    results = []
    for process in started:
        out, err = process.communicate(timeout=900)
        assert process.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def test_two_fresh_processes_give_the_same_bits(corpus_file):
    first, second = _digests(corpus_file)
    assert first == second
    assert first["fast_compile-accumulate-mb1"] != first["fast_compile-accumulate-mb1-seed2"]
