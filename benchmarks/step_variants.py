"""Two variants of the training step timed against each other in one
process, in alternating passes, so that both see the same neighbours on a
shared machine. The workload is that of ``lstm_throughput.py`` (its first
``--batches`` bucketed Shakespeare batches, vocabulary 10k, embedding 128,
LSTM 256 with ``grad_clipping=5``, Adam), in masked mode or (``--mode
accumulate``) accumulation over single sequences, or (``--mode stream``)
stream training on the batches' tokens. Reports real tokens per
CPU second (median of the passes, one pinned thread) and the ratio of the
second variant to the first.

``--compare loss``
    the cross-entropy as PyTensor's ``LogSoftmax`` (what
    :func:`lasagne_lstm.training.target_nll` uses) against
    ``logsumexp(logits) - logits[target]`` from element-wise ops and
    reductions (the row maximum subtracted and kept out of the gradient),
    which avoids ``LogSoftmax``, run as NumPy code on the C backend;
``--compare targets``
    the cross-entropy's gradient as PyTensor derives it through the pick of
    each row's target (a scatter into a zeroed rows x classes buffer, summed
    again by ``LogSoftmax``'s gradient) against the closed form
    ``softmax - one-hot`` of :func:`lasagne_lstm.training.target_nll`;
``--compare output``
    the language model's logits computed whole (rows x vocabulary) and
    differentiated by PyTensor, through :func:`target_nll`, against the
    library's :mod:`lasagne_lstm.training.output_nll` op, which computes the
    cross-entropy and its gradient together a chunk of real rows at a time;
``--compare chunks-128``, ``--compare chunks-512``
    the output op's chunks of at most 256 rows (the library's
    ``output_nll.CHUNK_ROWS``) against at most 128 or 512;
``--compare padding``
    batch widths padded to multiples of 8 against the ladder 4, 8, 12, 16,
    24, 32, 44, 60 (``pad_multiple=4, pad_growth=1.3``, the JAX default): the
    same rows, padded differently; matters on static-shape backends;
``--compare guard``
    the finiteness check of every update (:func:`lasagne_lstm.training.core.guard_updates`)
    as ``all(isfinite(v))`` of every array against the library's
    ``isfinite`` of the sum of their sums;
``--compare guard-select``
    the guard's ``switch(finite, new, old)`` per array against one
    ``ifelse`` (``jax.lax.cond`` on JAX) choosing all the new or all the
    old values;
``--compare guard-cost``
    the guard against none (every update applied): what checking costs;
``--compare guard-switch``
    the guard against its check alone (``finite`` computed, every update
    applied): what its ``switch`` costs;
``--compare constants``
    (accumulation mode) the parameters' transposes and concatenations
    computed in every ``compute_grad`` call against once per cycle
    (:mod:`lasagne_lstm.training.cycle_constants`, the library's);
``--compare factored``
    (accumulation mode) the output layer's weight gradient formed and added
    into its accumulator in every ``compute_grad`` call against kept as rows
    and multiplied ``FOLD_ROWS`` rows at a time
    (:class:`lasagne_lstm.training.core.FactoredGradient`, the library's);
``--compare donation``
    PyTensor's JAX linker as the library uses it, which writes every
    updated shared variable into a new buffer, against one that donates the
    old buffers to XLA (:func:`donating_jax_linker`), so that updates and
    accumulators are written in place;
``--compare donation-unguarded``
    the same without the update guard in either variant (every update
    applied, finite or not): what the guard costs a donating step;
``--compare donated-products``
    (accumulation mode) the library's kept rows against per-call products
    (as ``--compare factored``) added into accumulators whose buffers
    ``compute_grad`` donates: the form that
    ``accumulation_floor.py`` found fastest for micro-batches of 8.

``--threads N`` pins the worker to N CPUs (default 1) and also reports real
tokens per wall-clock second. ``--per-call N`` also times N updates of each
variant on one batch of each width. Each variant goes first in every other
pass (and per-call round): the first update after a change of variant runs
slower; ``--reverse`` builds and runs the second variant first.

Example::

    python benchmarks/step_variants.py --compare loss          # c, numba, jax: ~10 min
    python benchmarks/step_variants.py --compare padding --mode accumulate
    python benchmarks/step_variants.py --compare constants --mode accumulate --threads 2
    python benchmarks/step_variants.py --compare targets --threads 2 --per-call 10
    python benchmarks/step_variants.py --compare output --threads 2 --batches 20 --per-call 6
    python benchmarks/step_variants.py --compare output --mode stream --threads 2 --batches 40
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import time

import numpy as np

import lstm_throughput as lt

RESULT_TAG = "@@STEP_VARIANTS "
DEFAULT_BACKENDS = {"loss": "c,numba,jax", "targets": "jax", "padding": "jax",
                    "guard": "jax", "guard-select": "jax", "guard-cost": "jax",
                    "guard-switch": "jax", "constants": "jax", "factored": "jax",
                    "donation": "jax", "donation-unguarded": "jax",
                    "donated-products": "jax", "output": "jax", "chunks-128": "jax",
                    "chunks-512": "jax"}


def logsumexp_nll(logits, targets):
    """``logsumexp(logits_i) - logits[i, y_i]``, stable and with the shift
    out of the gradient (its exact derivative cancels)."""
    import pytensor.tensor as pt
    from pytensor.gradient import disconnected_grad
    from lasagne_lstm.training.steps import _take_targets
    shift = disconnected_grad(pt.max(logits, axis=1, keepdims=True))
    log_norm = pt.log(pt.exp(logits - shift).sum(axis=1)) + shift[:, 0]
    return log_norm - _take_targets(logits, targets)


def scatter_nll(logits, targets):
    """``-log_softmax(logits)[i, y_i]`` differentiated through the pick, as
    the library's :func:`~lasagne_lstm.training.target_nll` was before its
    closed-form gradient: the pick's gradient scatters into a zeroed rows x
    classes buffer, which ``LogSoftmax``'s gradient then sums."""
    import pytensor.tensor as pt
    from lasagne_lstm.training.steps import _take_targets
    return -_take_targets(pt.special.log_softmax(logits, axis=-1), targets)


def isfinite_all_guard(updates, checked):
    """The update guard as it was before the sum: ``all(isfinite(v))`` of
    every checked value and new value."""
    from collections import OrderedDict
    import pytensor.tensor as pt
    finite = pt.all([pt.all(pt.isfinite(v)) for v in list(checked) + list(updates.values())])
    guarded = OrderedDict((var, pt.switch(finite, new, var)) for var, new in updates.items())
    return guarded, finite


#: the library's guard_updates, kept while a variant replaces it
LIBRARY_GUARD = []


def ifelse_guard(updates, checked):
    """The library's update guard with one ``ifelse(finite, new, old)`` (a
    conditional, ``jax.lax.cond`` on JAX) instead of a ``switch`` per array."""
    from collections import OrderedDict
    from pytensor.ifelse import ifelse
    _, finite = LIBRARY_GUARD[0](updates, checked)
    variables = list(updates)
    chosen = ifelse(finite, [updates[v] for v in variables], variables)
    chosen = chosen if isinstance(chosen, list) else [chosen]
    return OrderedDict(zip(variables, chosen)), finite


def checked_unswitched(updates, checked):
    """The library guard's check (``finite`` computed as it does) with every
    update left unswitched: the step a guard would compile that restored a
    rejected update's old values on the host instead."""
    from collections import OrderedDict
    _, finite = LIBRARY_GUARD[0](updates, checked)
    return OrderedDict(updates), finite


def in_every_call(constants, variables):
    """``CycleConstants.substitute`` that substitutes nothing: every
    rearrangement of the parameters stays in the compute-grad call."""
    return list(variables)


def per_call_products(*args, **kwargs):
    """A ``GradientAccumulator`` that keeps no rows: every gradient is
    formed and added into its accumulator in each call."""
    from lasagne_lstm.training import core
    return core.GradientAccumulator(*args, factored_min_size=None, **kwargs)


def donating_jax_linker():
    """A JAX linker class whose compiled functions donate the buffers of
    the shared variables they update (``jax.jit``'s ``donate_argnums``).

    Donation deletes the old arrays, so it is only safe where nothing else
    holds them: true of this benchmark's step functions. A call that passes
    one array at two positions (XLA refuses to donate it) runs undonated.
    """
    import jax
    from pytensor.link.jax.linker import JAXLinker

    class DonatingJAXLinker(JAXLinker):
        def jit_compile(self, fn):
            static = tuple(self.scalar_shape_inputs)
            donated = tuple(sorted(set((self.fgraph.update_mapping or {}).values())
                                   - set(static)))
            if not donated:
                return super().jit_compile(fn)
            return DonatingFunction(fn, static, donated)

    class DonatingFunction:
        def __init__(self, fn, static, donated):
            self.fn, self.static, self.donated = fn, static, donated
            self.jitted = jax.jit(fn, static_argnums=static, donate_argnums=donated)
            self.undonated = None

        def lower(self, *args):  # for compiling ahead of use
            return self.jitted.lower(*args)

        def __call__(self, *args):
            if self.static:
                args = tuple(int(a) if k in self.static else a
                             for k, a in enumerate(args))
            ids = [id(a) for a in args]
            if any(ids.count(ids[k]) > 1 for k in self.donated):
                if self.undonated is None:
                    self.undonated = jax.jit(self.fn, static_argnums=self.static)
                return self.undonated(*args)
            return self.jitted(*args)

    return DonatingJAXLinker


def donating_jax_mode():
    """The library's JAX mode with :func:`donating_jax_linker`'s linker."""
    from pytensor.compile.mode import Mode
    from lasagne_lstm import backends
    return Mode(linker=donating_jax_linker()(),
                optimizer=backends.get_mode("jax").provided_optimizer)


def never_fused(layer):
    """No output layer is fused: the logits are computed whole."""
    return False


def unguarded(updates, checked):
    """No update guard: every update applied, ``finite`` always true (for
    measuring what the guard costs donation, not for training)."""
    from collections import OrderedDict
    import numpy as np
    import pytensor.tensor as pt
    return OrderedDict(updates), pt.as_tensor_variable(np.array(True))


def donating_functions(library_function, donate):
    """``function`` compiling in :func:`donating_jax_mode` the functions
    whose name passes ``donate`` (every step function is made through
    ``lasagne_lstm.training.core.function``)."""
    mode = donating_jax_mode()

    def compile_function(*args, name=None, **kwargs):
        if donate(name):
            kwargs["mode"] = mode
        return library_function(*args, name=name, **kwargs)
    return compile_function


def every_function(name):
    return True


def compute_grad_only(name):
    """The accumulators' ``acc + g`` (``apply_mean_grad``'s updates go
    through the update guard)."""
    return (name or "").startswith("compute_grad")


def variants(compare):
    """name -> the variant's changes to the library: ``padding`` (of the
    batches), ``donate`` (which step functions donate their updated
    buffers, a test of the function's name), and library attributes
    replaced while its graphs are built (the keys of :func:`replaced`)."""
    library = {}

    def variant(**changes):
        return changes
    if compare == "loss":
        return {"log_softmax": library, "logsumexp": variant(loss=logsumexp_nll)}
    if compare == "targets":
        return {"scatter": variant(loss=scatter_nll), "closed-form": library}
    if compare == "output":
        return {"whole-logits": variant(fusable=never_fused), "fused": library}
    if compare.startswith("chunks-"):
        rows = int(compare.split("-")[1])
        return {"library": library, "%d-rows" % rows: variant(chunk_rows=rows)}
    if compare == "guard-cost":
        return {"guarded": library, "unguarded": variant(guard=unguarded)}
    if compare == "guard-switch":
        return {"switch": library, "check-only": variant(guard=checked_unswitched)}
    if compare == "guard-select":
        return {"switch": library, "ifelse": variant(guard=ifelse_guard)}
    if compare == "guard":
        return {"isfinite-all": variant(guard=isfinite_all_guard), "sum": library}
    if compare == "constants":
        return {"per-call": variant(substitute=in_every_call), "per-cycle": library}
    if compare == "factored":
        return {"per-call": variant(accumulator=per_call_products), "kept-rows": library}
    if compare == "donation":
        return {"undonated": library, "donated": variant(donate=every_function)}
    if compare == "donation-unguarded":
        return {"undonated": variant(guard=unguarded),
                "donated": variant(guard=unguarded, donate=every_function)}
    if compare == "donated-products":
        return {"kept-rows": library,
                "donated-products": variant(accumulator=per_call_products,
                                            donate=compute_grad_only)}
    return {"multiple-8": variant(padding=(8, 1.0)), "ladder-4x1.3": variant(padding=(4, 1.3))}


#: Stream mode's windows: rows x steps.
STREAM_WINDOW = (32, 35)


class StreamWindow:
    """One window of a token stream, with what the timing loop reads of a batch."""

    def __init__(self, X, y):
        self.X, self.y = X, y
        self.n_tokens = X.size


class StreamSteps:
    """Stream training (``StreamStepFunctions``) on the workload's model made
    stateful, with ``train_batch`` carrying the state from window to window."""

    def __init__(self, config, backend):
        from lasagne_lstm.training import StreamStepFunctions
        from lasagne_lstm.training.models import build_model
        model = build_model(dict(config, stateful=True), masked=False)
        self.steps = StreamStepFunctions(model, "adam", backend=backend)
        self.states = self.steps.initial_states(STREAM_WINDOW[0])

    @staticmethod
    def windows(batches):
        """The batches' real tokens, in order, as one stream cut into windows."""
        from lasagne_lstm.training.data import stream_batches
        ids = np.concatenate([b.X[i, :n] for b in batches for i, n in enumerate(b.lengths)])
        return [StreamWindow(X, y) for X, y in stream_batches(ids, *STREAM_WINDOW)]

    def train_batch(self, window, micro_batch=None):
        _, _, self.states = self.steps.train(window.X, window.y, self.states)


def replaced():
    """Variant key -> (object, attribute) of the library that the variant
    replaces; each is looked up when graphs are built."""
    from lasagne_lstm.training import core, output_nll, steps
    from lasagne_lstm.training.cycle_constants import CycleConstants
    return {"loss": (steps, "target_nll"), "guard": (core, "guard_updates"),
            "substitute": (CycleConstants, "substitute"),
            "accumulator": (steps, "GradientAccumulator"),
            "fusable": (steps, "fusable_output"), "chunk_rows": (output_nll, "CHUNK_ROWS"),
            "function": (core, "function")}


def measure(backend, compare, mode, n_batches, passes, micro_batch=1, per_call=0,
            reverse=False):
    """Both variants on one backend, in this process (the second one built
    and run first with ``reverse``)."""
    import pytensor
    import lasagne_lstm.training as training
    from lasagne_lstm.training import core
    from lasagne_lstm.training.models import build_model
    pytensor.config.floatX = "float32"
    spec = lt.base_spec(lt.parse_args([]))
    spec["batches"] = n_batches
    LIBRARY_GUARD[:] = [core.guard_updates]
    targets = replaced()
    runs, out = {}, {}
    ordered = list(variants(compare).items())
    for name, changes in (ordered[::-1] if reverse else ordered):
        changes = dict(changes)
        padding = changes.pop("padding", None)
        donate = changes.pop("donate", None)
        if donate is not None:
            changes["function"] = donating_functions(core.function, donate)
        vocab, batches = lt.load_batches(spec, "pool", backend, padding=padding)
        config = lt.lm_config(spec, len(vocab))
        library = {key: getattr(*targets[key]) for key in changes}
        for key, value in changes.items():
            setattr(*targets[key], value)
        try:
            if mode == "stream":
                step = StreamSteps(config, backend)
                batches = step.windows(batches)
            else:
                step = training.StepFunctions(build_model(config), mode=mode,
                                              optimizer="adam", backend=backend)
            t0 = time.perf_counter()
            for b in batches:  # compiles every shape while the variant is in place
                step.train_batch(b, micro_batch)
        finally:
            for key, value in library.items():
                setattr(*targets[key], value)
        runs[name] = (step, batches)
        tokens = sum(b.n_tokens for b in batches)
        out[name] = dict(first_pass_s=time.perf_counter() - t0,
                         widths=len({b.X.shape for b in batches}),
                         padding_fraction=1 - tokens / sum(b.X.size for b in batches),
                         passes=[])
    for pass_number in range(passes):
        # each variant first in every other pass, as in time_per_call
        order = list(runs) if pass_number % 2 == 0 else list(runs)[::-1]
        for name in order:
            step, batches = runs[name]
            c0, t0 = time.process_time(), time.perf_counter()
            for b in batches:
                step.train_batch(b, micro_batch)
            tokens = sum(b.n_tokens for b in batches)
            out[name]["passes"].append(tokens / (time.process_time() - c0))
            out[name].setdefault("wall_passes", []).append(
                tokens / (time.perf_counter() - t0))
    for entry in out.values():
        entry["tokens_per_cpu_s"] = statistics.median(entry["passes"])
        entry["tokens_per_s"] = statistics.median(entry["wall_passes"])
    if per_call:
        out["per_call_ms"] = time_per_call(runs, micro_batch, per_call)
    return out


def time_per_call(runs, micro_batch, calls):
    """Median wall-clock ms of one update per batch width: the first batch
    of each width, ``calls`` updates of each variant in alternation, each
    variant first in every other round (the variants must have the same
    batches)."""
    first = {}
    for k, b in enumerate(next(iter(runs.values()))[1]):
        first.setdefault(b.X.shape[1], k)
    times = {w: {name: [] for name in runs} for w in first}
    names = list(runs)
    for call in range(calls):
        for w, k in first.items():
            # the first update after a change of width runs slower: each
            # variant goes first in every other round
            for name in (names if call % 2 == 0 else names[::-1]):
                step, batches = runs[name]
                t0 = time.perf_counter()
                step.train_batch(batches[k], micro_batch)
                times[w][name].append(1e3 * (time.perf_counter() - t0))
    return {str(w): {name: statistics.median(t) for name, t in per.items()}
            for w, per in sorted(times.items())}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--compare", choices=tuple(DEFAULT_BACKENDS),
                   default="loss",
                   help="which pair of variants (default loss)")
    p.add_argument("--mode", choices=("masked", "accumulate", "stream"), default="masked",
                   help="masked (default), accumulation over single sequences, or "
                        "stream training (truncated BPTT, %d x %d windows of the "
                        "batches' tokens)" % STREAM_WINDOW)
    p.add_argument("--micro-batch", type=int, default=1,
                   help="sequences per compute_grad call in accumulation mode (1)")
    p.add_argument("--backends", default=None,
                   help="comma-separated backends (default: c,numba,jax for loss, "
                        "jax for the others)")
    p.add_argument("--batches", type=int, default=40, help="batches per pass (40)")
    p.add_argument("--passes", type=int, default=4,
                   help="timed passes of each variant, alternating (4)")
    p.add_argument("--threads", type=int, default=1,
                   help="CPUs the worker is pinned to (default 1)")
    p.add_argument("--per-call", type=int, default=0, metavar="N",
                   help="also time N updates of each variant on one batch of each "
                        "width, alternating, and report the median ms per width "
                        "(comparisons whose variants share their batches)")
    p.add_argument("--reverse", action="store_true",
                   help="build and run the second variant first (a check that the "
                        "order does not decide the ratio)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.compare.startswith("donat") and args.backends not in (None, "jax"):
        p.error("--compare %s compares JAX linkers: --backends jax only" % args.compare)
    if args.per_call and args.mode == "stream":
        p.error("--per-call times one batch of each width; stream windows have one width")
    if args.per_call and args.compare == "padding":
        p.error("--per-call times the variants on the same batches; --compare padding "
                "pads them differently")
    if args.worker:
        lt.pin_cpus(args.threads)
        out = measure(args.worker, args.compare, args.mode, args.batches, args.passes,
                      args.micro_batch, args.per_call, args.reverse)
        print(RESULT_TAG + json.dumps(out), flush=True)
        return out
    first, second = variants(args.compare)
    print("%s mode%s: tokens per CPU-s (and per wall-clock s), median of %d alternating "
          "passes of %d batches, %d pinned thread%s" % (
              args.mode, " (micro-batches of %d)" % args.micro_batch
              if args.mode == "accumulate" else "", args.passes, args.batches, args.threads,
              "" if args.threads == 1 else "s"))
    print("%-7s  %14s  %14s  %s  (padding, widths)" % ("backend", first, second, "ratio"))
    results = {}
    for backend in (args.backends or DEFAULT_BACKENDS[args.compare]).split(","):
        backend = backend.strip()
        cmd = [sys.executable, str(pathlib.Path(__file__).resolve()), "--worker", backend,
               "--compare", args.compare, "--mode", args.mode,
               "--micro-batch", str(args.micro_batch), "--batches", str(args.batches),
               "--passes", str(args.passes), "--threads", str(args.threads),
               "--per-call", str(args.per_call)] + (["--reverse"] if args.reverse else [])
        proc = subprocess.run(cmd, env=lt.worker_env(args.threads), capture_output=True,
                              text=True, cwd=str(lt.ROOT))
        lines = [l for l in proc.stdout.splitlines() if l.startswith(RESULT_TAG)]
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            print("%-7s  failed: %s" % (backend, tail))
            continue
        r = results[backend] = json.loads(lines[-1][len(RESULT_TAG):])
        a, b = r[first], r[second]
        print("%-7s  %14.0f  %14.0f  %.2f   (%.1f%%, %d; %.1f%%, %d); per wall-clock s: "
              "%.0f, %.0f, %.2f" % (
                  backend, a["tokens_per_cpu_s"], b["tokens_per_cpu_s"],
                  b["tokens_per_cpu_s"] / a["tokens_per_cpu_s"],
                  100 * a["padding_fraction"], a["widths"],
                  100 * b["padding_fraction"], b["widths"],
                  a["tokens_per_s"], b["tokens_per_s"],
                  b["tokens_per_s"] / a["tokens_per_s"]), flush=True)
        for width, ms in r.get("per_call_ms", {}).items():
            print("         width %3s: %.1f ms, %.1f ms per update, ratio %.2f" % (
                width, ms[first], ms[second], ms[first] / ms[second]), flush=True)
    return results


if __name__ == "__main__":
    main()
