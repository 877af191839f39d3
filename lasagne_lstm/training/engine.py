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

from ..random import get_rng, set_rng
from . import checkpoint
from .data import Vocabulary, load_corpus
from .feeds import encode_split, make_feed  # noqa: F401  (encode_split: public here too)
from .models import build_model

# Every setting of a run, its default and the model's keys are defined once,
# in config.py; the command-line flags come from the same definition.
from .config import DEFAULTS, MODEL_KEYS, SCHEDULES


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
        # a stream is a language model's corpus read as one token sequence
        corpus_task = "lm" if c["task"] == "stream" else c["task"]
        self.corpus = load_corpus(c["corpus"], task=corpus_task, level=c["level"],
                                  lowercase=c["lowercase"], seed=c["seed"],
                                  encoding=c["encoding"],
                                  max_sequences=c["max_sequences"] or None)
        if saved is not None:
            self.vocab = Vocabulary.from_dict(saved.meta["vocab"])
        else:
            self.vocab = Vocabulary.build(self.corpus.train, min_count=c["min_count"],
                                          max_size=c["vocab_size"], level=c["level"])
        with _seeded_package_rng(c["seed"]):
            # a stream has no padding: its model takes no mask
            self.model = build_model(self.model_config(), masked=c["task"] != "stream")
        self.feed = make_feed(c, self.corpus, self.vocab, self.model)
        self.steps = self.feed.steps
        self.schedule = LearningRateSchedule(c["lr_schedule"], c["lr_decay"],
                                             c["lr_decay_start"], c["patience"])
        self.step = 0
        self.epoch = 0
        self.position = 0  # next batch (or stream window) within the epoch
        self.epoch_totals = _new_totals()  # the epoch so far, across fit() calls
        self.history = []
        if saved is not None:
            self._restore(saved)

    # -- set-up --------------------------------------------------------------
    def model_config(self):
        """The settings the model builder takes (see :func:`build_model`)."""
        c = self.config
        config = {k: c[k] for k in MODEL_KEYS}
        config["vocab_size"] = len(self.vocab)
        if c["task"] == "classify":
            config["num_classes"] = len(self.corpus.label_names)
        if c["task"] == "stream":
            # a language model whose initial states come in as inputs
            config.update(task="lm", stateful=True)
        return config

    @property
    def train_batches(self):
        """The training split's bucketing generator (sequence tasks)."""
        return self.feed.train_batches

    @property
    def valid_batches(self):
        return self.feed.valid_batches

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
            [v.get_value() for v in self.steps.optimizer_state], meta=meta,
            carried_state=self.feed.carried_state()))

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
        self.feed.restore_carried_state(saved.carried_state)
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
            batches = self.feed.epoch(self.epoch)
            self.feed.start_epoch(self.position)
            totals = self.epoch_totals
            bar = tqdm(total=len(batches), initial=self.position,
                       unit="window" if c["task"] == "stream" else "batch",
                       desc="epoch %d" % (self.epoch + 1), file=sys.stderr,
                       disable=not self.progress, dynamic_ncols=True)
            while self.position < len(batches):
                if max_steps is not None and self.step >= max_steps:
                    break
                batch = batches[self.position]
                t0 = time.perf_counter()
                compiling = self.steps.compile_seconds
                loss_sum, n, cells = self.feed.update(batch)
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
                                if c["task"] != "classify" else None,
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
                                        if c["task"] != "classify" else None),
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
        loss, targets, correct = self.feed.evaluate(split)
        if targets == 0:
            return dict(loss=None, perplexity=None, accuracy=None, targets=0)
        mean = loss / targets
        return dict(loss=mean, perplexity=_perplexity(mean),
                    accuracy=None if correct is None else correct / targets,
                    targets=int(targets))


