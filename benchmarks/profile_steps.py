"""Where a training step's time goes on JAX: the masked step, and
``compute_grad`` on single sequences (mb1) and on micro-batches of 8 (mb8),
with ``apply_mean_grad``, on the ``lstm_throughput.py`` workload (its first
``--batches`` bucketed Shakespeare batches; vocabulary 10k, embedding 128,
LSTM 256 with ``grad_clipping=5``, Adam, float32).

Each kind of call is timed in Python (wall clock per call, waiting for
JAX's asynchronous work to end: ``compute_grad`` returns nothing, so an
accumulator is read back), then traced with JAX's profiler
(``jax.profiler``, a Perfetto trace), which gives, per call:

* ``executable``: the wall time XLA's executable ran (the main thread's
  ``ThunkExecutor::Execute (wait for completion)``), and ``outside``: the
  rest of the call (PyTensor's and our wrappers, JAX's dispatch, copying
  outputs to NumPy);
* CPU time by XLA operation (every thread; operations nested in another on
  the same thread, such as a loop's body, count in the outer one), grouped
  by the operation's name without its number: ``while`` (the scans: the
  LSTM's forward and backward loops), ``ynn_fusion`` (XNNPACK kernels:
  the matrix products outside the loops, the 10k-way output layer and its
  gradients), ``not_and_fusion`` (the finiteness checks of
  :func:`lasagne_lstm.training.core.guard_updates`),
  ``broadcast_select_fusion`` (its ``switch(finite, new, old)``),
  ``multiply_add_fusion`` (update rules, accumulator adds), and so on.

Threads: the process uses the machine's CPUs (XLA sizes its pool from the
CPUs it may use); ``--threads 1`` pins it to one CPU and turns XLA's
multi-threaded Eigen off, as ``lstm_throughput.py --threads 1`` does.

Example::

    python benchmarks/profile_steps.py                 # ~3 min on 2 CPUs
    python benchmarks/profile_steps.py --threads 1 --json out.json
    python benchmarks/profile_steps.py --kinds masked,mb8 --instances --top 12
"""
import argparse
import collections
import glob
import gzip
import json
import os
import pathlib
import re
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import lstm_throughput as lt  # noqa: E402  (workload, batches, environment)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", type=int, default=12, help="batches (default 12)")
    lt.add_threads_argument(p)
    p.add_argument("--kinds", default="masked,mb1,mb8",
                   help="comma-separated subset of masked, mb1, mb8")
    p.add_argument("--instances", action="store_true",
                   help="one line per XLA operation instance (ynn_fusion.57, ...), "
                        "not per operation name")
    p.add_argument("--top", type=int, default=8,
                   help="operations listed per call (default 8)")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def category(name, instances=False):
    """An XLA operation's event name without its instance number (with it,
    when ``instances``)."""
    return name if instances else re.sub(r"\.\d+$", "", name)


#: Events of the runtime, not XLA operations.
RUNTIME = ("PjitFunction", "CommonPjRt", "Slinky", "AllocateOutput", "Handle ",
           "ParseArguments", "PythonRefManager", "$", "end: ", "ThunkExecutor",
           "TfrtCpu", "PjRt", "Execute", "Await", "ExecutionStream",
           # compiling (JAX compiles small helpers on first use, even in a
           # traced pass), not running
           "backend_compile", "lower_sharding", "CpuCompiler", "TaskDispatcher",
           "FusionCompiler", "shard_args", "jit_", "Compile", "Codegen", "ThunkEmitter")


def is_operation(name):
    """Whether a trace event is an XLA operation running (not the runtime,
    and not one of the compiler's passes)."""
    return not name.startswith(RUNTIME) and "Pass" not in name


def breakdown(trace_file, calls, instances=False):
    """Per-call seconds of the executable's run (main-thread wait) and CPU
    seconds of its top-level operations by :func:`category`."""
    with gzip.open(trace_file) as f:
        data = json.load(f)
    events = data["traceEvents"] if isinstance(data, dict) else data
    spans = [e for e in events if e.get("ph") == "X" and "dur" in e]
    executable = sum(e["dur"] for e in spans
                     if e["name"] == "ThunkExecutor::Execute (wait for completion)")
    ops = collections.defaultdict(list)
    for e in spans:
        if is_operation(e["name"]):
            ops[(e.get("pid"), e.get("tid"))].append(e)
    totals = collections.Counter()
    for thread_events in ops.values():
        thread_events.sort(key=lambda e: (e["ts"], -e["dur"]))
        end = -1.0
        for e in thread_events:
            if e["ts"] >= end:  # not nested in the previous top-level op
                totals[category(e["name"], instances)] += e["dur"]
                end = e["ts"] + e["dur"]
    per_call = {k: v * 1e-6 / calls for k, v in totals.items()}
    return executable * 1e-6 / calls, per_call


def run_kind(kind, steps, batches, trace_dir, instances=False):
    """Wall seconds per call and the profile of one kind of call."""
    import jax
    import numpy as np
    accumulator = steps.accumulators[0] if kind != "masked" else None

    def synced(call):
        """The call, waiting for JAX's work to end (compute_grad returns nothing)."""
        def run():
            result = call()
            if accumulator is not None:
                jax.block_until_ready(accumulator.get_value(borrow=True))
            return result
        return run

    calls = []  # (function, args) of every call the kind makes, in order
    for b in batches:
        if kind == "masked":
            calls.append(("train", lambda b=b: steps.train(b.X, b.mask, b.y)))
        else:
            size = 1 if kind == "mb1" else 8
            total = float(b.n_tokens)
            for mb in b.micro_batches(size):
                scale = np.zeros(len(mb.X), dtype="float32")
                scale[:len(mb)] = 1.0 / total
                calls.append(("compute_grad", synced(
                    lambda mb=mb, scale=scale: steps.compute_grad(mb.X, mb.mask, mb.y,
                                                                  scale))))
            calls.append(("apply_mean_grad", synced(steps.apply_mean_grad)))
    for _, call in calls:  # compiles every shape
        call()
    if kind != "masked":  # the factored gradients' products too
        ahead = steps.compile_ahead(batches[:1], 1 if kind == "mb1" else 8)
        if ahead is not None:
            ahead.join()
    wall = collections.defaultdict(list)
    for _ in range(2):
        for name, call in calls:
            t0 = time.perf_counter()
            call()
            wall[name].append(time.perf_counter() - t0)
    result = {}
    tokens = sum(b.n_tokens for b in batches)
    for name in wall:
        # each name profiled alone, so its events are its own
        subset = [call for n, call in calls if n == name]
        folder = tempfile.mkdtemp(prefix="%s-%s-" % (kind, name), dir=trace_dir)
        jax.profiler.start_trace(folder, create_perfetto_trace=True)
        for call in subset:
            call()
        jax.profiler.stop_trace()
        trace = glob.glob(os.path.join(folder, "**", "perfetto_trace.json.gz"),
                          recursive=True)[0]
        executable, ops = breakdown(trace, len(subset), instances)
        per_call = sum(wall[name]) / len(wall[name])
        result[name] = dict(calls_per_pass=len(subset), wall_s_per_call=per_call,
                            wall_s_per_pass=sum(wall[name]) / 2,
                            executable_s_per_call=executable,
                            outside_s_per_call=max(per_call - executable, 0.0),
                            cpu_s_by_op_per_call=ops)
    pass_s = sum(r["wall_s_per_pass"] for r in result.values())
    return dict(tokens_per_pass=tokens, tokens_per_s=tokens / pass_s, calls=result)


def worker(args):
    import pytensor
    pytensor.config.floatX = "float32"
    from lasagne_lstm.training import StepFunctions
    from lasagne_lstm.training.models import build_model
    spec = lt.base_spec(lt.parse_args([]))
    spec["batches"] = args.batches
    vocab, batches = lt.load_batches(spec, "pool", "jax")
    config = lt.lm_config(spec, len(vocab))
    out = dict(threads=args.threads, batches=len(batches), kinds={})
    with tempfile.TemporaryDirectory(prefix="lasagne-lstm-profile-") as trace_dir:
        for kind in [k.strip() for k in args.kinds.split(",") if k.strip()]:
            mode = "masked" if kind == "masked" else "accumulate"
            steps = StepFunctions(build_model(config), mode=mode, optimizer="adam",
                                  backend="jax")
            print("profiling %s" % kind, file=sys.stderr, flush=True)
            out["kinds"][kind] = run_kind(kind, steps, batches, trace_dir,
                                          args.instances)
    print("@@PROFILE " + json.dumps(out), flush=True)


def report(out, top=8):
    print("threads=%d, %d batches of the lstm_throughput.py workload, JAX"
          % (out["threads"], out["batches"]))
    print("| kind | call | calls/update | wall ms/call | executable ms | outside ms "
          "| ms per update | tokens/s (kind) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for kind, k in out["kinds"].items():
        for name, c in k["calls"].items():
            per_update = c["calls_per_pass"] / out["batches"]
            print("| %s | %s | %.1f | %.2f | %.2f | %.2f | %.1f | %.0f |" % (
                kind, name, per_update, 1e3 * c["wall_s_per_call"],
                1e3 * c["executable_s_per_call"], 1e3 * c["outside_s_per_call"],
                1e3 * c["wall_s_per_call"] * per_update, k["tokens_per_s"]))
    print()
    print("CPU ms per call by XLA operation (all threads), the %d largest:" % top)
    for kind, k in out["kinds"].items():
        for name, c in k["calls"].items():
            ops = sorted(c["cpu_s_by_op_per_call"].items(), key=lambda kv: -kv[1])
            total = sum(v for _, v in ops)
            print("- %s %s (%.2f ms in all): %s" % (
                kind, name, 1e3 * total, ", ".join(
                    "%s %.2f" % (op, 1e3 * v) for op, v in ops[:top])))


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    import subprocess
    env = lt.worker_env(args.threads)
    command = [sys.executable, __file__, "--worker", "--batches", str(args.batches),
               "--threads", str(args.threads), "--kinds", args.kinds]
    if args.instances:
        command.append("--instances")
    if args.threads < (os.cpu_count() or 1):
        cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0))[:args.threads])
        command = ["taskset", "-c", cpus] + command
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("@@PROFILE ")]
    if proc.returncode != 0 or not lines:
        sys.exit("the profile failed:\n" + proc.stderr[-3000:])
    out = json.loads(lines[-1][len("@@PROFILE "):])
    report(out, args.top)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
