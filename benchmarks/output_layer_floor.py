"""What the 10k-way output layer costs per sequence, one sequence at a time
against a whole batch: a floor under single-sequence accumulation.

The benchmark workload (``lstm_throughput.py``) ends in a dense layer of
256 x 10,000 weights (10 MB in float32). Whatever a training step does with
one sequence, it reads those weights twice: for the logits (``h @ W``) and
for the gradient flowing back into the LSTM (``g @ W.T``). A masked step
reads them twice per *batch*. This script times, in JAX on the CPU, with
the rows of one ladder-padded sequence (16) and of a batch (32 x 16):

* ``sequence, essential``: ``h @ W`` and ``g @ W.T`` for one sequence, the
  least any per-sequence step can do with the output layer;
* ``sequence, with its weight gradient``: the same plus ``acc + h.T @ g``,
  what ``compute_grad`` does today (the accumulator written every call);
* ``batch``: the three products for 32 sequences at once, as in masked mode,
  divided by 32;
* ``kept rows``: what accumulation does with the weight gradient since it
  keeps each call's rows: the library's
  :class:`lasagne_lstm.training.core.FactoredGradient` given the 32
  sequences' ``h`` and ``g`` (JAX arrays, as ``compute_grad`` returns them),
  which copies them into one host array and runs ``acc + H.T @ G`` on it,
  and that product alone, each divided by 32;
* ``g @ W.T``, one sequence's gradient into the LSTM alone, with ``W.T``
  read from ``W`` and from a transposed copy stored as its own array (what
  accumulation mode reads since the parameters' rearrangements are held
  once per cycle, :mod:`lasagne_lstm.training.cycle_constants`).

Each function runs ``--calls`` times after a warm-up, synchronously. The
ratio ``batch / sequence, essential`` bounds single-sequence accumulation's
speed relative to masked mode from above, on the output layer alone.

    python benchmarks/output_layer_floor.py              # every CPU
    python benchmarks/output_layer_floor.py --threads 1  # one pinned CPU
"""
import argparse
import os
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import lstm_throughput as lt  # noqa: E402  (pinning and thread settings)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    lt.add_threads_argument(p)
    p.add_argument("--hidden", type=int, default=256, help="(default 256)")
    p.add_argument("--vocab", type=int, default=10000, help="(default 10000)")
    p.add_argument("--rows", type=int, default=16,
                   help="rows of one padded sequence (default 16)")
    p.add_argument("--batch", type=int, default=32, help="sequences per batch (32)")
    p.add_argument("--calls", type=int, default=200, help="timed calls (default 200)")
    return p.parse_args(argv)


def timed(fn, args, calls):
    """Median seconds of one synchronous call, after three warm-up calls."""
    for _ in range(3):
        _block(fn(*args))
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        _block(fn(*args))
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def _block(result):
    for value in result:
        if hasattr(value, "block_until_ready"):
            value.block_until_ready()


def _kept_rows(args, array):
    """A call giving a batch's rows to the library's FactoredGradient and
    adding them into its accumulator; returns the accumulator."""
    import numpy as np
    import pytensor
    from lasagne_lstm.training.core import FactoredGradient
    pytensor.config.floatX = "float32"
    accumulator = pytensor.shared(np.zeros((args.hidden, args.vocab), np.float32),
                                  name="accumulator")
    factored = FactoredGradient(accumulator, "jax")
    pieces = [(array(args.rows, args.hidden), array(args.rows, args.vocab))
              for _ in range(args.batch)]

    def call():
        for h, g in pieces:
            factored.keep(h, g)
        factored.fold()
        return [accumulator.get_value(borrow=True)]
    return call


def main(argv=None):
    args = parse_args(argv)
    os.environ.update(lt.worker_env(args.threads))
    lt.pin_cpus(args.threads)
    import jax
    import jax.numpy as jnp
    import numpy as np

    rng = np.random.default_rng(0)

    def array(*shape):
        return jnp.asarray(rng.standard_normal(shape, dtype=np.float32))

    W = array(args.hidden, args.vocab)
    acc = array(args.hidden, args.vocab)
    h, g = array(args.rows, args.hidden), array(args.rows, args.vocab)
    rows = args.rows * args.batch
    H, G = array(rows, args.hidden), array(rows, args.vocab)

    essential = jax.jit(lambda h, g, W: (h @ W, g @ W.T))
    with_grad = jax.jit(lambda h, g, W, acc: (h @ W, g @ W.T, acc + h.T @ g))
    batch = jax.jit(lambda H, G, W: (H @ W, G @ W.T, H.T @ G))
    t_essential = timed(essential, (h, g, W), args.calls)
    t_with_grad = timed(with_grad, (h, g, W, acc), args.calls)
    t_batch = timed(batch, (H, G, W), max(args.calls // 10, 10)) / args.batch
    product = jax.jit(lambda H, G, acc: (acc + H.T @ G,))
    t_product = timed(product, (H, G, acc), max(args.calls // 10, 10)) / args.batch
    t_kept = timed(_kept_rows(args, array), (), max(args.calls // 10, 10)) / args.batch
    W_T = jnp.asarray(np.asarray(W).T.copy())
    t_through_W = timed(jax.jit(lambda g, W: (g @ W.T,)), (g, W), args.calls)
    t_stored = timed(jax.jit(lambda g, W_T: (g @ W_T,)), (g, W_T), args.calls)
    print("threads=%d, output layer %d x %d (float32), %d rows per sequence, "
          "batch %d" % (args.threads, args.hidden, args.vocab, args.rows, args.batch))
    print("| per sequence | ms |")
    print("|---|---:|")
    print("| sequence, essential (h @ W, g @ W.T) | %.3f |" % (1e3 * t_essential))
    print("| sequence, with its weight gradient (+ acc + h.T @ g) | %.3f |"
          % (1e3 * t_with_grad))
    print("| batch of %d, the three products, per sequence | %.3f |"
          % (args.batch, 1e3 * t_batch))
    print("| kept rows: FactoredGradient's copy and product, per sequence | %.3f |"
          % (1e3 * t_kept))
    print("| kept rows: of which the product acc + H.T @ G, per sequence | %.3f |"
          % (1e3 * t_product))
    print("| sequence, g @ W.T with W.T read from W | %.3f |" % (1e3 * t_through_W))
    print("| sequence, g @ W.T with W.T stored transposed | %.3f |" % (1e3 * t_stored))
    print("batch / sequence-essential = %.2f: single-sequence accumulation's "
          "ceiling against masked mode on the output layer alone"
          % (t_batch / t_essential))


if __name__ == "__main__":
    main()
