"""Stream mode (Zaremba et al. style): one long id stream cut into
``batch_size`` rows and read in windows of ``num_steps``, in order, so the
recurrent state can be carried from one window to the next."""
import numpy as np

__all__ = ["lm_stream", "stream_batches", "stream_num_windows"]


def lm_stream(vocab, token_seqs, add_eos=True):
    """One int32 stream of the ids of ``token_seqs``, each sequence followed by
    ``<eos>`` (the PTB convention)."""
    parts = [vocab.encode(seq, add_eos=add_eos) for seq in token_seqs]
    if not parts:
        return np.zeros(0, dtype=np.int32)
    return np.concatenate(parts).astype(np.int32, copy=False)


def _as_stream(ids):
    if isinstance(ids, np.ndarray):
        data = ids.ravel()
    else:
        ids = list(ids)
        if ids and np.ndim(ids[0]) > 0:
            data = np.concatenate([np.asarray(a).ravel() for a in ids])
        else:
            data = np.asarray(ids)
    if data.size and not np.issubdtype(data.dtype, np.integer):
        raise ValueError("stream ids must be integers, not %s" % data.dtype)
    return data.astype(np.int32, copy=False)


def stream_num_windows(n_ids, batch_size, num_steps):
    """How many windows ``stream_batches`` yields for a stream of ``n_ids``."""
    batch_len = n_ids // batch_size
    return max(0, (batch_len - 1) // num_steps)


def stream_batches(ids, batch_size, num_steps):
    """Yield ``(X, y)`` int32 windows of shape (batch_size, num_steps).

    ``ids`` is a 1-D id stream or a list of id arrays (concatenated). The
    stream is cut into ``batch_size`` contiguous rows of ``len // batch_size``
    ids (the remainder dropped); window ``i`` is columns
    ``[i*num_steps, (i+1)*num_steps)`` and ``y`` is ``X`` shifted by one, so
    row ``r`` of window ``i+1`` continues row ``r`` of window ``i``.
    """
    batch_size, num_steps = int(batch_size), int(num_steps)
    if batch_size <= 0 or num_steps <= 0:
        raise ValueError("batch_size and num_steps must be positive, not %d and %d"
                         % (batch_size, num_steps))
    data = _as_stream(ids)
    n_windows = stream_num_windows(len(data), batch_size, num_steps)
    if n_windows == 0:
        raise ValueError("a stream of %d ids is too short for batch_size %d and "
                         "num_steps %d (needs at least %d ids)"
                         % (len(data), batch_size, num_steps,
                            batch_size * (num_steps + 1)))
    batch_len = len(data) // batch_size
    rows = data[:batch_size * batch_len].reshape(batch_size, batch_len)
    for i in range(n_windows):
        a = i * num_steps
        yield rows[:, a:a + num_steps].copy(), rows[:, a + 1:a + num_steps + 1].copy()
