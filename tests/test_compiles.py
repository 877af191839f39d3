"""Bounded compiles on a static-shape backend: batches are padded to the
width ladder and to ``batch_size`` rows (partial batches and token-budget
batches too), evaluation batches to one width, so a run compiles one function
per distinct padded shape, a number computed here from the plan alone."""
import math

import pytest

from lasagne_lstm.training.engine import Run
from numpy_reference import write_word_corpus


def _rung(n, multiple, growth):
    """The ladder, written out again: multiple, then each rung the previous
    times growth rounded up to a multiple (and at least one more)."""
    width = multiple
    while width < n:
        width = max(width + multiple, int(math.ceil(width * growth / multiple - 1e-9)) * multiple)
    return width


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    return write_word_corpus(tmp_path_factory.mktemp("shapes") / "toy.txt", seed=2,
                             words="the a cat dog sees likes ball tree red old man child",
                             lines=90, min_words=1, max_words=10)


def test_compiled_functions_equal_distinct_padded_shapes(corpus_file):
    """Token-budget batches (rows vary with the width) on JAX."""
    run = Run(dict(corpus=corpus_file, backend="jax", float_type="float32", embedding=4,
                   hidden=6, batch_size=7, max_sequences=0, epochs=1,
                   bucketing="tokens", seed=4), progress=False)
    batches = run.train_batches
    L = batches.lengths
    plan = batches.plan(0)
    shapes = {(_rung(len(items), 7, 1.3), _rung(int(L[items].max()), 4, 1.3))
              for items in plan}
    rows = {len(items) for items in plan}
    assert len(plan) > len(shapes) > 1 and len(rows) > 1   # repeats, and rows vary
    # and the evaluation split's shapes: at most EVALUATION_WIDTHS widths
    evaluation = {b.X.shape for b in run.feed.valid_batches.epoch(0)}
    assert 1 <= len(evaluation) <= 2
    expected = len(shapes) + len(evaluation)
    run.fit()
    assert run.steps.compiled_functions == expected
    record = run.history[-1]
    assert record["compiled_functions"] == expected
