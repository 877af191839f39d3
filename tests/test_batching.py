"""The bucketing / mask generator and stream mode.

References here are written independently of the code under test: expected
rows are derived step by step from the input lists, not with the iterator's
own slicing.
"""
import collections

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from lasagne_lstm.training.batching import (BucketIterator, default_boundaries,
                                            fewest_cells_widths, padded_width)
from lasagne_lstm.training.data import stream_batches, stream_num_windows

PAD = 0
MASK = "float64"
SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def expected_rows(seqs, labels, task, max_len, overflow):
    """{(index, piece): (x list, y list or label)} and the counts, by hand."""
    rows = {}
    counts = collections.Counter()
    for i, s in enumerate(seqs):
        s = list(s)
        if task == "lm":
            steps = [(s[t], s[t + 1]) for t in range(len(s) - 1)]
        else:
            steps = [(v, None) for v in s]
        if not steps:
            counts["empty"] += 1
            continue
        if max_len is not None and len(steps) > max_len:
            if overflow == "drop":
                counts["dropped"] += 1
                continue
            if overflow == "truncate":
                counts["truncated"] += 1
                groups = [steps[:max_len]]
            else:
                counts["split"] += 1
                groups = [[] for _ in range((len(steps) + max_len - 1) // max_len)]
                for t, step in enumerate(steps):
                    groups[t // max_len].append(step)
                counts["pieces"] += len(groups)
        else:
            counts["whole"] += 1
            groups = [steps]
        for p, g in enumerate(groups):
            x = [a for a, _ in g]
            y = [b for _, b in g] if task == "lm" else labels[i]
            rows[(i, p)] = (x, y)
    return rows, counts


@st.composite
def generator_cases(draw):
    task = draw(st.sampled_from(["lm", "classify"]))
    n = draw(st.integers(0, 40))
    seqs = [draw(st.lists(st.integers(1, 30), min_size=0, max_size=25)) for _ in range(n)]
    labels = [draw(st.integers(0, 2)) for _ in range(n)] if task == "classify" else None
    strategy = draw(st.sampled_from(["none", "pool", "boundaries", "tokens"]))
    kw = dict(batch_size=draw(st.integers(1, 7)), strategy=strategy, task=task,
              max_len=draw(st.one_of(st.none(), st.integers(1, 12))),
              overflow=draw(st.sampled_from(["truncate", "split", "drop"])),
              seed=draw(st.integers(0, 5)), drop_last=draw(st.booleans()),
              pool_batches=draw(st.integers(1, 3)),
              pad_multiple=draw(st.integers(1, 3)), pad_id=PAD, mask_dtype=MASK,
              pad_growth=draw(st.sampled_from([1.0, 1.0, 1.3, 1.5])))
    if strategy == "boundaries":
        kw["boundaries"] = draw(st.one_of(
            st.none(), st.lists(st.integers(1, 30), min_size=1, max_size=4, unique=True)
            .map(sorted)))
    if strategy == "tokens":
        kw["max_tokens"] = draw(st.one_of(st.none(), st.integers(40, 120)))
    return seqs, labels, kw, draw(st.integers(0, 3))


def ladder(multiple, growth, longest):
    """The allowed padded widths up to ``longest``, enumerated by stepping
    through multiples (a reference that uses no ceil/round arithmetic)."""
    rungs = [multiple]
    while rungs[-1] < longest:
        rung = rungs[-1] + multiple
        while rung < rungs[-1] * growth - 1e-9:
            rung += multiple
        rungs.append(rung)
    return rungs


def ladder_width(length, kw):
    return min(r for r in ladder(kw["pad_multiple"], kw["pad_growth"], length)
               if r >= length)


@pytest.mark.parametrize("multiple, growth, rungs", [
    (4, 1.3, [4, 8, 12, 16, 24, 32, 44, 60, 80]),
    (2, 1.5, [2, 4, 6, 10, 16, 24, 36, 54, 82]),
    (1, 1.2, [1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 18]),
    (5, 1.2, [5, 10, 15, 20, 25, 30, 40]),   # 25 * 1.2 = 30 exactly: stays 30
    (3, 1.0, [3, 6, 9, 12, 15]),
])
def test_padded_width_follows_the_ladder(multiple, growth, rungs):
    """Hand-computed ladders: every length pads to the first rung at least as
    long."""
    assert ladder(multiple, growth, rungs[-1]) == rungs
    previous = 0
    for rung in rungs:
        for length in range(previous + 1, rung + 1):
            assert padded_width(length, multiple, growth) == rung
        previous = rung
    assert padded_width(0, multiple, growth) == 0


@pytest.mark.parametrize("growth", [0.9, float("nan"), float("inf")])
def test_pad_growth_below_one_or_not_finite_is_refused(growth):
    with pytest.raises(ValueError, match="pad_growth"):
        BucketIterator([[1, 2, 3]], pad_growth=growth)


def _make(seqs, labels, kw):
    """The iterator, or None when the token budget cannot hold the longest row
    (checked to be the reason, independently)."""
    if kw["strategy"] == "tokens" and kw.get("max_tokens") is not None:
        rows, _ = expected_rows(seqs, labels, kw["task"], kw["max_len"], kw["overflow"])
        widest = max((ladder_width(len(x), kw) for x, _ in rows.values()), default=0)
        if widest > kw["max_tokens"]:
            with pytest.raises(ValueError, match="token budget"):
                BucketIterator(seqs, labels, **kw)
            return None
    return BucketIterator(seqs, labels, **kw)


@SETTINGS
@given(generator_cases())
def test_every_row_once_masks_padding_and_counts(case):
    seqs, labels, kw, epoch = case
    it = _make(seqs, labels, kw)
    if it is None:
        return
    rows, counts = expected_rows(seqs, labels, kw["task"], kw["max_len"], kw["overflow"])
    batches = it.epoch(epoch)
    seen = collections.Counter()
    partial = 0
    for b in batches:
        X, mask, y = b.X, b.mask, b.y
        B, T = X.shape
        assert B == len(b) > 0 and X.dtype == np.int32 and mask.dtype == np.dtype(MASK)
        assert T == ladder_width(b.lengths.max(), kw)
        if kw["strategy"] != "tokens":
            assert B <= kw["batch_size"]
            partial += B < kw["batch_size"]
        else:
            assert B * T <= it.max_tokens
        assert b.n_tokens == mask.sum() == b.lengths.sum()
        for r in range(B):
            key = (int(b.indices[r]), int(b.pieces[r]))
            seen[key] += 1
            x, target = rows[key]
            L = len(x)
            assert b.lengths[r] == L
            # the mask equals the length; padding only where the mask is 0
            assert list(mask[r]) == [1.0] * L + [0.0] * (T - L)
            assert list(X[r, :L]) == x and (X[r, L:] == PAD).all()
            if kw["task"] == "lm":
                assert y.shape == (B, T) and y.dtype == np.int32
                assert list(y[r, :L]) == target and (y[r, L:] == PAD).all()
            else:
                assert y.shape == (B,) and y[r] == target
    # every kept row exactly once (all of them unless drop_last removed the partial batch)
    assert all(v == 1 for v in seen.values())
    missing = set(rows) - set(seen)
    if kw["drop_last"] and kw["strategy"] != "tokens":
        assert len(missing) < kw["batch_size"] and partial == 0
    else:
        assert not missing
        assert partial <= 1
    # counts add up
    st_ = it.stats(epoch)
    assert st_["input_sequences"] == len(seqs) == (counts["whole"] + counts["truncated"]
                                                   + counts["split"] + counts["dropped"]
                                                   + counts["empty"])
    for k in ("truncated", "split", "pieces", "dropped", "empty"):
        assert st_[k] == counts[k], k
    assert st_["sequences"] == sum(seen.values())
    assert st_["tokens"] == sum(int(b.mask.sum()) for b in batches)
    assert st_["cells"] == sum(b.X.size for b in batches)
    assert st_["padded_cells"] == sum(int((b.mask == 0).sum()) for b in batches)
    assert st_["batches"] == len(batches)
    if st_["cells"]:
        assert st_["padding_fraction"] == pytest.approx(st_["padded_cells"] / st_["cells"])
    if kw["overflow"] == "split" and kw["max_len"]:
        # splitting loses no step
        total = sum(max(len(s) - (kw["task"] == "lm"), 0) for s in seqs)
        assert sum(len(x) for x, _ in rows.values()) == total


@SETTINGS
@given(generator_cases())
def test_order_depends_only_on_seed_and_epoch(case):
    seqs, labels, kw, epoch = case
    a = _make(seqs, labels, kw)
    if a is None:
        return
    b = BucketIterator([list(s) for s in seqs], labels, **kw)

    def signature(it, e):
        return [(bt.indices.tolist(), bt.pieces.tolist(), bt.X.tolist()) for bt in it.epoch(e)]

    assert signature(a, epoch) == signature(b, epoch) == signature(a, epoch)


@SETTINGS
@given(generator_cases(), st.integers(1, 5))
def test_accumulation_view_reproduces_masked_batches(case, micro):
    seqs, labels, kw, epoch = case
    it = _make(seqs, labels, kw)
    if it is None:
        return
    for b in it.epoch(epoch):
        pairs = b.sequences()
        assert len(pairs) == len(b)
        for r, (x, y) in enumerate(pairs):
            L = len(x)
            assert x.dtype == np.int32
            np.testing.assert_array_equal(x, b.X[r, :L])
            assert b.mask[r, :L].all() and not b.mask[r, L:].any()
            if kw["task"] == "lm":
                np.testing.assert_array_equal(y, b.y[r, :L])
            else:
                assert y == b.y[r]
        parts = b.micro_batches(micro)
        assert all(len(p) <= micro for p in parts)
        assert sum(p.n_tokens for p in parts) == b.n_tokens
        flat = [pair for p in parts for pair in p.sequences()]
        assert len(flat) == len(pairs)
        for (x1, y1), (x2, y2) in zip(flat, pairs):
            np.testing.assert_array_equal(x1, x2)
            np.testing.assert_array_equal(y1, y2)
        row = 0
        for p in parts:
            assert p.X.shape[1] == ladder_width(p.lengths.max(), kw)
            np.testing.assert_array_equal(p.indices, b.indices[row:row + len(p)])
            for r in range(len(p)):
                L = p.lengths[r]
                np.testing.assert_array_equal(p.X[r, :L], b.X[row + r, :L])
                np.testing.assert_array_equal(p.mask[r], np.arange(p.X.shape[1]) < L)
            row += len(p)


def _random_corpus(n=3000, seed=1):
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(2.5, 0.7, size=n).astype(int), 1, 200)
    return [rng.integers(4, 100, size=L + 1) for L in lengths]


def test_bucketing_removes_most_padding():
    seqs = _random_corpus()
    frac = {s: BucketIterator(seqs, batch_size=32, strategy=s, mask_dtype=MASK)
            .stats()["padding_fraction"] for s in ("none", "pool", "boundaries", "tokens")}
    assert frac["none"] > 0.4
    for s in ("pool", "boundaries", "tokens"):
        assert frac[s] < frac["none"] / 5, frac


def test_epochs_differ_and_pool_batches_are_sorted_runs():
    seqs = _random_corpus(500)
    it = BucketIterator(seqs, batch_size=16, strategy="pool", pool_batches=4, mask_dtype=MASK)
    e0 = [b.indices.tolist() for b in it.epoch(0)]
    e1 = [b.indices.tolist() for b in it.epoch(1)]
    assert e0 != e1 and sorted(sum(e0, [])) == sorted(sum(e1, [])) == list(range(500))
    other = BucketIterator(seqs, batch_size=16, strategy="pool", pool_batches=4, seed=7,
                           mask_dtype=MASK)
    assert [b.indices.tolist() for b in other.epoch(0)] != e0


def test_explicit_boundaries_keep_full_batches_in_one_bucket():
    lengths = [1, 2, 3, 5, 8, 9, 10, 20, 21, 22, 23, 40] * 4
    seqs = [list(range(4, 4 + L + 1)) for L in lengths]
    it = BucketIterator(seqs, batch_size=4, strategy="boundaries", boundaries=[3, 10],
                        mask_dtype=MASK)

    def bucket(L):
        return 0 if L <= 3 else 1 if L <= 10 else 2

    batches = it.epoch(0)
    assert sum(len(b) for b in batches) == len(seqs)
    for b in batches:
        if len(b) == 4 and len({bucket(L) for L in b.lengths}) > 1:
            pytest.fail("a full batch mixes buckets: %s" % b.lengths)


def test_fewest_cells_widths_by_hand():
    rungs = [4, 4, 8, 16, 24, 60]
    # with 60 kept, padded cells per choice of the other width (one row each):
    # 4: 4+4+60*4 = 248; 8: 8*3+60*3 = 204; 16: 16*4+60*2 = 184; 24: 24*5+60 = 180
    assert fewest_cells_widths(rungs, 2) == [24, 60]
    # 8 and 24 with 60: 8*3 + 24*2 + 60 = 132, the best of the six pairs
    assert fewest_cells_widths(rungs, 3) == [8, 24, 60]
    assert fewest_cells_widths(rungs, 1) == [60]
    assert fewest_cells_widths(rungs, 5) == [4, 8, 16, 24, 60]
    assert fewest_cells_widths([12, 12, 44], 2) == [12, 44]
    with pytest.raises(ValueError, match="count"):
        fewest_cells_widths(rungs, 0)


@pytest.mark.parametrize("max_widths", [1, 2, 3])
def test_max_widths_pads_the_same_batches_to_few_widths(max_widths):
    seqs = _random_corpus(700)
    kw = dict(batch_size=16, strategy="pool", pool_batches=4, mask_dtype=MASK,
              pad_multiple=4, pad_growth=1.3, pad_rows=True)
    ladder, few = BucketIterator(seqs, **kw), BucketIterator(seqs, max_widths=max_widths, **kw)
    longest = padded_width(max(len(x) - 1 for x in seqs), 4, 1.3)
    assert len(few.widths) == max_widths and few.widths[-1] == longest
    for epoch in (0, 1):
        for a, b in zip(ladder.epoch(epoch), few.epoch(epoch), strict=True):
            assert b.indices.tolist() == a.indices.tolist()  # the same rows, in order
            assert b.width in few.widths and b.width >= a.width
            # the smallest chosen width that holds the batch's rung
            assert b.width == min(w for w in few.widths if w >= a.width)
            np.testing.assert_array_equal(b.X[:, :a.width], a.X)
            np.testing.assert_array_equal(b.mask[:, :a.width], a.mask)
            assert not b.mask[:, a.width:].any() and (b.X[:, a.width:] == 0).all()
    cells = [sum(b.width for b in it.epoch(0)) for it in (ladder, few)]
    all_longest = len(ladder.epoch(0)) * longest
    assert cells[0] <= cells[1] <= all_longest
    assert (cells[1] < all_longest) == (max_widths > 1)
    with pytest.raises(ValueError, match="max_widths"):
        BucketIterator(seqs, strategy="tokens", max_widths=2)


def test_max_widths_hold_the_longest_sequence_that_epoch_0_dropped():
    # pools of one batch and a partial last pool, dropped: find a seed whose
    # epoch 0 drops the longest sequence and whose epoch 1 keeps it
    lengths = [3] * 40 + [9] * 20 + [30]
    seqs = [list(range(4, 4 + L + 1)) for L in lengths]
    kw = dict(batch_size=8, strategy="pool", pool_batches=1, drop_last=True,
              mask_dtype=MASK, pad_multiple=4, pad_growth=1.3, pad_rows=True, max_widths=2)
    def holds_longest(it, epoch):
        return any(60 in b.indices for b in it.epoch(epoch))
    for seed in range(100):
        it = BucketIterator(seqs, seed=seed, **kw)
        if not holds_longest(it, 0) and holds_longest(it, 1):
            break
    else:
        pytest.fail("no seed drops the longest sequence in epoch 0 only")
    assert it.widths[-1] == padded_width(30, 4, 1.3) == 32
    widths = [b.width for b in it.epoch(1)]
    assert max(widths) == 32 and set(widths) <= set(it.widths)


def test_default_boundaries_grow_geometrically():
    b = default_boundaries(300)
    assert b[:5] == [1, 2, 3, 4, 5] and b[-1] >= 300
    assert all(y > x and y <= max(x + 1, x * 1.15 + 1) for x, y in zip(b, b[1:]))


def test_lm_rows_are_shifted_targets():
    it = BucketIterator([[2, 10, 11, 12, 3], [2, 3], [2], []], batch_size=8, strategy="none",
                        mask_dtype=MASK)
    (b,) = it.epoch(0)
    order = np.argsort(b.indices)
    assert b.indices[order].tolist() == [0, 1]
    assert b.X[order].tolist() == [[2, 10, 11, 12], [2, 0, 0, 0]]
    assert b.y[order].tolist() == [[10, 11, 12, 3], [3, 0, 0, 0]]
    assert b.mask[order].tolist() == [[1, 1, 1, 1], [1, 0, 0, 0]]
    assert it.stats()["empty"] == 2


def test_split_pieces_overlap_by_one_id():
    it = BucketIterator([[2, 5, 6, 7, 8, 9, 3]], batch_size=4, strategy="none", max_len=4,
                        overflow="split", mask_dtype=MASK)
    (b,) = it.epoch(0)
    pairs = sorted(((int(p), x.tolist(), y.tolist()) for p, (x, y) in
                    zip(b.pieces, b.sequences())))
    assert pairs == [(0, [2, 5, 6, 7], [5, 6, 7, 8]), (1, [8, 9], [9, 3])]


@pytest.mark.parametrize("kw, message", [
    (dict(batch_size=0), "batch_size"), (dict(batch_size=-3), "batch_size"),
    (dict(strategy="sorted"), "strategy"), (dict(overflow="wrap"), "overflow"),
    (dict(max_len=0), "max_len"), (dict(task="classify"), "labels"),
    (dict(strategy="boundaries", boundaries=[5, 3]), "boundaries"),
    (dict(strategy="tokens", max_tokens=3), "token budget"),
])
def test_bad_arguments(kw, message):
    with pytest.raises(ValueError, match=message):
        BucketIterator([[2, 4, 5, 6, 3]], **kw)


def test_floatx_mask_by_default():
    import pytensor
    (b,) = BucketIterator([[2, 4, 3]], batch_size=2).epoch(0)
    assert b.mask.dtype == np.dtype(pytensor.config.floatX)


# -- stream mode ---------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(st.integers(0, 300), st.integers(1, 6), st.integers(1, 9))
def test_stream_windows_follow_the_rows(n, batch_size, num_steps):
    data = np.arange(n, dtype=np.int32) + 4
    batch_len = n // batch_size
    expected_windows = max(0, (batch_len - 1) // num_steps)
    assert stream_num_windows(n, batch_size, num_steps) == expected_windows
    if expected_windows == 0:
        with pytest.raises(ValueError, match="too short"):
            list(stream_batches(data, batch_size, num_steps))
        return
    windows = list(stream_batches([data[:n // 2], data[n // 2:]], batch_size, num_steps))
    assert len(windows) == expected_windows
    for i, (X, y) in enumerate(windows):
        assert X.shape == y.shape == (batch_size, num_steps) and X.dtype == np.int32
        for r in range(batch_size):
            for t in range(num_steps):
                assert X[r, t] == data[r * batch_len + i * num_steps + t]
                assert y[r, t] == X[r, t] + 1
        if i:
            # row r of this window continues row r of the previous one
            assert (X[:, 0] == windows[i - 1][1][:, -1]).all()


def test_stream_rejects_bad_sizes():
    with pytest.raises(ValueError, match="positive"):
        list(stream_batches(np.arange(100), 0, 5))
    with pytest.raises(ValueError, match="positive"):
        list(stream_batches(np.arange(100), 4, 0))
