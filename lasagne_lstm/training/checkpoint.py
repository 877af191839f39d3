"""Checkpoints: one ``.npz`` file holding everything needed to resume.

Layout (all arrays, no pickles):

* ``param/<layer name>.<param name>``: every model parameter;
* ``optimizer/NNN``: the update rule's state variables, in the rule's order;
* ``rng/<name>``: random generator states (dropout streams);
* ``carried/NNNN``: the recurrent states carried into the next window of a
  token stream (stream training);
* ``meta``: one JSON string with the step, epoch, position in the epoch, the
  configuration, the vocabulary, the data's fingerprint, the learning-rate
  schedule's state and the log so far.

Writes are atomic: the file is written beside the target under a temporary
name (``.NAME.tmp-PID``), flushed and fsynced, then renamed over the target,
so a crash mid-write leaves the previous checkpoint intact; the temporary
files such crashes leave are removed by the next save. A checkpoint is never
written with a NaN or infinite parameter or optimizer value
(:class:`NonFiniteError`).

One writer at a time: :class:`CheckpointLock` claims ``PATH.lock`` (holding
the writer's process id and host) for the length of a run, and
:func:`check_writable` tells before any training whether the path can be
written at all.
"""
import errno
import json
import os
import pathlib
import socket
import tempfile
import time
import zipfile

import numpy as np

try:  # POSIX; elsewhere the lock relies on the process id alone
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

FORMAT_VERSION = 1
_TEMPORARY = ".%s.tmp-%d"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, written or does not fit the model.
    The message is one line meant for the user."""


class NonFiniteError(CheckpointError):
    """A checkpoint was asked to hold NaN or infinite values; nothing was written."""


class CheckpointLocked(CheckpointError):
    """Another live process holds the checkpoint's lock file."""


class Checkpoint:
    """The contents of a checkpoint file.

    Attributes
    ----------
    params : dict name -> array
    optimizer_state : list of arrays
    rng_state : dict name -> array
    meta : dict (JSON-serialisable)
    carried_state : list of arrays
    path : str or None
        The file it was read from (:func:`load`), else None.
    """

    def __init__(self, params, optimizer_state=(), rng_state=None, meta=None,
                 carried_state=(), path=None):
        self.params = dict(params)
        self.optimizer_state = list(optimizer_state)
        self.rng_state = dict(rng_state or {})
        self.meta = dict(meta or {})
        self.carried_state = list(carried_state)
        self.path = path


def save(path, checkpoint):
    """Write a checkpoint atomically (temporary file, fsync, rename).

    Temporary files that earlier saves to ``path`` left behind (a crash, a
    kill) are removed first, when their process is this one or is no
    longer running (see :func:`remove_stale_temporaries`).

    Raises
    ------
    NonFiniteError
        If a parameter, optimizer value or carried state is NaN or infinite;
        the file is left as it was.
    CheckpointError
        If the file cannot be written (the message names the system's reason);
        the previous file at ``path`` is intact.
    """
    path = pathlib.Path(path)
    arrays = {"param/" + name: np.asarray(value)
              for name, value in checkpoint.params.items()}
    for i, value in enumerate(checkpoint.optimizer_state):
        arrays["optimizer/%04d" % i] = np.asarray(value)
    for name, value in checkpoint.rng_state.items():
        arrays["rng/" + name] = np.asarray(value)
    for i, value in enumerate(checkpoint.carried_state):
        arrays["carried/%04d" % i] = np.asarray(value)
    _check_finite(path, arrays)
    meta = dict(checkpoint.meta, format_version=FORMAT_VERSION)
    arrays["meta"] = np.array(json.dumps(meta))
    tmp = path.with_name(_TEMPORARY % (path.name, os.getpid()))
    try:
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        try:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
    except OSError as exc:
        raise CheckpointError("cannot write checkpoint %s: %s"
                              % (path, exc.strerror or exc)) from exc
    _fsync_dir(path.parent)


def _check_finite(path, arrays):
    """Raise :class:`NonFiniteError` naming the arrays with NaN or infinite values."""
    bad = [key for key, value in arrays.items()
           if value.dtype.kind in "fc" and not np.isfinite(value).all()]
    if bad:
        names = [key.replace("param/", "parameter ").replace("optimizer/", "optimizer state ")
                 .replace("carried/", "carried state ") for key in bad]
        raise NonFiniteError(
            "refusing to write checkpoint %s: %s hold%s NaN or infinite values (%d "
            "array%s in all)" % (path, ", ".join(names[:3]) + (", ..." if len(names) > 3 else ""),
                                 "s" if len(names) == 1 else "", len(names),
                                 "" if len(names) == 1 else "s"))


def pid_alive(pid):
    """Whether process ``pid`` is running on this host (a zombie counts)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except OSError:
        return False
    return True


def remove_stale_temporaries(path):
    """Delete the temporary files ``.NAME.tmp-PID`` of interrupted saves to
    ``path`` whose process is this one or is no longer running.

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    path = pathlib.Path(path)
    prefix = ".%s.tmp-" % path.name
    removed = []
    try:
        names = os.listdir(path.parent if str(path.parent) else ".")
    except OSError:
        return removed
    for name in names:
        if not name.startswith(prefix) or not name[len(prefix):].isdigit():
            continue
        pid = int(name[len(prefix):])
        if pid == os.getpid() or not pid_alive(pid):
            try:
                (path.parent / name).unlink()
                removed.append(path.parent / name)
            except OSError:
                pass
    return removed


def check_writable(path):
    """Check, before any training, that a checkpoint can be written at ``path``.

    Nothing is created: the nearest existing folder on the way to ``path``
    must be a writable folder (folders missing below it are made by
    :func:`save`), and ``path`` must not be a folder.

    Raises
    ------
    CheckpointError
        Naming the reason in one line: ``path`` is a directory, a component
        of it is a file, or the folder cannot be written.
    """
    given, path = path, pathlib.Path(os.path.abspath(path))
    if path.is_dir():
        raise CheckpointError("cannot write checkpoint %s: it is a directory" % given)
    folder = path.parent
    while not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise CheckpointError("cannot write checkpoint %s: %s is a file, not a folder"
                              % (given, folder))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CheckpointError("cannot write checkpoint %s: no permission to write in %s"
                              % (given, folder))
    try:  # what the permission bits do not tell: a read-only file system, ...
        fd, probe = tempfile.mkstemp(prefix=".%s.probe-" % path.name, dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise CheckpointError("cannot write checkpoint %s: %s (in %s)"
                              % (given, exc.strerror or exc, folder)) from None


class CheckpointLock:
    """An exclusive claim on writing the checkpoint at ``path``, held in the
    lock file ``PATH.lock`` for the length of a run.

    The lock file holds the writer's process id and host (JSON). Acquiring
    it fails when that process is alive on this host, or runs on another
    host (which cannot be checked from here). A lock whose process is no
    longer running is *stale*: it is taken over, and :attr:`taken_over`
    describes the dead holder so that the caller can say so. While held, the
    file is also ``flock``-ed, so that two processes finding the same stale
    lock at once cannot both take it.

    Use it as a context manager: the lock is released (its file removed) on
    leaving the block, also on errors.

    Parameters
    ----------
    path : str or path-like
        The checkpoint (not the lock file).

    Attributes
    ----------
    lock_path : pathlib.Path
    taken_over : dict or None
        The stale holder's ``pid`` and ``host`` after a take-over.
    """

    def __init__(self, path):
        self.lock_path = pathlib.Path(str(path) + ".lock")
        self.taken_over = None
        self._fd = None
        self._identity = None

    @staticmethod
    def _holder(fd):
        """The JSON content of an open lock file: a dict, {} if empty, None if unreadable."""
        os.lseek(fd, 0, os.SEEK_SET)
        data = b""
        while True:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
        if not data.strip():
            return {}
        try:
            holder = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None
        return holder if isinstance(holder, dict) else None

    def _refuse(self, holder):
        pid, host = holder.get("pid"), holder.get("host")
        checkpoint = str(self.lock_path)[:-len(".lock")]
        if pid is None:
            return CheckpointLocked("%s is being written by another run (lock %s)"
                                    % (checkpoint, self.lock_path))
        if host != socket.gethostname():
            return CheckpointLocked(
                "%s is locked by process %s on host %s, which cannot be checked from "
                "here; if that run has ended, delete %s" % (checkpoint, pid, host,
                                                            self.lock_path))
        return CheckpointLocked(
            "%s is being written by another run (process %s, lock %s); wait for it "
            "to end or choose another --checkpoint" % (checkpoint, pid, self.lock_path))

    def acquire(self):
        """Claim the lock.

        Raises
        ------
        CheckpointLocked
            If a live process holds it (or one on another host).
        CheckpointError
            If the lock file cannot be created.
        """
        if self._fd is not None:
            return self
        for _ in range(10):
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise CheckpointError("cannot create the lock file %s: %s"
                                      % (self.lock_path, exc.strerror or exc)) from None
            try:
                if fcntl is not None:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except OSError as exc:
                        if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                            raise
                        raise self._refuse(self._holder(fd) or {}) from None
                # the file locked must still be the one at the path (a
                # releasing holder may have removed it meanwhile)
                try:
                    same = os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                if not same:
                    os.close(fd)
                    fd = None
                    continue
                holder = self._holder(fd)
                if holder is None:
                    self.taken_over = {"pid": None, "host": None, "unreadable": True}
                elif holder:
                    alive = (holder.get("host") != socket.gethostname()
                             or pid_alive(holder.get("pid")))
                    if alive:
                        raise self._refuse(holder)
                    self.taken_over = {"pid": holder.get("pid"), "host": holder.get("host")}
                self._identity = {"pid": os.getpid(), "host": socket.gethostname(),
                                  "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                os.write(fd, (json.dumps(self._identity) + "\n").encode("utf-8"))
                os.fsync(fd)
                self._fd, fd = fd, None
                return self
            finally:
                if fd is not None:
                    os.close(fd)
        raise CheckpointLocked("could not lock %s: its lock file %s keeps changing"
                               % (str(self.lock_path)[:-len(".lock")], self.lock_path))

    def release(self):
        """Remove the lock file (if it is still this lock's) and unlock."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino:
                os.unlink(self.lock_path)
        except OSError:
            pass
        finally:
            os.close(fd)

    @property
    def held(self):
        """Whether this object holds the lock now."""
        return self._fd is not None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()
        return False


def _fsync_dir(folder):
    try:
        fd = os.open(str(folder), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path):
    """Read a checkpoint written by :func:`save`.

    Raises
    ------
    CheckpointError
        If the file is missing, is not a checkpoint, or is damaged.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise CheckpointError("checkpoint %s does not exist" % path)
    try:
        with np.load(path, allow_pickle=False) as data:
            contents = {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise CheckpointError("%s is not a readable checkpoint (%s)" % (path, exc)) from None
    if "meta" not in contents:
        raise CheckpointError("%s is not a lasagne-lstm checkpoint (no metadata)" % path)
    try:
        meta = json.loads(str(contents.pop("meta")))
    except json.JSONDecodeError as exc:
        raise CheckpointError("%s has damaged metadata (%s)" % (path, exc)) from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError("%s has checkpoint format %r; this version reads %d"
                              % (path, meta.get("format_version"), FORMAT_VERSION))
    params, optimizer, rng, carried = {}, [], {}, []
    for key in sorted(contents):
        kind, _, name = key.partition("/")
        if kind == "param":
            params[name] = contents[key]
        elif kind == "optimizer":
            optimizer.append(contents[key])
        elif kind == "rng":
            rng[name] = contents[key]
        elif kind == "carried":
            carried.append(contents[key])
    return Checkpoint(params, optimizer, rng, meta, carried, path=str(path))


def check_params_match(checkpoint, params, source="checkpoint"):
    """Check that a checkpoint holds exactly the named parameters with the
    same shapes; raise :class:`CheckpointError` naming the first difference."""
    saved = checkpoint.params
    missing = [name for name in params if name not in saved]
    extra = [name for name in saved if name not in params]
    if missing or extra:
        raise CheckpointError(
            "the %s's architecture differs from the model's: %s" % (source, "; ".join(
                filter(None, ["missing parameters %s" % ", ".join(missing[:5]) if missing else "",
                              "unexpected parameters %s" % ", ".join(extra[:5]) if extra else ""]))))
    for name, param in params.items():
        shape = param.get_value().shape
        if saved[name].shape != shape:
            raise CheckpointError("the %s's parameter %s has shape %s, the model's %s"
                                  % (source, name, saved[name].shape, shape))


def set_values(variables, values, what):
    """Set shared variables from arrays after checking every shape first."""
    if len(variables) != len(values):
        raise CheckpointError("the checkpoint holds %d %s arrays, the model needs %d"
                              % (len(values), what, len(variables)))
    for var, value in zip(variables, values):
        if var.get_value().shape != np.shape(value):
            raise CheckpointError("the checkpoint's %s %s has shape %s, expected %s"
                                  % (what, var.name, np.shape(value),
                                     var.get_value().shape))
    for var, value in zip(variables, values):
        var.set_value(np.asarray(value, dtype=var.dtype))
