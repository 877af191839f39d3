"""Checkpoints: one ``.npz`` file holding everything needed to resume.

Layout (all arrays, no pickles):

* ``param/<layer name>.<param name>``: every model parameter;
* ``optimizer/NNN``: the update rule's state variables, in the rule's order;
* ``rng/<name>``: random generator states (dropout streams);
* ``carried/NNNN``: the recurrent states carried into the next window of a
  token stream (stream training);
* ``meta``: one JSON string with the step, epoch, position in the epoch, the
  configuration, the vocabulary, the learning-rate schedule's state and the
  log so far.

Writes are atomic: the file is written beside the target under a temporary
name, flushed and fsynced, then renamed over the target, so a crash mid-write
leaves the previous checkpoint intact.
"""
import json
import os
import pathlib
import zipfile

import numpy as np

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model."""


class Checkpoint:
    """The contents of a checkpoint file.

    Attributes
    ----------
    params : dict name -> array
    optimizer_state : list of arrays
    rng_state : dict name -> array
    meta : dict (JSON-serialisable)
    carried_state : list of arrays
    """

    def __init__(self, params, optimizer_state=(), rng_state=None, meta=None,
                 carried_state=()):
        self.params = dict(params)
        self.optimizer_state = list(optimizer_state)
        self.rng_state = dict(rng_state or {})
        self.meta = dict(meta or {})
        self.carried_state = list(carried_state)


def save(path, checkpoint):
    """Write a checkpoint atomically (temporary file, fsync, rename)."""
    path = pathlib.Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"param/" + name: np.asarray(value)
              for name, value in checkpoint.params.items()}
    for i, value in enumerate(checkpoint.optimizer_state):
        arrays["optimizer/%04d" % i] = np.asarray(value)
    for name, value in checkpoint.rng_state.items():
        arrays["rng/" + name] = np.asarray(value)
    for i, value in enumerate(checkpoint.carried_state):
        arrays["carried/%04d" % i] = np.asarray(value)
    meta = dict(checkpoint.meta, format_version=FORMAT_VERSION)
    arrays["meta"] = np.array(json.dumps(meta))
    tmp = path.with_name(".%s.tmp-%d" % (path.name, os.getpid()))
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


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
    return Checkpoint(params, optimizer, rng, meta, carried)


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
