"""The bucketing / mask generator: integer sequences in, padded minibatches
with (batch, time) masks out, plus the unpadded view gradient accumulation
consumes.

Strategies (``BucketIterator(strategy=...)``):

``none``
    random batches of ``batch_size`` (the baseline);
``pool``
    shuffle, take pools of ``pool_batches * batch_size`` sequences, sort each
    pool by length, cut it into batches, shuffle the batches;
``boundaries``
    explicit length buckets (``boundaries=[b0, b1, ...]``: lengths ``<= b0``,
    ``(b0, b1]``, ..., ``> b_last``; by default boundaries growing by 15%,
    see ``default_boundaries``); full batches are cut within a bucket and
    the leftovers of all buckets are sorted together and cut, so at most one
    batch per epoch is partial;
``tokens``
    like ``pool`` but batches are filled while ``rows * padded_width`` stays
    within ``max_tokens`` (a budget on padded cells, i.e. memory), so short
    sequences come in big batches and long ones in small batches.

Padded widths: a batch is padded to its longest row rounded up to a rung of
the ladder ``pad_multiple, ...``, each rung the previous one times
``pad_growth`` rounded up to a multiple of ``pad_multiple`` (and at least one
multiple more). ``pad_growth=1`` (the default) allows every multiple of
``pad_multiple``; a static-shape backend, which compiles one function per
width, wants few widths with little padding: multiple 4 and growth 1.3 give
4, 8, 12, 16, 24, 32, 44, 60, 80, ...

Padded rows: with ``pad_rows`` a batch of ``n`` sequences gets ``batch_size``
rows when ``n <= batch_size`` and rows from the ladder ``batch_size, ...``
growing by 1.3 otherwise (``tokens`` batches), the extra rows all padding
(mask 0); with ``max_widths=k`` the batches take at most ``k`` widths, the
rungs chosen by :func:`fewest_cells_widths` for the batches of epoch 0 (the
longest sequence's rung among them), each batch padded to the smallest chosen
width that holds it. Together they keep the number of distinct array shapes,
and so of compiled functions on a static-shape backend, small.

Every kept sequence appears exactly once per epoch (the one partial batch is
dropped with ``drop_last``; the ``tokens`` strategy has no partial batch and
ignores it). The order depends only on ``(seed, epoch)``.

For ``task="lm"`` an input sequence is a full id array (``[bos] + ids +
[eos]``): a row holds ``X = seq[:-1]`` and targets ``y = seq[1:]``, so ``n``
ids give ``n - 1`` real steps and sequences with fewer than 2 ids are empty.
For ``task="classify"`` ``X = seq`` and ``y`` is the sequence's label.
Lengths (and ``max_len``) count real steps. Sequences longer than ``max_len``
are truncated, split into consecutive pieces (language-model pieces overlap by
one id so that no target is lost; classification pieces keep the label), or
dropped, per ``overflow``; the iterator counts what it did.
"""
import bisect
import itertools
import math

import numpy as np

from ..utils import ladder_width

__all__ = ["Batch", "BucketIterator", "default_boundaries", "padded_width",
           "fewest_cells_widths", "STRATEGIES", "OVERFLOW", "floatx"]

STRATEGIES = ("none", "pool", "boundaries", "tokens")
OVERFLOW = ("truncate", "split", "drop")
TASKS = ("lm", "classify")


def floatx():
    """PyTensor's floatX (imported lazily: building batches needs no PyTensor)."""
    import pytensor
    return pytensor.config.floatX


#: The width a row of ``length`` steps is padded to (the ladder described
#: in the module docstring).
padded_width = ladder_width


def fewest_cells_widths(rungs, count):
    """At most ``count`` of the widths ``rungs`` (one per batch: its rung of
    the ladder) that pad the batches into the fewest cells, each batch
    padded to the smallest chosen width that holds it; the largest rung is
    always chosen. Sorted; of equally good choices, the first in order of
    the smaller widths."""
    if count < 1:
        raise ValueError("count must be at least 1, not %r" % (count,))
    distinct = sorted(set(int(r) for r in rungs))
    if len(distinct) <= count:
        return distinct

    def cells(chosen):
        return sum(chosen[bisect.bisect_left(chosen, r)] for r in rungs)
    choices = (list(lower) + distinct[-1:]
               for lower in itertools.combinations(distinct[:-1], count - 1))
    return min(choices, key=cells)  # min keeps the first of equal ones


def default_boundaries(longest, growth=1.15):
    """Bucket boundaries 1, 2, ..., growing by ``growth`` (at least 1) up to
    ``longest``: padding within a bucket stays under ``growth - 1``."""
    bounds = [1]
    while bounds[-1] < longest:
        bounds.append(max(bounds[-1] + 1, int(math.ceil(bounds[-1] * growth))))
    return bounds


class Batch:
    """One minibatch. ``X``, ``mask``, ``y`` are built on first access.

    ``X`` (B, T) int32 right-padded with ``pad_id``; ``mask`` (B, T) floatX,
    1 on real steps; ``y`` (B, T) int32 padded with ``pad_id`` (lm) or (B,)
    int32 labels (classify); ``lengths`` (B,) real steps per row;
    ``n_tokens`` real steps in all (= ``mask.sum()``); ``indices`` (B,) each
    row's position in the iterator's input list; ``pieces`` (B,) the piece
    number of a split sequence (0 otherwise). With ``pad_rows`` the arrays
    have ``rows = max(B, pad_rows)`` rows, the last ones padding (mask 0,
    targets ``pad_id`` or label 0); ``lengths``, ``len()`` and the
    sequences are the real rows'.
    """

    def __init__(self, xs, ys, indices, pieces, task, pad_id=0, pad_multiple=1,
                 mask_dtype=None, pad_growth=1.0, pad_rows=None):
        self._xs = xs
        self._ys = ys
        self.task = task
        self.pad_id = int(pad_id)
        self.pad_multiple = int(pad_multiple)
        self.pad_growth = float(pad_growth)
        self._mask_dtype = mask_dtype
        self.indices = np.asarray(indices, dtype=np.int64)
        self.pieces = np.asarray(pieces, dtype=np.int64)
        self.lengths = np.fromiter((len(x) for x in xs), dtype=np.int64, count=len(xs))
        self.n_tokens = int(self.lengths.sum())
        self.width = padded_width(int(self.lengths.max()) if len(xs) else 0,
                                  self.pad_multiple, self.pad_growth)
        #: rows of the arrays: the real ones, then padding rows (mask 0)
        self.rows = max(len(xs), int(pad_rows or 0))
        self._pads_rows = pad_rows is not None
        self._arrays = None

    def __len__(self):
        return len(self._xs)

    @property
    def size(self):
        return len(self._xs)

    @property
    def cells(self):
        """B * T: every cell of the padded arrays (padding rows included)."""
        return self.rows * self.width

    @property
    def padded_cells(self):
        """Padding cells (mask 0)."""
        return self.cells - self.n_tokens

    def _build(self):
        if self._arrays is None:
            B, T = self.rows, self.width
            dtype = self._mask_dtype or floatx()
            X = np.full((B, T), self.pad_id, dtype=np.int32)
            mask = np.zeros((B, T), dtype=dtype)
            if self.task == "lm":
                y = np.full((B, T), self.pad_id, dtype=np.int32)
                for i, (x, t) in enumerate(zip(self._xs, self._ys)):
                    n = len(x)
                    X[i, :n] = x
                    y[i, :n] = t
                    mask[i, :n] = 1
            else:
                y = np.zeros(B, dtype=np.int32)
                y[:len(self._ys)] = self._ys
                for i, x in enumerate(self._xs):
                    n = len(x)
                    X[i, :n] = x
                    mask[i, :n] = 1
            self._arrays = (X, mask, y)
        return self._arrays

    @property
    def X(self):
        return self._build()[0]

    @property
    def mask(self):
        return self._build()[1]

    @property
    def y(self):
        return self._build()[2]

    def arrays(self):
        """``(X, mask, y)``."""
        return self._build()

    def sequences(self):
        """The unpadded rows, in order: ``(x, y)`` with ``x`` int32 (len,) and
        ``y`` int32 (len,) targets (lm) or an int label (classify)."""
        if self.task == "lm":
            return [(x, y) for x, y in zip(self._xs, self._ys)]
        return [(x, int(y)) for x, y in zip(self._xs, self._ys)]

    def micro_batches(self, size, pad_rows=None):
        """This batch's real rows, in order, as Batches of at most ``size``
        rows, each padded to its own longest row (and, when this batch pads
        rows, to ``pad_rows`` rows, by default ``size``)."""
        size = int(size)
        if size <= 0:
            raise ValueError("micro-batch size must be positive, not %d" % size)
        return [self.rows_between(a, min(a + size, len(self._xs)), pad_rows or size)
                for a in range(0, len(self._xs), size)]

    def rows_between(self, start, stop, pad_rows=None):
        """Real rows ``start`` to ``stop`` (exclusive) as a Batch padded to its
        own longest row (and, when this batch pads rows, to ``pad_rows``
        rows, by default ``stop - start``)."""
        return Batch(self._xs[start:stop], self._ys[start:stop],
                     self.indices[start:stop], self.pieces[start:stop],
                     self.task, self.pad_id, self.pad_multiple, self._mask_dtype,
                     self.pad_growth,
                     pad_rows=(pad_rows or stop - start) if self._pads_rows else None)

    def __repr__(self):
        return "Batch(%d x %d, %d tokens)" % (self.rows, self.width, self.n_tokens)


class BucketIterator:
    """Bucketing minibatch generator; see the module docstring.

    ``iterator.epoch(e)`` gives the list of Batches of epoch ``e``;
    ``iterator.stats(e)`` the statistics of that epoch without building arrays.
    """

    def __init__(self, sequences, labels=None, batch_size=32, strategy="pool",
                 task="lm", max_len=None, overflow="truncate", pad_id=0, seed=0,
                 drop_last=False, pool_batches=100, boundaries=None,
                 max_tokens=None, pad_multiple=1, mask_dtype=None, pad_growth=1.0,
                 pad_rows=False, max_widths=None):
        if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size <= 0:
            raise ValueError("batch_size must be a positive integer, not %r" % (batch_size,))
        if strategy not in STRATEGIES:
            raise ValueError("strategy must be one of %s, not %r"
                             % (", ".join(STRATEGIES), strategy))
        if task not in TASKS:
            raise ValueError("task must be one of %s, not %r" % (", ".join(TASKS), task))
        if overflow not in OVERFLOW:
            raise ValueError("overflow must be one of %s, not %r"
                             % (", ".join(OVERFLOW), overflow))
        if max_len is not None and int(max_len) < 1:
            raise ValueError("max_len must be at least 1, not %r" % (max_len,))
        if int(pool_batches) < 1:
            raise ValueError("pool_batches must be at least 1, not %r" % (pool_batches,))
        if int(pad_multiple) < 1:
            raise ValueError("pad_multiple must be at least 1, not %r" % (pad_multiple,))
        if not 1.0 <= float(pad_growth) < math.inf:
            raise ValueError("pad_growth must be a finite number of at least 1, not %r"
                             % (pad_growth,))
        if int(seed) < 0:
            raise ValueError("seed must be non-negative, not %r" % (seed,))
        if max_widths is not None and (int(max_widths) < 1 or strategy == "tokens"):
            raise ValueError("max_widths must be at least 1 and is not for the 'tokens' "
                             "strategy (its budget counts ladder widths), not %r with %r"
                             % (max_widths, strategy))
        sequences = list(sequences)
        if task == "classify":
            if labels is None:
                raise ValueError("task 'classify' needs labels")
            labels = list(labels)
            if len(labels) != len(sequences):
                raise ValueError("%d labels for %d sequences" % (len(labels), len(sequences)))
        elif labels is not None:
            raise ValueError("labels are only for task 'classify'")
        self.batch_size = int(batch_size)
        self.strategy = strategy
        self.task = task
        self.max_len = None if max_len is None else int(max_len)
        self.overflow = overflow
        self.pad_id = int(pad_id)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.pool_batches = int(pool_batches)
        self.pad_multiple = int(pad_multiple)
        self.pad_growth = float(pad_growth)
        self.mask_dtype = mask_dtype
        self.pad_rows = bool(pad_rows)
        self.input_sequences = len(sequences)
        self._prepare(sequences, labels)
        self.boundaries = self._check_boundaries(boundaries)
        self.max_tokens = self._check_max_tokens(max_tokens)
        #: the widths every batch is padded to (None: its own rung)
        self.widths = None
        if max_widths is not None:
            rungs = [self._rung(items) for items in self.plan(0)]
            # the longest sequence's rung too: epoch 0 may have dropped it
            # (drop_last), a later epoch's batch may hold it
            longest = [self._width(int(self.lengths.max()))] if len(self.lengths) else []
            self.widths = fewest_cells_widths(rungs + longest, int(max_widths))

    # -- preparation ------------------------------------------------------------
    def _prepare(self, sequences, labels):
        lm = self.task == "lm"
        extra = 1 if lm else 0       # ids per row beyond its steps
        xs, ys, idx, pieces = [], [], [], []
        counts = dict(truncated=0, split=0, pieces=0, dropped=0, empty=0,
                      truncated_tokens=0, dropped_tokens=0)
        max_len = self.max_len
        for i, seq in enumerate(sequences):
            arr = np.asarray(seq)
            if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
                raise ValueError("sequence %d is not a 1-D integer sequence" % i)
            arr = arr.astype(np.int32, copy=False)
            steps = len(arr) - extra
            if steps < 1:
                counts["empty"] += 1
                continue
            if max_len is not None and steps > max_len:
                if self.overflow == "drop":
                    counts["dropped"] += 1
                    counts["dropped_tokens"] += steps
                    continue
                if self.overflow == "truncate":
                    counts["truncated"] += 1
                    counts["truncated_tokens"] += steps - max_len
                    chunks = [arr[:max_len + extra]]
                else:
                    counts["split"] += 1
                    chunks = [arr[s:s + max_len + extra] for s in range(0, steps, max_len)]
                    counts["pieces"] += len(chunks)
            else:
                chunks = [arr]
            for p, chunk in enumerate(chunks):
                if lm:
                    xs.append(chunk[:-1])
                    ys.append(chunk[1:])
                else:
                    xs.append(chunk)
                    ys.append(int(labels[i]))
                idx.append(i)
                pieces.append(p)
        self._xs, self._ys = xs, ys
        self._index = np.asarray(idx, dtype=np.int64)
        self._piece = np.asarray(pieces, dtype=np.int64)
        self.lengths = np.fromiter((len(x) for x in xs), dtype=np.int64, count=len(xs))
        self.counts = counts

    def _check_boundaries(self, boundaries):
        if boundaries is None:
            if self.strategy != "boundaries" or not len(self.lengths):
                return None
            return default_boundaries(int(self.lengths.max()))
        b = [int(v) for v in boundaries]
        if not b or any(v < 1 for v in b) or any(x >= y for x, y in zip(b, b[1:])):
            raise ValueError("boundaries must be increasing positive lengths, not %r"
                             % (list(boundaries),))
        return b

    def _check_max_tokens(self, max_tokens):
        longest = self._width(int(self.lengths.max())) if len(self.lengths) else 0
        if max_tokens is None:
            if self.strategy != "tokens":
                return None
            mean = float(self.lengths.mean()) if len(self.lengths) else 1.0
            return max(self.batch_size * self._width(int(math.ceil(mean))), longest)
        max_tokens = int(max_tokens)
        if max_tokens <= 0:
            raise ValueError("max_tokens must be positive, not %d" % max_tokens)
        if longest > max_tokens:
            raise ValueError("a sequence of %d steps does not fit the token budget of %d; "
                             "raise max_tokens or set max_len" % (longest, max_tokens))
        return max_tokens

    def _width(self, length):
        return padded_width(length, self.pad_multiple, self.pad_growth)

    def _rung(self, items):
        """The ladder's width for the batch of sequences ``items``."""
        return self._width(int(self.lengths[items].max()))

    def padded_rows(self, rows):
        """The array rows of a batch of ``rows`` sequences: ``rows`` itself, or
        with ``pad_rows`` the ladder ``batch_size, ...`` growing by 1.3 (a
        partial batch gets ``batch_size`` rows)."""
        if not self.pad_rows:
            return rows
        return padded_width(rows, self.batch_size, 1.3)

    # -- planning ---------------------------------------------------------------
    def _rng(self, epoch):
        return np.random.default_rng([self.seed, int(epoch)])

    def _cut(self, order):
        bs = self.batch_size
        return [order[a:a + bs] for a in range(0, len(order), bs)]

    def plan(self, epoch=0):
        """The item indices of each batch of ``epoch``, in order."""
        if int(epoch) < 0:
            raise ValueError("epoch must be non-negative, not %r" % (epoch,))
        n = len(self.lengths)
        if n == 0:
            return []
        rng = self._rng(epoch)
        perm = rng.permutation(n)
        L = self.lengths
        bs = self.batch_size
        partial_last = False
        if self.strategy == "none":
            batches = self._cut(perm)
            partial_last = len(batches[-1]) < bs
            if self.drop_last and partial_last:
                batches = batches[:-1]
            return batches
        if self.strategy == "pool":
            pool = self.pool_batches * bs
            batches = []
            for a in range(0, n, pool):
                chunk = perm[a:a + pool]
                batches.extend(self._cut(chunk[np.argsort(L[chunk], kind="stable")]))
            if self.drop_last and len(batches[-1]) < bs:
                batches = batches[:-1]
        elif self.strategy == "boundaries":
            bucket = np.searchsorted(np.asarray(self.boundaries), L[perm], side="left")
            batches, leftovers = [], []
            for b in range(len(self.boundaries) + 1):
                members = perm[bucket == b]
                full = len(members) // bs * bs
                batches.extend(self._cut(members[:full]))
                leftovers.append(members[full:])
            rest = np.concatenate(leftovers)
            rest = rest[np.argsort(L[rest], kind="stable")]
            tail = self._cut(rest)
            if self.drop_last and tail and len(tail[-1]) < bs:
                tail = tail[:-1]
            batches.extend(tail)
        else:  # tokens
            pool = self.pool_batches * bs
            budget = self.max_tokens
            batches = []
            for a in range(0, n, pool):
                chunk = perm[a:a + pool]
                chunk = chunk[np.argsort(L[chunk], kind="stable")]
                start = 0
                for j in range(len(chunk)):
                    width = self._width(int(L[chunk[j]]))
                    if j > start and (j - start + 1) * width > budget:
                        batches.append(chunk[start:j])
                        start = j
                batches.append(chunk[start:])
        if not batches:
            return []
        order = rng.permutation(len(batches))
        return [batches[k] for k in order]

    def _batch(self, items):
        items = items.tolist()
        multiple, growth = self.pad_multiple, self.pad_growth
        if self.widths is not None:
            # one multiple of the chosen width that holds the batch: that width
            multiple = self.widths[bisect.bisect_left(self.widths, self._rung(items))]
            growth = 1.0
        return Batch([self._xs[k] for k in items], [self._ys[k] for k in items],
                     self._index[items], self._piece[items], self.task, self.pad_id,
                     multiple, self.mask_dtype, growth,
                     pad_rows=self.padded_rows(len(items)) if self.pad_rows else None)

    def epoch(self, epoch=0):
        """The Batches of ``epoch`` (arrays are built when first used)."""
        return [self._batch(items) for items in self.plan(epoch)]

    def __iter__(self):
        return iter(self.epoch(0))

    def num_batches(self, epoch=0):
        return len(self.plan(epoch))

    # -- statistics -------------------------------------------------------------
    def stats(self, epoch=0):
        """Statistics of ``epoch``: ``sequences`` (rows), ``tokens`` (real steps),
        ``cells`` (B*T summed), ``padded_cells`` (padding cells), ``padding_fraction``
        (padded/cells), ``batches``, and the input counts ``input_sequences``,
        ``truncated``, ``split``, ``pieces``, ``dropped``, ``empty``,
        ``truncated_tokens``, ``dropped_tokens``, ``skipped_by_drop_last``."""
        plan = self.plan(epoch)
        L = self.lengths
        rows = sum(len(b) for b in plan)
        tokens = int(sum(int(L[b].sum()) for b in plan))
        sizes = [len(b) for b in plan]
        widths = [self._width(int(L[b].max())) for b in plan]
        array_rows = [self.padded_rows(n) for n in sizes]
        cells = int(sum(r * w for r, w in zip(array_rows, widths)))
        out = {
            "strategy": self.strategy,
            "epoch": int(epoch),
            "batch_size": self.batch_size,
            "input_sequences": self.input_sequences,
            "sequences": rows,
            "tokens": tokens,
            "cells": cells,
            "padded_cells": cells - tokens,
            "padding_fraction": (cells - tokens) / cells if cells else 0.0,
            "batches": len(plan),
            "mean_batch_rows": float(np.mean(sizes)) if sizes else 0.0,
            "mean_batch_width": float(np.mean(widths)) if widths else 0.0,
            "max_batch_cells": int(max((r * w for r, w in zip(array_rows, widths)),
                                       default=0)),
            "distinct_widths": len(set(widths)),
            "distinct_shapes": len(set(zip(array_rows, widths))),
            "skipped_by_drop_last": len(L) - rows,
        }
        out.update(self.counts)
        if self.strategy == "boundaries":
            out["boundaries"] = list(self.boundaries or [])
        if self.strategy == "tokens":
            out["max_tokens"] = self.max_tokens
        return out
