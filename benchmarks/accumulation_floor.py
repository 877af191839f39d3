"""The benchmark workload written directly in JAX, in masked mode and in
accumulation mode: how fast XLA on this CPU runs each mode without the
library, so that the library's ratios can be read against XLA's own.

The model and batches are those of ``lstm_throughput.py`` (its first
``--batches`` bucketed Shakespeare batches; vocabulary 10k, embedding 128,
Lasagne's LSTM of 256 units with peepholes, the gate pre-activations'
gradient clipped at 5, precomputed input projection, a dense 10k-way output
layer, token-mean cross-entropy, Adam), written with ``jax.lax.scan``,
``jax.grad`` and ``jax.jit``, every update donating its buffers
(which PyTensor's JAX linker does not; ``--no-donation``: none donated):

* ``masked``: one jitted gradient and Adam update per batch;
* ``mb1``, ``mb8``: per call, one jitted gradient of the call's sequences
  (padded to their own width on the library's ladder, masked) added into
  donated accumulators, then one jitted Adam update of their mean (in
  exact arithmetic the masked step's update on the same batch; not checked
  here, each mode trains its own copy of the parameters);
* ``mb1-kept``, ``mb8-kept``: the same, with the output layer's weight
  gradient formed once per update, as the library does
  (:class:`lasagne_lstm.training.core.FactoredGradient`): each call returns
  its hidden rows and its logits' gradient, kept on the device, and the
  update multiplies them all at once (``concatenate(H).T @ concatenate(G)``).

Each mode runs in this process, in alternating passes; figures are real
tokens per wall-clock second (median of the passes) and the ratio to the
masked mode. The library's own figures come from ``lstm_throughput.py``
(``masked-pool-jax``, ``accum-mb1-jax``, ``accum-mb8-jax``); where XLA's own
ratio is below a target, a library running the same XLA operations is
unlikely to reach it by scheduling them better.

    python benchmarks/accumulation_floor.py               # every CPU, ~3 min
    python benchmarks/accumulation_floor.py --threads 1   # one pinned CPU
    python benchmarks/accumulation_floor.py --no-donation --modes masked,mb1,mb8
"""
import argparse
import functools
import os
import pathlib
import statistics
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import lstm_throughput as lt  # noqa: E402  (workload, batches, pinning)

MODES = ("masked", "mb1", "mb8", "mb1-kept", "mb8-kept")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    lt.add_threads_argument(p)
    p.add_argument("--batches", type=int, default=20, help="batches per pass (20)")
    p.add_argument("--passes", type=int, default=4,
                   help="timed passes of each mode, alternating (4)")
    p.add_argument("--modes", default=",".join(MODES),
                   help="comma-separated subset of " + ", ".join(MODES))
    p.add_argument("--no-donation", action="store_true",
                   help="updates write new buffers instead of donating the old ones "
                        "(as PyTensor's JAX linker does)")
    args = p.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = sorted(set(args.modes) - set(MODES))
    if unknown:
        p.error("unknown mode %s (choose from %s)" % (", ".join(unknown), ", ".join(MODES)))
    return args


def init_params(rng, vocab, embedding, hidden):
    """Parameters as Lasagne initialises them in kind (uniform, zero
    biases, forget-gate bias 0); only their shapes matter for the speed."""
    import numpy as np

    def uniform(*shape):
        bound = np.sqrt(6.0 / sum(shape[-2:]))
        return rng.uniform(-bound, bound, shape).astype(np.float32)
    return dict(embed=uniform(vocab, embedding),
                W_in=uniform(embedding, 4 * hidden), W_hid=uniform(hidden, 4 * hidden),
                b=np.zeros(4 * hidden, np.float32),
                peep=uniform(3, hidden),  # w_ci, w_cf, w_co
                W_out=uniform(hidden, vocab), b_out=np.zeros(vocab, np.float32))


def make_loss(hidden, clip):
    """Summed token cross-entropy of a padded, masked batch, with Lasagne's
    LSTM (gates stacked i, f, c, o; peepholes; masked steps carry the state;
    the gates' gradient clipped to [-clip, clip] at every step)."""
    import jax
    import jax.numpy as jnp

    @jax.custom_vjp
    def grad_clip(x):
        return x

    grad_clip.defvjp(lambda x: (x, None), lambda _, g: (jnp.clip(g, -clip, clip),))

    def loss(params, X, mask, y, scale, W_out=None, shift=None):
        """With ``W_out`` given apart (out of the gradient) and ``shift``
        added to the logits, the gradient with respect to ``shift`` is the
        logits' gradient; the hidden rows are returned beside the loss."""
        B, T = X.shape
        x = params["embed"][X]                                   # B, T, E
        projected = x @ params["W_in"] + params["b"]             # B, T, 4H
        w_ci, w_cf, w_co = params["peep"]

        def step(carry, inputs):
            h, c = carry
            p, m = inputs
            gates = grad_clip(p + h @ params["W_hid"])
            i, f, g, o = jnp.split(gates, 4, axis=1)
            i = jax.nn.sigmoid(i + c * w_ci)
            f = jax.nn.sigmoid(f + c * w_cf)
            c_new = f * c + i * jnp.tanh(g)
            o = jax.nn.sigmoid(o + c_new * w_co)
            h_new = o * jnp.tanh(c_new)
            m = m[:, None]
            h_new = m * h_new + (1 - m) * h
            c_new = m * c_new + (1 - m) * c
            return (h_new, c_new), h_new

        zeros = jnp.zeros((B, hidden), jnp.float32)
        _, hs = jax.lax.scan(step, (zeros, zeros),
                             (jnp.swapaxes(projected, 0, 1), mask.T))
        hs = jnp.swapaxes(hs, 0, 1).reshape(B * T, hidden)
        if W_out is None:
            logits = hs @ params["W_out"] + params["b_out"]
        else:
            logits = hs @ W_out + params["b_out"] + shift
        logp = jax.nn.log_softmax(logits)
        picked = jnp.take_along_axis(logp, y.reshape(-1, 1), axis=1)[:, 0]
        total = -(picked.reshape(B, T) * mask).sum(axis=1) @ scale
        return total if W_out is None else (total, hs)
    return loss


def adam(params, state, grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """Lasagne's Adam: bias-corrected step size, ``t`` counted in ``state``."""
    import jax
    import jax.numpy as jnp
    t = state["t"] + 1
    a = lr * jnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, state["m"], grads)
    v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, state["v"], grads)
    new = jax.tree_util.tree_map(lambda p, m, v: p - a * m / (jnp.sqrt(v) + eps),
                                 params, m, v)
    return new, dict(t=t, m=m, v=v)


class Modes:
    """The compiled functions of every mode, on one set of parameters."""

    def __init__(self, params, hidden, clip=5.0, donate=True):
        import jax
        import jax.numpy as jnp
        self.params = jax.tree_util.tree_map(jnp.asarray, params)
        zeros = functools.partial(jax.tree_util.tree_map, jnp.zeros_like)
        self.state = dict(t=jnp.zeros((), jnp.float32), m=zeros(self.params),
                          v=zeros(self.params))
        self.acc = zeros(self.params)
        loss = make_loss(hidden, clip)
        grad = jax.grad(loss)
        # the kept-rows gradient: every parameter but W_out, and the logits'
        grad_kept = jax.grad(loss, argnums=(0, 6), has_aux=True)

        def masked(params, state, X, mask, y, scale):
            return adam(params, state, grad(params, X, mask, y, scale))

        def accumulate(acc, params, X, mask, y, scale):
            return jax.tree_util.tree_map(jnp.add, acc, grad(params, X, mask, y, scale))

        def accumulate_kept(acc, params, X, mask, y, scale):
            rest = {k: v for k, v in params.items() if k != "W_out"}
            shift = jnp.zeros((X.size, params["W_out"].shape[1]), jnp.float32)
            (grads, logits_grad), hs = grad_kept(rest, X, mask, y, scale,
                                                 params["W_out"], shift)
            acc = dict(acc, **{k: acc[k] + g for k, g in grads.items()})
            return acc, hs, logits_grad

        def apply(params, state, acc):
            new, state = adam(params, state, acc)
            return new, state, zeros(acc)

        def apply_kept(params, state, acc, hs, logits_grads):
            rows = jnp.concatenate(hs)
            acc = dict(acc, W_out=acc["W_out"] + rows.T @ jnp.concatenate(logits_grads))
            return apply(params, state, acc)
        def jit(fn, donated):
            return jax.jit(fn, donate_argnums=donated if donate else ())
        self._masked = jit(masked, (0, 1))
        self._accumulate = jit(accumulate, (0,))
        self._accumulate_kept = jit(accumulate_kept, (0,))
        self._apply = jit(apply, (0, 1, 2))
        self._apply_kept = jit(apply_kept, (0, 1, 2))

    def run(self, mode, batch):
        """One update of ``mode`` on ``batch``; returns what to wait for."""
        import numpy as np
        total = float(batch.n_tokens)
        if mode == "masked":
            scale = np.full(len(batch.X), 1.0 / total, np.float32)
            self.params, self.state = self._masked(self.params, self.state, batch.X,
                                                   batch.mask, batch.y, scale)
            return self.params
        size = 8 if mode.startswith("mb8") else 1
        kept = mode.endswith("-kept")
        hs, logits_grads = [], []
        for mb in batch.micro_batches(size):
            scale = np.zeros(len(mb.X), np.float32)
            scale[:len(mb)] = 1.0 / total
            if kept:
                self.acc, h, g = self._accumulate_kept(self.acc, self.params, mb.X,
                                                       mb.mask, mb.y, scale)
                hs.append(h)
                logits_grads.append(g)
            else:
                self.acc = self._accumulate(self.acc, self.params, mb.X, mb.mask, mb.y,
                                            scale)
        if kept:
            self.params, self.state, self.acc = self._apply_kept(
                self.params, self.state, self.acc, hs, logits_grads)
        else:
            self.params, self.state, self.acc = self._apply(self.params, self.state,
                                                            self.acc)
        return self.params


def main(argv=None):
    args = parse_args(argv)
    os.environ.update(lt.worker_env(args.threads))
    lt.pin_cpus(args.threads)
    import jax
    import numpy as np
    spec = lt.base_spec(lt.parse_args([]))
    spec["batches"] = args.batches
    vocab, batches = lt.load_batches(spec, "pool", "jax")
    modes = args.modes
    params = init_params(np.random.default_rng(spec["seed"]), len(vocab),
                         spec["embedding"], spec["hidden"])
    runners = {m: Modes(params, spec["hidden"], spec["grad_clipping"],
                        donate=not args.no_donation) for m in modes}
    tokens = sum(b.n_tokens for b in batches)
    rates = {m: [] for m in modes}
    for m in modes:  # compiles every shape
        for b in batches:
            jax.block_until_ready(runners[m].run(m, b))
    for _ in range(args.passes):
        for m in modes:
            start = time.perf_counter()
            for b in batches:
                last = runners[m].run(m, b)
            jax.block_until_ready(last)
            rates[m].append(tokens / (time.perf_counter() - start))
    print("threads=%d, %d batches of the lstm_throughput.py workload in JAX alone "
          "(buffers %s), median of %d alternating passes"
          % (args.threads, len(batches), "not donated" if args.no_donation else "donated",
             args.passes))
    print("| mode | tokens/s | x masked |")
    print("|---|---:|---:|")
    base = statistics.median(rates["masked"]) if "masked" in rates else None
    for m in modes:
        rate = statistics.median(rates[m])
        print("| %s | %.0f | %s |" % (m, rate, "%.2f" % (rate / base) if base else "-"))


if __name__ == "__main__":
    main()
