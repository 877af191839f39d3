"""The training loop: data → batches → compiled step functions → updates, with
evaluation, learning-rate schedules, progress bars, JSON-lines logs and
checkpoints that survive a crash.

A run is described by one flat configuration dict (see :data:`DEFAULTS`);
the same dict is stored in every checkpoint, so ``evaluate``, ``generate``
and ``--resume`` rebuild exactly the same data pipeline and model.
"""
import contextlib
import json
import math
import sys
import time

import numpy as np
import pytensor

from .. import backends
from . import checkpoint
from .batching import BucketIterator
from .data import Vocabulary, load_corpus, task_sequences
from .models import build_model
from ..random import get_rng, set_rng
from .steps import StepFunctions

#: Every setting of a run and its default. The defaults train a word-level
#: Shakespeare language model in a few minutes on two CPU cores.
DEFAULTS = dict(
    # data
    corpus="shakespeare", task="lm", level="word", lowercase=True,
    max_sequences=20000, vocab_size=10000, min_count=1, max_len=60,
    overflow="truncate", batch_size=32, bucketing="pool", seed=0,
    encoding=None, pad_multiple=None, pad_growth=None,
    # model
    embedding=128, hidden=256, layers=1, cell="lstm", grad_clipping=5.0,
    dropout=0.0, tie_embeddings=False, bidirectional=False, init_range=None,
    # training
    mode="masked", accumulate=None, micro_batch=1, weighting="tokens",
    optimizer="adam", learning_rate=None, max_grad_norm=None,
    lr_schedule="constant", lr_decay=0.5, lr_decay_start=4, patience=1,
    epochs=1, max_steps=None, backend=backends.DEFAULT_BACKEND, save_every=None,
    float_type="float32",
)
MODEL_KEYS = ("task", "embedding", "hidden", "layers", "cell", "grad_clipping",
              "dropout", "tie_embeddings", "bidirectional", "init_range")
SCHEDULES = ("constant", "decay", "plateau")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class LearningRateSchedule:
    """Changes the learning rate at the end of each epoch.

    * ``constant``: never;
    * ``decay``: multiply by ``factor`` at the end of every epoch from epoch
      ``start`` on (1-based), as in Zaremba et al. (2014): lr 1 halved after
      each epoch from the 4th on is ``decay`` with factor 0.5, start 4;
    * ``plateau``: multiply by ``factor`` when the validation loss has not
      improved for ``patience`` epochs.
    """

    def __init__(self, kind="constant", factor=0.5, start=4, patience=1):
        if kind not in SCHEDULES:
            raise ValueError("unknown learning-rate schedule %r: expected one of %s"
                             % (kind, ", ".join(SCHEDULES)))
        self.kind, self.factor, self.start, self.patience = kind, factor, start, patience
        self.best = math.inf
        self.bad_epochs = 0

    def end_epoch(self, epoch, valid_loss, lr):
        """The learning rate after (0-based) ``epoch`` ended with ``valid_loss``."""
        if self.kind == "decay" and epoch + 1 >= self.start:
            return lr * self.factor
        if self.kind == "plateau" and valid_loss is not None:
            if valid_loss < self.best:
                self.best, self.bad_epochs = valid_loss, 0
            else:
                self.bad_epochs += 1
                if self.bad_epochs >= self.patience:
                    self.bad_epochs = 0
                    return lr * self.factor
        return lr

    def state(self):
        return {"best": None if math.isinf(self.best) else self.best,
                "bad_epochs": self.bad_epochs}

    def load_state(self, state):
        self.best = math.inf if state.get("best") is None else state["best"]
        self.bad_epochs = state.get("bad_epochs", 0)


@contextlib.contextmanager
def _seeded_package_rng(seed):
    """Seed the initializers' generator for one block, then put the old one back."""
    previous = get_rng()
    set_rng(np.random.RandomState(seed))
    try:
        yield
    finally:
        set_rng(previous)


def _new_totals():
    """Running sums of an epoch. Throughput leaves out updates that compiled
    a function (the first one; on JAX the first of every new batch shape)."""
    return dict(loss=0.0, targets=0.0, cells=0, seconds=0.0, timed_targets=0.0,
                compile_seconds=0.0)


def _rate(totals):
    """Real tokens per second of the timed updates (None before any)."""
    if totals["seconds"] <= 0:
        return None
    return totals["timed_targets"] / totals["seconds"]


def _perplexity(loss):
    return float(math.exp(min(loss, 700.0)))


def encode_split(vocab, corpus, split):
    """Integer sequences (and labels) of one split, as the batcher takes them."""
    labels = None if corpus.task == "lm" else list(getattr(corpus, split + "_labels"))
    return task_sequences(vocab, getattr(corpus, split), corpus.task), labels


class Run:
    """One training run: its data, model, step functions and state.

    Parameters
    ----------
    config : dict
        Settings; missing keys take the checkpoint's values when resuming,
        else :data:`DEFAULTS`.
    resume : str or :class:`checkpoint.Checkpoint`, optional
        A checkpoint to continue from: its parameters, optimizer state, data
        position, schedule and random states are restored.
    log : file-like, optional
        Receives one JSON object per line for every update and epoch.
    progress : bool
        Show progress bars (on stderr).

    Setting up a run sets PyTensor's ``floatX`` to ``config['float_type']``;
    initial weights and dropout seeds are drawn from a generator seeded with
    ``config['seed']``.
    """

    def __init__(self, config=None, resume=None, log=None, progress=True):
        saved = checkpoint.load(resume) if isinstance(resume, str) else resume
        base = saved.meta["config"] if saved is not None else {}
        self.config = dict(DEFAULTS, **base)
        self.config.update(config or {})
        c = self.config
        pytensor.config.floatX = c["float_type"]
        self.log = log
        self.progress = progress
        self.corpus = load_corpus(c["corpus"], task=c["task"], level=c["level"],
                                  lowercase=c["lowercase"], seed=c["seed"],
                                  encoding=c["encoding"],
                                  max_sequences=c["max_sequences"] or None)
        if saved is not None:
            self.vocab = Vocabulary.from_dict(saved.meta["vocab"])
        else:
            self.vocab = Vocabulary.build(self.corpus.train, min_count=c["min_count"],
                                          max_size=c["vocab_size"], level=c["level"])
        # accumulation consumes windows of --accumulate sequences as its batches
        window = (c["accumulate"] or c["batch_size"]) if c["mode"] == "accumulate" \
            else c["batch_size"]
        self.train_batches = self._iterator("train", window, c["bucketing"])
        self.valid_batches = self._iterator("valid", c["batch_size"], "pool")
        with _seeded_package_rng(c["seed"]):
            self.model = build_model(self.model_config())
        self.steps = StepFunctions(
            self.model, mode=c["mode"], optimizer=c["optimizer"],
            learning_rate=c["learning_rate"], max_grad_norm=c["max_grad_norm"],
            backend=c["backend"], weighting=c["weighting"])
        self.schedule = LearningRateSchedule(c["lr_schedule"], c["lr_decay"],
                                             c["lr_decay_start"], c["patience"])
        self.step = 0
        self.epoch = 0
        self.position = 0  # next batch within the epoch
        self.epoch_totals = _new_totals()  # the epoch so far, across fit() calls
        self.history = []
        if saved is not None:
            self._restore(saved)

    # -- set-up --------------------------------------------------------------
    def model_config(self):
        c = self.config
        config = {k: c[k] for k in MODEL_KEYS}
        config["vocab_size"] = len(self.vocab)
        if c["task"] == "classify":
            config["num_classes"] = len(self.corpus.label_names)
        return config

    def _iterator(self, split, batch_size, strategy):
        c = self.config
        seqs, labels = encode_split(self.vocab, self.corpus, split)
        # static-shape backends compile one function per (batch, time)
        multiple, growth = backends.default_padding(c["backend"])
        return BucketIterator(seqs, labels=labels, batch_size=batch_size,
                              strategy=strategy, task=c["task"], max_len=c["max_len"],
                              overflow=c["overflow"], pad_id=self.vocab.pad_id,
                              seed=c["seed"],
                              pad_multiple=c["pad_multiple"] or multiple,
                              pad_growth=c["pad_growth"] or growth)

    # -- checkpoints ---------------------------------------------------------
    def save(self, path):
        """Write the run's full state to ``path`` atomically."""
        streams = self.model.random_streams()
        rng_state = {name: [var.get_value().bit_generator.state
                            for var, _ in stream.state_updates]
                     for name, stream in streams.items()}
        meta = dict(step=self.step, epoch=self.epoch, position=self.position,
                    config=self.config, model_config=self.model_config(),
                    vocab=self.vocab.to_dict(),
                    learning_rate=float(self.steps.learning_rate.get_value()),
                    schedule=self.schedule.state(), rng=rng_state,
                    epoch_totals=self.epoch_totals,
                    history=self.history)
        checkpoint.save(path, checkpoint.Checkpoint(
            {name: p.get_value() for name, p in self.model.params.items()},
            [v.get_value() for v in self.steps.optimizer_state], meta=meta))

    def _restore(self, saved):
        checkpoint.check_params_match(saved, self.model.params)
        names = list(self.model.params)
        checkpoint.set_values([self.model.params[n] for n in names],
                              [saved.params[n] for n in names], "parameter")
        checkpoint.set_values(self.steps.optimizer_state, saved.optimizer_state,
                              "optimizer state")
        meta = saved.meta
        self.step, self.epoch, self.position = meta["step"], meta["epoch"], meta["position"]
        self.steps.learning_rate.set_value(np.asarray(
            meta["learning_rate"], dtype=self.steps.learning_rate.dtype))
        self.schedule.load_state(meta.get("schedule", {}))
        self.epoch_totals = dict(_new_totals(), **meta.get("epoch_totals", {}))
        self.history = list(meta.get("history", []))
        streams = self.model.random_streams()
        for name, states in meta.get("rng", {}).items():
            if name in streams:
                for (var, _), state in zip(streams[name].state_updates, states):
                    gen = var.get_value()
                    gen.bit_generator.state = state
                    var.set_value(gen)

    # -- training ------------------------------------------------------------
    def _emit(self, record):
        if record["event"] == "epoch":
            self.history.append(record)
        if self.log is not None:
            self.log.write(json.dumps(record) + "\n")
            self.log.flush()

    def _cells(self, batch):
        """Cells the step functions processed (real tokens plus padding)."""
        c = self.config
        if c["mode"] == "masked":
            return batch.cells
        if c["micro_batch"] == 1 and not backends.needs_static_shapes(c["backend"]):
            return batch.n_tokens  # unpadded sequences
        # counted from lengths and widths; no padded arrays are built again
        return sum(mb.cells for mb in batch.micro_batches(c["micro_batch"]))

    def fit(self, checkpoint_path=None):
        """Train until ``epochs`` are done or ``max_steps`` updates were made.

        Saves to ``checkpoint_path`` every ``save_every`` updates, at the end of
        every epoch and at the end. Returns the list of epoch records.

        Raises
        ------
        TrainingDiverged
            If a loss is NaN or infinite (the last checkpoint written is kept).
        """
        from tqdm import tqdm
        c = self.config
        max_steps = c["max_steps"]
        start = time.perf_counter()
        while self.epoch < c["epochs"]:
            if max_steps is not None and self.step >= max_steps:
                break
            batches = self.train_batches.epoch(self.epoch)
            totals = self.epoch_totals
            bar = tqdm(total=len(batches), initial=self.position, unit="batch",
                       desc="epoch %d" % (self.epoch + 1), file=sys.stderr,
                       disable=not self.progress, dynamic_ncols=True)
            while self.position < len(batches):
                if max_steps is not None and self.step >= max_steps:
                    break
                batch = batches[self.position]
                t0 = time.perf_counter()
                compiling = self.steps.compile_seconds
                loss_sum, n = self.steps.train_batch(batch, c["micro_batch"])
                seconds = time.perf_counter() - t0
                compiling = self.steps.compile_seconds - compiling
                loss = loss_sum / max(n, 1.0)
                if not np.isfinite(loss):
                    bar.close()
                    raise TrainingDiverged(
                        "the training loss became %s at update %d (epoch %d); try a "
                        "lower --learning-rate or --max-grad-norm" % (
                            loss, self.step + 1, self.epoch + 1))
                self.step += 1
                self.position += 1
                cells = self._cells(batch)
                for key, value in (("loss", loss_sum), ("targets", n),
                                   ("cells", cells)):
                    totals[key] += value
                if compiling:
                    totals["compile_seconds"] += compiling
                else:
                    totals["seconds"] += seconds
                    totals["timed_targets"] += n
                lr = float(self.steps.learning_rate.get_value())
                self._emit(dict(event="update", step=self.step, epoch=self.epoch + 1,
                                loss=loss, perplexity=_perplexity(loss), tokens=int(n),
                                padding_fraction=1.0 - n / max(cells, 1)
                                if c["task"] == "lm" else None,
                                tokens_per_s=None if compiling else n / max(seconds, 1e-9),
                                seconds=seconds, compile_seconds=compiling,
                                learning_rate=lr,
                                wall_time=time.perf_counter() - start))
                bar.set_postfix(loss="%.3f" % loss, tok_s="%.0f" % (_rate(totals) or 0))
                bar.update(1)
                if checkpoint_path and c["save_every"] and self.step % c["save_every"] == 0:
                    self.save(checkpoint_path)
            bar.close()
            if self.position >= len(batches):
                self._end_epoch(totals, start)
                if checkpoint_path:
                    self.save(checkpoint_path)
        if checkpoint_path:
            self.save(checkpoint_path)
        return self.history

    def _end_epoch(self, totals, start):
        c = self.config
        valid = self.evaluate("valid")
        lr = float(self.steps.learning_rate.get_value())
        train_loss = totals["loss"] / max(totals["targets"], 1.0)
        record = dict(event="epoch", epoch=self.epoch + 1, step=self.step,
                      train_loss=train_loss, train_perplexity=_perplexity(train_loss),
                      valid_loss=valid["loss"], valid_perplexity=valid["perplexity"],
                      valid_accuracy=valid["accuracy"], tokens=int(totals["targets"]),
                      padding_fraction=(1.0 - totals["targets"] / max(totals["cells"], 1)
                                        if c["task"] == "lm" else None),
                      tokens_per_s=_rate(totals),
                      compile_seconds=totals["compile_seconds"],
                      learning_rate=lr, wall_time=time.perf_counter() - start)
        self._emit(record)
        new_lr = self.schedule.end_epoch(self.epoch, valid["loss"], lr)
        self.steps.learning_rate.set_value(np.asarray(new_lr, dtype=self.steps.learning_rate.dtype))
        self.epoch += 1
        self.position = 0
        self.epoch_totals = _new_totals()

    def evaluate(self, split="valid"):
        """Mean loss, perplexity and accuracy on a split (no updates)."""
        iterator = (self.valid_batches if split == "valid"
                    else self._iterator(split, self.config["batch_size"], "pool"))
        loss = targets = correct = 0.0
        for batch in iterator.epoch(0):
            l, n, k = self.steps.evaluate(batch.X, batch.mask, batch.y)
            loss, targets, correct = loss + l, targets + n, correct + k
        if targets == 0:
            return dict(loss=None, perplexity=None, accuracy=None, targets=0)
        mean = loss / targets
        return dict(loss=mean, perplexity=_perplexity(mean),
                    accuracy=correct / targets, targets=int(targets))


