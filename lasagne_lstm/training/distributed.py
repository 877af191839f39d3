"""Data-parallel training over MPI: every update's window shared among the
processes (ranks) of an MPI job, with the same result whatever their number.

How one update runs on K ranks
------------------------------
* **The same plan everywhere.** Every rank builds the same seeded epoch plan
  (bucketing, order, padding), so no data is sent: a window is the batch a
  single process would train on (``--batch-size`` sequences in masked mode,
  ``--accumulate`` in accumulate mode).
* **A share per rank.** Rank r takes consecutive rows of the window, the
  shares balanced by real tokens (:func:`token_shares`), and runs
  ``compute_grad`` over its share: as one masked micro-batch in masked mode,
  in ``--micro-batch`` pieces in accumulate mode. Each row's weight is
  ``1 / (the window's real tokens)``, known from the plan before
  differentiation, and its dropout masks are keyed by its row in the window,
  so Lasagne's per-step ``grad_clipping`` and dropout see exactly what they
  see in one process.
* **One all-reduce.** The accumulators, the accumulated objective, the loss
  and token sums (and a stop vote) are copied into one contiguous host
  buffer and summed in place by a single ``Allreduce``
  (:class:`GradientReducer`); every rank then runs ``apply_mean_grad`` on the
  same sums, so all ranks hold the same parameters.

Because the sum of the shares' weighted gradients is the window's gradient,
K ranks give the single-process update up to the order of floating-point
additions (1e-6 in float64, checked in ``tests/test_distributed.py``).

Invariants the training loop keeps (:class:`lasagne_lstm.training.engine.Run`):
the ranks' parameter checksums are compared every ``--check-every`` updates
(:func:`check_same_parameters`); only rank 0 writes checkpoints, logs and
progress bars; a stop asked of any rank (SIGINT, SIGTERM) is voted in the
next all-reduce, so every rank stops after the same update.

MPI comes from ``pip install -e '.[mpi]'``: mpi4py and PyPI's ``mpich``
wheel, which puts ``mpiexec`` in the environment's ``bin/``. These wheels
carry no shared-memory fast path between processes on one machine, which
costs speed, not correctness.
"""
import hashlib
import json
import math
import time
import zlib

import numpy as np

from .. import backends
from .errors import SettingsError

INSTALL_HINT = "pip install -e '.[mpi]' (mpi4py and an MPI library)"


class RanksDiverged(RuntimeError):
    """The ranks of a job no longer hold the same parameters."""


class MPICommunicator:
    """The few collective operations training needs, over an MPI communicator.

    Parameters
    ----------
    comm : mpi4py communicator, optional
        Default: ``MPI.COMM_WORLD`` (importing mpi4py starts MPI).

    Attributes
    ----------
    rank, size : int
        This process's rank and the number of ranks.
    host : str
        The machine's name as MPI reports it.
    """

    def __init__(self, comm=None):
        try:
            from mpi4py import MPI
        except ImportError as exc:
            raise SettingsError("--distributed mpi needs mpi4py and an MPI library: %s "
                                "(%s)" % (INSTALL_HINT, str(exc).splitlines()[0])) from None
        self._mpi = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.host = MPI.Get_processor_name()

    def allreduce_sum(self, buffer):
        """Sum a contiguous NumPy array over the ranks, in place."""
        self.comm.Allreduce(self._mpi.IN_PLACE, buffer, op=self._mpi.SUM)

    def allgather(self, value):
        """Every rank's ``value`` (any picklable object), in rank order."""
        return self.comm.allgather(value)

    def broadcast(self, value):
        """Rank 0's ``value`` on every rank."""
        return self.comm.bcast(value, root=0)

    def abort(self, code):
        """End every rank of the job at once with exit status ``code``."""
        self.comm.Abort(code)


def mpi_world():
    """The communicator of all ranks of the job (``MPI.COMM_WORLD``)."""
    return MPICommunicator()


def token_shares(row_targets, size):
    """Split a window's rows into ``size`` consecutive shares balanced by
    real targets.

    Share r ends at the row boundary whose running target count is closest
    to ``(r + 1) / size`` of the window's, so no share is more than about
    one row's targets away from an equal split. Shares may be empty when the
    window has fewer rows than ranks.

    Parameters
    ----------
    row_targets : sequence of int
        Real targets (tokens, or 1 per classified sequence) of each row.
    size : int
        Number of shares.

    Returns
    -------
    list of (start, stop)
        Row ranges, in order, covering every row once.
    """
    targets = np.asarray(row_targets, dtype=float)
    running = np.concatenate([[0.0], np.cumsum(targets)])
    total = running[-1]
    bounds = [0]
    for r in range(1, size):
        goal = total * r / size
        # the boundary closest to the goal; ties go to the earlier one
        bound = int(np.argmin(np.abs(running - goal)))
        bounds.append(max(bound, bounds[-1]))
    bounds.append(len(targets))
    return [(bounds[r], bounds[r + 1]) for r in range(size)]


def share_pad_rows(rows, window_rows, size):
    """Rows a masked share of ``rows`` rows is padded to on a static-shape
    backend: a multiple of about an eighth of an even share, so that shares
    of slightly different sizes reuse few compiled shapes."""
    multiple = max(1, int(math.ceil(window_rows / size / 8.0)))
    return max(multiple, int(math.ceil(rows / multiple)) * multiple)


class GradientReducer:
    """Sums a :class:`~lasagne_lstm.training.core.GradientAccumulator`'s
    accumulators, accumulated objective and sums over the ranks with one
    ``Allreduce`` of one contiguous host buffer.

    Parameters
    ----------
    accumulator : GradientAccumulator
    comm : MPICommunicator
    extras : int
        Values besides the accumulator's carried in the same buffer (a stop
        vote, for instance).

    Attributes
    ----------
    nbytes : int
        Bytes of the buffer (what each rank sends and receives per update).
    seconds : float
        Time spent in the all-reduce itself, summed over the calls.
    staging_seconds : float
        Time spent copying the values into the buffer and back (from and to
        the device, on a GPU), summed over the calls.
    """

    def __init__(self, accumulator, comm, extras=0):
        self.accumulator = accumulator
        self.comm = comm
        self._objective = len(accumulator.accumulators)
        self.variables = (list(accumulator.accumulators)
                          + [accumulator.accumulated_objective] + list(accumulator.sums))
        self.shapes = [np.shape(v.get_value(borrow=True)) for v in self.variables]
        sizes = [int(np.prod(shape)) for shape in self.shapes]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        dtype = np.result_type(*[v.dtype for v in self.variables])
        self.buffer = np.empty(self.offsets[-1] + extras, dtype=dtype)
        self.nbytes = self.buffer.nbytes
        self.seconds = 0.0
        self.staging_seconds = 0.0

    def allreduce(self, extra_values=()):
        """Replace every rank's accumulators and sums by their sums over the
        ranks; returns the summed ``extra_values``."""
        buffer, offsets = self.buffer, self.offsets
        self.accumulator.fold()  # the rows kept for factored gradients
        # JAX computes asynchronously: reading one value of the last call
        # (the accumulated objective, a scalar) waits for that call to end,
        # so that the staging time below is the copies' alone
        objective = self.variables[self._objective]
        buffer[offsets[self._objective]] = np.asarray(objective.get_value(borrow=True))
        start = time.perf_counter()
        for k, var in enumerate(self.variables):
            # device arrays (JAX) come to the host here
            buffer[offsets[k]:offsets[k + 1]] = np.asarray(var.get_value(borrow=True)).ravel()
        buffer[offsets[-1]:] = extra_values
        staged = time.perf_counter()
        self.comm.allreduce_sum(buffer)
        reduced = time.perf_counter()
        for k, var in enumerate(self.variables):
            var.set_value(buffer[offsets[k]:offsets[k + 1]].reshape(self.shapes[k]))
        self.seconds += reduced - staged
        self.staging_seconds += (staged - start) + (time.perf_counter() - reduced)
        return buffer[offsets[-1]:].copy()


class DistributedSteps:
    """Step functions whose every update is shared among the ranks of a job.

    Wraps :class:`~lasagne_lstm.training.steps.StepFunctions` built in
    accumulate mode and gives the engine the same ``train_batch``; each
    window is trained as ``mode`` says (the run's ``--mode``), its rows
    shared as described in the module text. Everything else (``evaluate``,
    ``learning_rate``, ``optimizer_state``, ``params``, compile counts) is
    the wrapped step functions'.

    Parameters
    ----------
    steps : StepFunctions
        In accumulate mode.
    comm : MPICommunicator
    mode : {'masked', 'accumulate'}
        Masked: a rank's share is one padded, masked micro-batch.
        Accumulate: it is cut into micro-batches (``train_batch``'s
        ``micro_batch``).

    Attributes
    ----------
    stop_vote : callable
        Returns whether this rank was asked to stop; sent with every update.
    stop_agreed : bool
        Whether any rank asked to stop in the latest update.
    reducer : GradientReducer
    """

    def __init__(self, steps, comm, mode):
        if steps.mode != "accumulate":
            raise ValueError("distributed steps are built on accumulate-mode step "
                             "functions")
        self.steps = steps
        self.comm = comm
        self.mode = mode
        self.reducer = GradientReducer(steps.accumulator, comm, extras=1)
        self.stop_vote = lambda: False
        self.stop_agreed = False

    def train_batch(self, batch, micro_batch=1, step=0):
        """Update ``step`` on a window, this rank training its share; returns
        the window's (loss sum, targets), the same on every rank."""
        steps = self.steps
        lengths = np.asarray(batch.lengths)
        targets = np.ones(len(lengths)) if steps.task == "classify" else lengths
        start, stop = token_shares(targets, self.comm.size)[self.comm.rank]
        if stop > start:
            static = backends.needs_static_shapes(steps.backend)
            if self.mode == "masked":
                rows = share_pad_rows(stop - start, batch.rows, self.comm.size)
                steps.accumulate_rows(batch.rows_between(start, stop), stop - start,
                                      step, lengths, start,
                                      pad_rows=rows if static else None)
            else:
                steps.accumulate_rows(batch.rows_between(start, stop), micro_batch,
                                      step, lengths, start)
        (stops,) = self.reducer.allreduce([1.0 if self.stop_vote() else 0.0])
        self.stop_agreed = stops > 0
        return steps.apply_mean_grad()

    def __getattr__(self, name):
        # only reached for what this class does not define itself
        if name == "steps":  # not set yet: no recursion
            raise AttributeError(name)
        return getattr(self.steps, name)


def sum_over_ranks(comm, values):
    """Float64 sums of a few numbers over the ranks (one small all-reduce)."""
    buffer = np.array(values, dtype=np.float64)
    comm.allreduce_sum(buffer)
    return buffer


def parameter_checksum(params):
    """A CRC-32 of each parameter's bytes: equal only for identical values."""
    return [zlib.crc32(np.ascontiguousarray(p.get_value(borrow=True)).view(np.uint8))
            for p in params]


def check_same_parameters(comm, params, step):
    """Raise :class:`RanksDiverged` on every rank unless all ranks hold
    bit-identical parameters (compared through :func:`parameter_checksum`)."""
    sums = comm.allgather(parameter_checksum(params))
    differing = [r for r, s in enumerate(sums) if s != sums[0]]
    if differing:
        names = [p.name or "parameter %d" % k for k, p in enumerate(params)]
        first = differing[0]
        which = [n for n, a, b in zip(names, sums[0], sums[first]) if a != b]
        raise RanksDiverged(
            "after update %d rank%s %s hold%s other parameters than rank 0 (%s differ%s); "
            "every rank stops" % (
                step, "s" if len(differing) > 1 else "",
                ", ".join(map(str, differing)), "" if len(differing) > 1 else "s",
                ", ".join(which[:3]) + (", ..." if len(which) > 3 else ""),
                "s" if len(which) == 1 else ""))


def check_same_run(comm, config, fingerprint):
    """Refuse, in one line on every rank, a job whose ranks were given other
    settings or read other data than rank 0."""
    digest = hashlib.sha256(json.dumps([config, fingerprint], sort_keys=True,
                                       default=str).encode()).hexdigest()
    digests = comm.allgather(digest)
    differing = [r for r, d in enumerate(digests) if d != digests[0]]
    if differing:
        raise SettingsError("rank%s %s of this MPI job %s other settings or data than "
                            "rank 0; every rank must be started with the same flags "
                            "and find the same corpus" % (
                                "s" if len(differing) > 1 else "",
                                ", ".join(map(str, differing)),
                                "have" if len(differing) > 1 else "has"))
