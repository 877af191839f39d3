"""What one update of a run consumes, and how it is applied: the link between
the data (:mod:`.data`, :mod:`.batching`), the step functions (:mod:`.steps`)
and the training loop (:mod:`.engine`).

* :class:`BatchFeed` (tasks ``lm`` and ``classify``): bucketed, padded
  batches of sequences, one masked update or one accumulation cycle each;
* :class:`StreamFeed` (task ``stream``): the corpus as one token stream cut
  into ``batch_size`` rows, read in windows of ``num_steps``, the recurrent
  state carried from window to window (Zaremba et al. 2014) and saved in
  checkpoints, so a resumed run continues the same stream.

Both give the engine the same few operations: :meth:`epoch` (the items of an
epoch, in order), :meth:`update` (train on one), :meth:`evaluate` (a split),
and the carried state for checkpoints.
"""
import numpy as np
import pytensor

from .. import backends
from .batching import BucketIterator
from .data import lm_stream, stream_batches, task_sequences
from .distributed import DistributedSteps, sum_over_ranks
from .steps import StepFunctions, StreamStepFunctions

#: Widths an evaluation split's batches take on a static-shape backend, each
#: a function compiled once. One width padded Shakespeare's validation split to
#: 60 steps (78% padding; the main job's evaluation took 6.1 to 6.6 s on 2
#: CPUs, ``benchmarks/cold_start.py``); two (16 and 60) halve its cells (54%
#: padding; 2.8 to 3.0 s) for one more compile of about 1.5 s of CPU. The
#: whole ladder (8 widths) would save less than its 7 more compiles cost a
#: one-epoch run.
EVALUATION_WIDTHS = 2


def encode_split(vocab, corpus, split):
    """Integer sequences (and labels) of one split, as the batcher takes them."""
    labels = None if corpus.task == "lm" else list(getattr(corpus, split + "_labels"))
    return task_sequences(vocab, getattr(corpus, split), corpus.task), labels


class BatchFeed:
    """Bucketed batches of whole sequences (tasks ``lm`` and ``classify``).

    Parameters
    ----------
    config : dict
        The run's settings.
    corpus, vocab
        The loaded corpus and its vocabulary.
    model
        A model of :mod:`lasagne_lstm.training.models`.
    comm : :class:`~lasagne_lstm.training.distributed.MPICommunicator`, optional
        Share every update and the evaluation among the ranks of an MPI job
        (:mod:`lasagne_lstm.training.distributed`).
    """

    def __init__(self, config, corpus, vocab, model, comm=None):
        self.config = c = config
        self.corpus, self.vocab = corpus, vocab
        self.comm = comm
        # accumulation consumes windows of --accumulate sequences as its batches
        window = (c["accumulate"] or c["batch_size"]) if c["mode"] == "accumulate" \
            else c["batch_size"]
        self.train_batches = self.iterator("train", window, c["bucketing"])
        self.valid_batches = self.iterator("valid", c["batch_size"], "pool",
                                           evaluation=True)
        # ranks add their shares' gradients into accumulators, whatever the mode
        self.steps = StepFunctions(
            model, mode="accumulate" if comm is not None else c["mode"],
            optimizer=c["optimizer"], learning_rate=c["learning_rate"],
            max_grad_norm=c["max_grad_norm"], backend=c["backend"],
            weighting=c["weighting"])
        if comm is not None:
            self.steps = DistributedSteps(self.steps, comm, c["mode"])

    def iterator(self, split, batch_size, strategy, evaluation=False):
        """The bucketing generator over one split.

        A static-shape backend compiles one function per (rows, width): its
        batches are padded to the width ladder and to ``batch_size`` rows
        (partial batches too), and an evaluation split to at most
        ``EVALUATION_WIDTHS`` widths, so a run compiles a handful of functions.
        """
        c = self.config
        seqs, labels = encode_split(self.vocab, self.corpus, split)
        multiple, growth = backends.default_padding(c["backend"])
        static = backends.needs_static_shapes(c["backend"])
        return BucketIterator(seqs, labels=labels, batch_size=batch_size,
                              strategy=strategy, task=c["task"], max_len=c["max_len"],
                              overflow=c["overflow"], pad_id=self.vocab.pad_id,
                              seed=c["seed"],
                              pad_multiple=c["pad_multiple"] or multiple,
                              pad_growth=c["pad_growth"] or growth,
                              pad_rows=static,
                              max_widths=EVALUATION_WIDTHS if static and evaluation else None)

    def epoch(self, epoch):
        return self.train_batches.epoch(epoch)

    def start_epoch(self, position):
        """Nothing is carried between batches."""

    def compile_ahead(self, batches):
        """Start compiling, in the background, what training on ``batches``
        and then evaluating the validation split will need (one function per
        shape on a static-shape backend); returns the handle to cancel, or
        None. Not under MPI, where each rank's shapes are its shares'."""
        if self.comm is not None:
            return None
        return self.steps.compile_ahead(batches, self.config["micro_batch"],
                                        evaluation=self.valid_batches.epoch(0))

    def update(self, batch, step=0):
        """Update ``step`` (0-based, it keys the dropout masks) on a batch;
        returns (loss sum, targets, cells processed)."""
        loss_sum, n = self.steps.train_batch(batch, self.config["micro_batch"], step)
        return loss_sum, n, self._cells(batch)

    def _cells(self, batch):
        """Cells the step functions processed (real tokens plus padding)."""
        c = self.config
        if c["mode"] == "masked":
            return batch.cells
        if c["micro_batch"] == 1 and not backends.needs_static_shapes(c["backend"]):
            return batch.n_tokens  # unpadded sequences
        # counted from lengths and widths; no padded arrays are built again
        return sum(mb.cells for mb in batch.micro_batches(c["micro_batch"]))

    def evaluate(self, split):
        """Summed loss, targets and correct predictions on a split."""
        iterator = (self.valid_batches if split == "valid"
                    else self.iterator(split, self.config["batch_size"], "pool",
                                       evaluation=True))
        loss = targets = correct = 0.0
        for k, batch in enumerate(iterator.epoch(0)):
            if self.comm is not None and k % self.comm.size != self.comm.rank:
                continue  # another rank's batch
            l, n, right = self.steps.evaluate(batch.X, batch.mask, batch.y)
            loss, targets, correct = loss + l, targets + n, correct + right
        if self.comm is not None:
            loss, targets, correct = sum_over_ranks(self.comm, [loss, targets, correct])
        return loss, targets, correct

    def carried_state(self):
        return []

    def restore_carried_state(self, arrays):
        if len(arrays):
            raise ValueError("a checkpoint of sequence batches carries no state")


class StreamFeed:
    """Windows of one token stream with the recurrent state carried between
    them (task ``stream``).

    The training split, each sentence followed by ``<eos>``, is one stream
    cut into ``batch_size`` rows and read in windows of ``num_steps``
    (:func:`lasagne_lstm.training.data.stream_batches`); every epoch reads the
    stream from its start with zero state. Evaluation reads a split the same
    way with one row.
    """

    def __init__(self, config, corpus, vocab, model):
        self.config = c = config
        self.corpus, self.vocab = corpus, vocab
        if c["mode"] != "masked":
            raise ValueError("--task stream trains one window per update; "
                             "--mode accumulate does not apply")
        self.train_ids = lm_stream(vocab, corpus.train)
        self.steps = StreamStepFunctions(
            model, optimizer=c["optimizer"], learning_rate=c["learning_rate"],
            max_grad_norm=c["max_grad_norm"], backend=c["backend"])
        self.states = None

    def epoch(self, epoch):
        """The windows of the stream (the same every epoch)."""
        c = self.config
        return list(stream_batches(self.train_ids, c["batch_size"], c["num_steps"]))

    def start_epoch(self, position):
        """Zero state at an epoch's start; a resumed run keeps its restored one."""
        if position == 0 or self.states is None:
            self.states = self.steps.initial_states(self.config["batch_size"])

    def compile_ahead(self, windows):
        """Nothing: every window has one shape, compiled by the first update."""
        return None

    def update(self, window, step=0):
        """Update ``step`` on a window, carrying the state into the next one;
        an update that was not applied (non-finite) carries nothing."""
        X, y = window
        loss_sum, n, states = self.steps.train(X, y, self.states, step)
        if self.steps.last_update_applied:
            self.states = states
        return loss_sum, n, n

    def evaluate(self, split):
        """Summed loss and tokens over a split read as one stream (one row)."""
        ids = lm_stream(self.vocab, getattr(self.corpus, split))
        states = self.steps.initial_states(1)
        loss = targets = 0.0
        try:
            windows = stream_batches(ids, 1, self.config["num_steps"])
            for X, y in windows:
                l, n, states = self.steps.evaluate(X, y, states)
                loss, targets = loss + l, targets + n
        except ValueError:  # a split too short for one window
            return 0.0, 0.0, None
        return loss, targets, None

    def carried_state(self):
        """The states to carry into the next window (for checkpoints)."""
        return [np.asarray(s) for s in self.states or []]

    def restore_carried_state(self, arrays):
        if not len(arrays):
            self.states = None
            return
        expected = self.steps.initial_states(self.config["batch_size"])
        if len(arrays) != len(expected) or any(
                np.shape(a) != e.shape for a, e in zip(arrays, expected)):
            raise ValueError("the checkpoint's carried state does not fit this model")
        self.states = [np.asarray(a, dtype=pytensor.config.floatX) for a in arrays]


def make_feed(config, corpus, vocab, model, comm=None):
    """The feed a run's task needs (``comm``: see :class:`BatchFeed`; a
    stream is not distributed, which :class:`~lasagne_lstm.training.engine.Run`
    refuses before loading anything)."""
    if config["task"] == "stream":
        return StreamFeed(config, corpus, vocab, model)
    return BatchFeed(config, corpus, vocab, model, comm)
