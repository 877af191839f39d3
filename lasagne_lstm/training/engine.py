"""The training loop: data → batches → compiled step functions → updates, with
evaluation, learning-rate schedules, progress bars, JSON-lines logs and
checkpoints that survive a crash.

A run is described by one flat configuration dict (see :data:`DEFAULTS`);
the same dict is stored in every checkpoint, so ``evaluate``, ``generate``
and ``--resume`` rebuild exactly the same data pipeline and model. Every
checkpoint also holds the data's fingerprint (files read, their sizes and
hashes, the split settings), and a resumed run refuses other data.

What a run refuses or reports instead of doing something silently:

* settings that cannot work together, a backend that is not installed, and
  a model whose parameters, gradients, optimizer state and accumulators
  would not fit the machine's available memory (:class:`SettingsError`,
  before anything large is allocated; :func:`estimate_memory`);
* an update whose loss, gradients or new values are not all finite: the run
  stops (:class:`TrainingDiverged`) naming the checkpoint that holds the
  last good state, and no checkpoint is ever written with such values;
* a stop asked for from outside (:meth:`Run.request_stop`, used by the
  command line for SIGINT and SIGTERM): the run saves at the end of the
  current update and raises :class:`TrainingInterrupted`.

Log records carry the run's id (``run``), so that :func:`trim_log` can
remove, on ``--resume``, the records a run wrote after the checkpoint it
continues from.
"""
import contextlib
import json
import math
import os
import signal
import sys
import time
import uuid

import numpy as np
import pytensor

from .. import backends
from ..random import get_rng, set_rng
from . import checkpoint
from .distributed import check_same_parameters, check_same_run, mpi_world
from .data import DataError, Vocabulary, load_corpus, stream_num_windows
from .data.corpora import fingerprint_differences
from .errors import SettingsError
from .feeds import encode_split, make_feed  # noqa: F401  (encode_split: public here too)
from .models import build_model

# Every setting of a run, its default and the model's keys are defined once,
# in config.py; the command-line flags come from the same definition.
from .config import DEFAULTS, MODEL_KEYS, SCHEDULES


class TrainingDiverged(RuntimeError):
    """An update's loss, gradients or new values were NaN or infinite.

    The message names the update and where the last good state is.

    Attributes
    ----------
    step : int
        The update that diverged (1-based).
    saved : (str, int) or None
        The checkpoint holding the last good state and its update number,
        or None when no checkpoint was written.
    """

    def __init__(self, message, step=None, saved=None):
        super().__init__(message)
        self.step, self.saved = step, saved


class TrainingInterrupted(Exception):
    """A stop was asked for (:meth:`Run.request_stop`); the run stopped at
    the end of an update, after saving when it had a checkpoint path.

    Attributes
    ----------
    signum : int or None
        The signal that asked for the stop.
    step, epoch : int
        Updates made and epochs completed.
    saved : str or None
        The checkpoint written, if any.
    """

    def __init__(self, signum, step, epoch, saved):
        super().__init__("stopped after update %d%s" % (
            step, " (saved to %s)" % saved if saved else ""))
        self.signum, self.step, self.epoch, self.saved = signum, step, epoch, saved


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
            raise SettingsError("unknown learning-rate schedule %r: expected one of %s"
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


# -- settings that cannot work, found before anything is built ---------------
#: Arrays of state each update rule keeps per parameter (besides scalars
#: such as Adam's step count).
OPTIMIZER_STATE_ARRAYS = {"sgd": 0, "momentum": 1, "nesterov_momentum": 1,
                          "adagrad": 1, "rmsprop": 1, "adadelta": 2, "adam": 2,
                          "adamax": 2, "amsgrad": 3}


def check_backend(backend):
    """Raise :class:`SettingsError` in one line if ``backend`` cannot run here
    (its package is not installed)."""
    try:
        backends.get_mode(backend)
    except ImportError as exc:
        raise SettingsError("--backend %s cannot run here: %s"
                            % (backend, str(exc).splitlines()[0])) from None


def check_settings(config):
    """Refuse combinations of settings that cannot work, in one line.

    Raises
    ------
    SettingsError
    """
    c = config
    if c["tie_embeddings"] and c["task"] != "classify" and c["embedding"] != c["hidden"]:
        raise SettingsError("--tie-embeddings needs --embedding equal to --hidden "
                            "(got %d and %d)" % (c["embedding"], c["hidden"]))
    if c["task"] == "stream" and c["mode"] != "masked":
        raise SettingsError("--task stream trains one window per update; "
                            "--mode accumulate does not apply")
    check_backend(c["backend"])


def _recurrent_parameters(cell, n_in, hidden, initial_states):
    """Parameters of one LSTM (4 gates, 3 peepholes) or GRU (3 gates) layer."""
    if cell == "lstm":
        count, states = 4 * (n_in * hidden + hidden * hidden + hidden) + 3 * hidden, 2
    else:
        count, states = 3 * (n_in * hidden + hidden * hidden + hidden), 1
    return count + (states * hidden if initial_states else 0)


def parameter_count(model_config):
    """The number of parameters :func:`build_model` makes for ``model_config``
    (counted from the settings, without building anything).

    Returns
    -------
    (int, int)
        All parameters, and the largest single parameter array.
    """
    c = model_config
    V, E, H = c["vocab_size"], c["embedding"], c["hidden"]
    cell = c.get("cell", "lstm")
    initial_states = not c.get("stateful")
    count, largest = V * E, V * E
    if c.get("task", "lm") == "classify":
        directions = 2 if c.get("bidirectional") else 1
        count += directions * _recurrent_parameters(cell, E, H, True)
        count += directions * H * c["num_classes"] + c["num_classes"]
        largest = max(largest, E * H, H * H, directions * H * c["num_classes"])
        return count, largest
    for k in range(c.get("layers", 1)):
        n_in = E if k == 0 else H
        count += _recurrent_parameters(cell, n_in, H, initial_states)
        largest = max(largest, n_in * H, H * H)
    if c.get("tie_embeddings"):
        count += V
    else:
        count += H * V + V
        largest = max(largest, H * V)
    return count, largest


def estimate_memory(config, model_config):
    """Bytes a run needs at least: its parameters, one gradient per parameter,
    the update rule's state arrays, the accumulators of ``--mode
    accumulate``, and the float64 draw an initializer makes of the largest
    parameter. Activations and compiled code come on top.

    Returns
    -------
    dict
        ``parameters``, ``bytes`` and ``parts`` (the words for what was counted).
    """
    count, largest = parameter_count(model_config)
    itemsize = np.dtype(config["float_type"]).itemsize
    state = OPTIMIZER_STATE_ARRAYS.get(config["optimizer"], 3)
    accumulators = 1 if config["mode"] == "accumulate" else 0
    copies = 2 + state + accumulators
    parts = ["parameters", "gradients"]
    if state:
        parts.append("%s's %d state array%s each" % (config["optimizer"], state,
                                                     "" if state == 1 else "s"))
    if accumulators:
        parts.append("accumulators")
    return {"parameters": count, "bytes": count * copies * itemsize + largest * 8,
            "parts": parts}


def available_memory():
    """Bytes of memory available to this process: ``MemAvailable`` of
    ``/proc/meminfo``, lowered to what a cgroup (v2) memory limit leaves;
    None where unknown."""
    available = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        return None
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current") as f:
            used = int(f.read().strip())
        if limit != "max" and available is not None:
            available = min(available, max(int(limit) - used, 0))
    except (OSError, ValueError):
        pass
    return available


def check_memory(config, model_config):
    """Refuse a model too large for the available memory, before building it.

    Raises
    ------
    SettingsError
        Naming the estimated size in bytes (see :func:`estimate_memory`) and
        the memory available. No check where the available memory is unknown.
    """
    available = available_memory()
    if available is None:
        return
    need = estimate_memory(config, model_config)
    if need["bytes"] > available:
        raise SettingsError(
            "the model is too large for this machine: %s parameters need at least "
            "%s bytes (%.1f GiB: %s), and %s bytes are available; choose a smaller "
            "--hidden, --embedding, --layers or --vocab-size" % (
                format(need["parameters"], ","), format(need["bytes"], ","),
                need["bytes"] / 2 ** 30, ", ".join(need["parts"]),
                format(available, ",")))


def _communicator(distributed_setting):
    """The communicator of a run's ``distributed`` argument (None: one process)."""
    if distributed_setting in (None, "none"):
        return None
    if distributed_setting == "mpi":
        return mpi_world()
    if isinstance(distributed_setting, str):
        raise SettingsError("unknown --distributed %r: expected none or mpi"
                            % distributed_setting)
    return distributed_setting


# -- logs ------------------------------------------------------------------------
def trim_log(path, run_id, step, epoch):
    """Remove from a JSON-lines log the records that run ``run_id`` wrote
    after its checkpoint at update ``step`` with ``epoch`` epochs done, so
    that a resumed run writes each record once.

    Removed: that run's update records with a larger step and its epoch
    records with a larger step or epoch, and a torn last line (an
    interrupted write). Records of other runs and lines that are not
    records are kept. The file is rewritten atomically (temporary file,
    fsync, rename), only when something is removed.

    Parameters
    ----------
    path : str
    run_id : str or None
        The run's id (a checkpoint's ``run_id``); None stands for records
        without one (written before runs had ids).
    step, epoch : int

    Returns
    -------
    int
        How many lines were removed.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return 0
    lines = data.split(b"\n")
    kept, removed = [], 0
    for i, line in enumerate(lines):
        last = i == len(lines) - 1
        if last and not line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if last:  # a write cut short
                removed += 1
            else:
                kept.append(line)
            continue
        if (isinstance(record, dict) and record.get("run") == run_id
                and _after(record, step, epoch)):
            removed += 1
        else:
            kept.append(line)
    if not removed:
        return 0
    tmp = "%s.trim-%d" % (path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            f.write(b"".join(line + b"\n" for line in kept))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        except OSError:
            pass
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return removed


def _after(record, step, epoch):
    """Whether a log record was written after update ``step`` / epoch ``epoch``."""
    try:
        if record.get("event") == "update":
            return record["step"] > step
        if record.get("event") == "epoch":
            return record["step"] > step or record["epoch"] > epoch
    except (KeyError, TypeError):
        return False
    return False


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
    other_data : bool
        Whether data other than the checkpoint's may be used (evaluating a
        checkpoint on another corpus); the differences are then listed in
        :attr:`data_differences`. By default a resumed run refuses them.
    distributed : None, 'none', 'mpi' or a communicator
        ``'mpi'`` (or a :class:`~lasagne_lstm.training.distributed.MPICommunicator`)
        shares every update among the ranks of the MPI job this process
        belongs to (:mod:`lasagne_lstm.training.distributed`); every rank
        constructs the run with the same settings. Only rank 0 writes the
        checkpoint, the log and progress bars.

    Raises
    ------
    SettingsError
        For settings that cannot work (:func:`check_settings`), a model too
        large for the available memory (:func:`check_memory`), and ranks of
        a distributed run given other settings or data than rank 0.
    DataError
        For unreadable data, and data that differ from the checkpoint's
        (unless ``other_data``).
    CheckpointError
        For a checkpoint that cannot be read or does not fit.

    Setting up a run sets PyTensor's ``floatX`` to ``config['float_type']``;
    initial weights and dropout seeds are drawn from a generator seeded with
    ``config['seed']``.

    Attributes
    ----------
    run_id : str or None
        Identifies the run in log records, kept across resumes (None for a
        run resumed from a checkpoint written before runs had ids).
    last_saved : (str, int) or None
        The checkpoint that holds this run's latest saved state, and its
        update number: the last one :meth:`save` wrote, else the resumed file.
    data_differences : list of str
        How the data differ from the checkpoint's (see ``other_data``).
    """

    def __init__(self, config=None, resume=None, log=None, progress=True,
                 other_data=False, distributed=None):
        saved = checkpoint.load(resume) if isinstance(resume, str) else resume
        if saved is not None and not isinstance(saved.meta.get("config"), dict):
            raise checkpoint.CheckpointError("%s holds no run configuration"
                                             % (saved.path or "the checkpoint"))
        base = saved.meta["config"] if saved is not None else {}
        self.config = dict(DEFAULTS, **base)
        self.config.update(config or {})
        c = self.config
        pytensor.config.floatX = c["float_type"]
        check_settings(c)
        self.comm = _communicator(distributed)
        if self.comm is not None and c["task"] == "stream":
            raise SettingsError("--distributed mpi trains whole sequences; --task stream "
                                "(one carried state per row) cannot be distributed yet")
        # rank 0 alone writes; the other ranks of a job train silently
        self.writes = self.comm is None or self.comm.rank == 0
        self.log = log if self.writes else None
        self.progress = progress and self.writes
        # a stream is a language model's corpus read as one token sequence
        corpus_task = "lm" if c["task"] == "stream" else c["task"]
        self.corpus = load_corpus(c["corpus"], task=corpus_task, level=c["level"],
                                  lowercase=c["lowercase"], seed=c["seed"],
                                  encoding=c["encoding"],
                                  max_sequences=c["max_sequences"] or None)
        self.data_fingerprint = self.corpus.fingerprint()
        self.data_differences = []
        if saved is not None and saved.meta.get("data"):
            self.data_differences = fingerprint_differences(saved.meta["data"],
                                                            self.data_fingerprint)
            if self.data_differences and not other_data:
                raise DataError("%s was trained on other data: %s; --resume needs the "
                                "data it was trained on" % (
                                    saved.path or "the checkpoint",
                                    "; ".join(self.data_differences)))
        if saved is not None:
            try:
                self.vocab = Vocabulary.from_dict(saved.meta.get("vocab"))
            except ValueError as exc:
                raise checkpoint.CheckpointError("%s holds no usable vocabulary: %s" % (
                    saved.path or "the checkpoint", exc)) from None
        else:
            self.vocab = Vocabulary.build(self.corpus.train, min_count=c["min_count"],
                                          max_size=c["vocab_size"], level=c["level"])
        check_memory(c, self.model_config())
        with _seeded_package_rng(c["seed"]):
            # a stream has no padding: its model takes no mask
            self.model = build_model(self.model_config(), masked=c["task"] != "stream")
        self.feed = make_feed(c, self.corpus, self.vocab, self.model, self.comm)
        self.steps = self.feed.steps
        if c["task"] == "stream":
            n_ids = len(getattr(self.feed, "train_ids", ()))
            if stream_num_windows(n_ids, c["batch_size"], c["num_steps"]) == 0:
                raise SettingsError(
                    "the training stream of %d tokens is too short for --batch-size %d "
                    "and --num-steps %d (it needs at least %d tokens)"
                    % (n_ids, c["batch_size"], c["num_steps"],
                       c["batch_size"] * (c["num_steps"] + 1)))
        self.schedule = LearningRateSchedule(c["lr_schedule"], c["lr_decay"],
                                             c["lr_decay_start"], c["patience"])
        self.step = 0
        self.epoch = 0
        self.position = 0  # next batch (or stream window) within the epoch
        self.epoch_totals = _new_totals()  # the epoch so far, across fit() calls
        self.history = []
        self.run_id = uuid.uuid4().hex[:12]
        self.last_saved = None
        self.saving = False
        self._stop_signal = None
        # a distributed run stops when any rank asks, after the same update
        # on every rank: the request is voted in the update's all-reduce
        self._agreed_stop = None
        if saved is not None:
            self._restore(saved)
        if self.comm is not None:
            self.steps.stop_vote = lambda: self._stop_signal is not None
            check_same_run(self.comm, c, self.data_fingerprint)
            check_same_parameters(self.comm, self.steps.params, self.step)

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
        # no random state: dropout masks are a function of the layers'
        # seeds (drawn from --seed) and the update number
        meta = dict(step=self.step, epoch=self.epoch, position=self.position,
                    config=self.config, model_config=self.model_config(),
                    vocab=self.vocab.to_dict(),
                    learning_rate=float(self.steps.learning_rate.get_value()),
                    schedule=self.schedule.state(),
                    epoch_totals=self.epoch_totals,
                    history=self.history, run_id=self.run_id,
                    data=self.data_fingerprint)
        self.saving = True
        try:
            checkpoint.save(path, checkpoint.Checkpoint(
                {name: p.get_value() for name, p in self.model.params.items()},
                [v.get_value() for v in self.steps.optimizer_state], meta=meta,
                carried_state=self.feed.carried_state()))
        finally:
            self.saving = False
        self.last_saved = (str(path), self.step)

    def _restore(self, saved):
        checkpoint.check_params_match(saved, self.model.params)
        names = list(self.model.params)
        checkpoint.set_values([self.model.params[n] for n in names],
                              [saved.params[n] for n in names], "parameter")
        checkpoint.set_values(self.steps.optimizer_state, saved.optimizer_state,
                              "optimizer state")
        meta = saved.meta
        missing = [key for key in ("step", "epoch", "position", "learning_rate")
                   if key not in meta]
        if missing:
            raise checkpoint.CheckpointError("%s lacks the run's %s" % (
                saved.path or "the checkpoint", ", ".join(missing)))
        self.step, self.epoch, self.position = meta["step"], meta["epoch"], meta["position"]
        self.steps.learning_rate.set_value(np.asarray(
            meta["learning_rate"], dtype=self.steps.learning_rate.dtype))
        self.schedule.load_state(meta.get("schedule", {}))
        self.epoch_totals = dict(_new_totals(), **meta.get("epoch_totals", {}))
        self.history = list(meta.get("history", []))
        try:
            self.feed.restore_carried_state(saved.carried_state)
        except ValueError as exc:  # the feed's words for a state that does not fit
            raise checkpoint.CheckpointError(str(exc)) from None
        self.run_id = meta.get("run_id")
        if saved.path:
            self.last_saved = (saved.path, self.step)

    # -- training ------------------------------------------------------------
    def request_stop(self, signum=None):
        """Ask :meth:`fit` to stop at the end of the current update: it saves
        to its checkpoint path (if any) and raises :class:`TrainingInterrupted`.
        Safe to call from a signal handler."""
        if self._stop_signal is None:
            self._stop_signal = signum if signum is not None else 0

    @property
    def stop_requested(self):
        """The signal number of a pending stop (0 without one), or None."""
        return self._stop_signal

    def _pending_stop(self):
        """The stop to act on now: this process's request, or in a
        distributed run the one the ranks agreed on."""
        return self._stop_signal if self.comm is None else self._agreed_stop

    def _check_stop(self, checkpoint_path):
        """Save and raise :class:`TrainingInterrupted` if a stop was asked for."""
        signum = self._pending_stop()
        if signum is None:
            return
        saved = None
        if checkpoint_path:
            if self.last_saved != (str(checkpoint_path), self.step):
                self.save(checkpoint_path)
            saved = str(checkpoint_path)
        raise TrainingInterrupted(signum or None, self.step, self.epoch, saved)

    def _diverged(self, loss, applied):
        """The :class:`TrainingDiverged` of update ``self.step + 1``."""
        step = self.step + 1
        if applied is False:
            what = ("update %d (epoch %d) was not applied: its loss, gradients or new "
                    "values were not all finite (loss %s)" % (step, self.epoch + 1, loss))
        else:
            what = "the training loss became %s at update %d (epoch %d)" % (
                loss, step, self.epoch + 1)
        if self.last_saved is not None:
            where = "the last good state is update %d in %s" % (self.last_saved[1],
                                                                self.last_saved[0])
        else:
            where = "no checkpoint was written"
        return TrainingDiverged("%s; %s; try a lower --learning-rate or --max-grad-norm"
                                % (what, where), step=step, saved=self.last_saved)

    def _emit(self, record):
        record["run"] = self.run_id
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
            If an update was not applied because its loss, gradients or new
            values were not all finite (the step functions'
            ``last_update_applied``), or a loss is NaN or infinite. Nothing
            is saved then: the file keeps the last good state.
        TrainingInterrupted
            After :meth:`request_stop`, at the end of the update under way
            (saved to ``checkpoint_path`` first, when given).
        """
        c = self.config
        if not self.writes:
            checkpoint_path = None
        start = time.perf_counter()
        while self.epoch < c["epochs"]:
            if c["max_steps"] is not None and self.step >= c["max_steps"]:
                break
            self._check_stop(checkpoint_path)
            batches = self.feed.epoch(self.epoch)
            self.feed.start_epoch(self.position)
            # the shapes still to come compile in the background meanwhile
            ahead = self.feed.compile_ahead(batches[self.position:])
            try:
                self._epoch(batches, checkpoint_path, start)
            finally:
                if ahead is not None:
                    ahead.cancel()
        if checkpoint_path and self.last_saved != (str(checkpoint_path), self.step):
            # (an epoch's end has just saved this very state: 50 MB for the main job)
            self.save(checkpoint_path)
        self._check_stop(checkpoint_path)  # a stop asked for during the last update
        return self.history

    def _epoch(self, batches, checkpoint_path, start):
        """The epoch's batches from ``self.position`` on (or up to
        ``max_steps``), then, if it ended, its record and checkpoint."""
        from tqdm import tqdm
        c = self.config
        max_steps = c["max_steps"]
        totals = self.epoch_totals
        bar = tqdm(total=len(batches), initial=self.position,
                   unit="window" if c["task"] == "stream" else "batch",
                   desc="epoch %d" % (self.epoch + 1), file=sys.stderr,
                   disable=not self.progress, dynamic_ncols=True)
        try:
            while self.position < len(batches):
                if max_steps is not None and self.step >= max_steps:
                    break
                self._check_stop(checkpoint_path)
                self._update(batches[self.position], totals, bar, start)
                if (checkpoint_path and c["save_every"]
                        and self.step % c["save_every"] == 0):
                    self.save(checkpoint_path)
        finally:
            bar.close()  # ends the bar's line before anything else is printed
        if self.position >= len(batches):
            self._end_epoch(totals, start)
            if checkpoint_path:
                self.save(checkpoint_path)

    def _update(self, batch, totals, bar, start):
        """Train on one batch (or window) and record it."""
        c = self.config
        t0 = time.perf_counter()
        compiling = self.steps.compile_seconds
        reducing = self._allreduce_seconds()
        loss_sum, n, cells = self.feed.update(batch, self.step)
        seconds = time.perf_counter() - t0
        compiling = self.steps.compile_seconds - compiling
        reducing = [b - a for a, b in zip(reducing, self._allreduce_seconds())]
        loss = loss_sum / max(n, 1.0)
        # the step functions leave a non-finite update unapplied and say so;
        # a non-finite loss is the second line of defence
        applied = getattr(self.steps, "last_update_applied", True)
        if applied is False or not np.isfinite(loss):
            raise self._diverged(loss, applied)
        self.step += 1
        self.position += 1
        if self.comm is not None:
            if self.steps.stop_agreed and self._agreed_stop is None:
                # another rank's signal: this one stops as if it had had it
                self._agreed_stop = self._stop_signal or signal.SIGTERM
            if self.step % c["check_every"] == 0:
                check_same_parameters(self.comm, self.steps.params, self.step)
        for key, value in (("loss", loss_sum), ("targets", n), ("cells", cells)):
            totals[key] += value
        if compiling:
            totals["compile_seconds"] += compiling
        else:
            totals["seconds"] += seconds
            totals["timed_targets"] += n
        lr = float(self.steps.learning_rate.get_value())
        record = dict(event="update", step=self.step, epoch=self.epoch + 1,
                      loss=loss, perplexity=_perplexity(loss), tokens=int(n),
                      padding_fraction=1.0 - n / max(cells, 1)
                      if c["task"] != "classify" else None,
                      tokens_per_s=None if compiling else n / max(seconds, 1e-9),
                      seconds=seconds, compile_seconds=compiling,
                      learning_rate=lr,
                      wall_time=time.perf_counter() - start)
        if self.comm is not None:
            record.update(ranks=self.comm.size, allreduce_seconds=reducing[0],
                          staging_seconds=reducing[1],
                          allreduce_bytes=self.steps.reducer.nbytes)
        self._emit(record)
        bar.set_postfix(loss="%.3f" % loss, tok_s="%.0f" % (_rate(totals) or 0))
        bar.update(1)

    def _allreduce_seconds(self):
        """Seconds spent so far in the all-reduce and in staging its buffer."""
        if self.comm is None:
            return (0.0, 0.0)
        return (self.steps.reducer.seconds, self.steps.reducer.staging_seconds)

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
                      compiled_functions=self.steps.compiled_functions,
                      total_compile_seconds=self.steps.compile_seconds,
                      compile_ahead_seconds=self.steps.compile_ahead_seconds,
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


