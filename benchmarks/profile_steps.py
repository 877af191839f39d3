"""Where a training step's time goes on JAX: the masked step, and
``compute_grad`` on single sequences (mb1) and on micro-batches of 8 (mb8),
with ``apply_mean_grad``, on the ``lstm_throughput.py`` workload (its first
``--batches`` bucketed Shakespeare batches; vocabulary 10k, embedding 128,
LSTM 256 with ``grad_clipping=5``, Adam, float32).

Each kind of call is timed in Python (wall clock per call, outputs back on
the host), then traced with JAX's profiler (``jax.profiler``, a Perfetto
trace), which gives, per call:

* ``python``: the time outside XLA's executable: PyTensor's and our
  function wrappers, argument handling, JAX's dispatch, and copying the
  outputs to NumPy;
* the executable's own time, split by its top-level XLA operations (those
  not nested in another operation on the same thread): ``while`` (the
  scans: the LSTM's forward and backward loops), ``dot`` (matrix products
  outside the loops: the 10k-way output layer and its gradients),
  ``fusion`` (element-wise work: softmax, cross-entropy, the update rule,
  the accumulator adds), ``copy``/``other``.

Threads: the process uses the machine's CPUs (XLA sizes its pool from the
CPUs it may use); ``--threads 1`` pins it to one CPU and turns XLA's
multi-threaded Eigen off, as ``lstm_throughput.py --threads 1`` does.

Example::

    python benchmarks/profile_steps.py                 # ~3 min on 2 CPUs
    python benchmarks/profile_steps.py --threads 1 --json out.json
"""
import argparse
import collections
import glob
import gzip
import json
import os
import pathlib
import statistics
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
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="CPUs to use (default: the machine's, %(default)s)")
    p.add_argument("--kinds", default="masked,mb1,mb8",
                   help="comma-separated subset of masked, mb1, mb8")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def category(name):
    """The group of an XLA operation's event name."""
    base = name.split(".")[0].split(":")[0].lower()
    if base.startswith("while"):
        return "while"
    if base.startswith(("dot", "ynn_dot", "gemm", "custom-call")):
        return "dot"
    if "fusion" in base:
        return "fusion"
    if base.startswith("copy"):
        return "copy"
    return "other"


#: Events of the runtime, not XLA operations.
RUNTIME = ("PjitFunction", "CommonPjRt", "Slinky", "AllocateOutput", "Handle ",
           "ParseArguments", "PythonRefManager", "$", "end: ", "ThunkExecutor",
           "TfrtCpu", "PjRt", "Execute", "Await", "ExecutionStream")


def breakdown(trace_file, calls):
    """Per-call seconds of the executable's top-level operations by category,
    and of the whole jitted call (``PjitFunction`` spans)."""
    with gzip.open(trace_file) as f:
        data = json.load(f)
    events = data["traceEvents"] if isinstance(data, dict) else data
    spans = [e for e in events if e.get("ph") == "X" and "dur" in e]
    pjit = sum(e["dur"] for e in spans if e["name"].startswith("PjitFunction"))
    ops = collections.defaultdict(list)
    for e in spans:
        if not e["name"].startswith(RUNTIME):
            ops[(e.get("pid"), e.get("tid"))].append(e)
    totals = collections.Counter()
    for thread_events in ops.values():
        thread_events.sort(key=lambda e: (e["ts"], -e["dur"]))
        end = -1.0
        for e in thread_events:
            if e["ts"] >= end:  # not nested in the previous top-level op
                totals[category(e["name"])] += e["dur"]
                end = e["ts"] + e["dur"]
    per_call = {k: v * 1e-6 / calls for k, v in totals.items()}
    return pjit * 1e-6 / calls, per_call


def run_kind(kind, steps, batches, trace_dir):
    """Wall seconds per call and the profile of one kind of call."""
    import jax
    import numpy as np
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
                calls.append(("compute_grad", lambda mb=mb, scale=scale: steps.compute_grad(
                    mb.X, mb.mask, mb.y, scale)))
            calls.append(("apply_mean_grad", steps.apply_mean_grad))
    for _, call in calls:  # compiles every shape
        call()
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
        pjit, ops = breakdown(trace, len(subset))
        per_call = statistics.median(wall[name])
        result[name] = dict(calls_per_pass=len(subset), wall_s_per_call=per_call,
                            wall_s_per_pass=sum(wall[name]) / 2,
                            python_s_per_call=max(per_call - pjit, 0.0),
                            jitted_s_per_call=pjit, ops_s_per_call=ops)
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
            out["kinds"][kind] = run_kind(kind, steps, batches, trace_dir)
    print("@@PROFILE " + json.dumps(out), flush=True)


def report(out):
    print("threads=%d, %d batches of the lstm_throughput.py workload, JAX"
          % (out["threads"], out["batches"]))
    print("| kind | call | calls/update | ms/call | python ms | while ms | dot ms "
          "| fusion ms | copy+other ms | tokens/s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind, k in out["kinds"].items():
        for name, c in k["calls"].items():
            ops = c["ops_s_per_call"]
            print("| %s | %s | %.1f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s |" % (
                kind, name, c["calls_per_pass"] / out["batches"],
                1e3 * c["wall_s_per_call"], 1e3 * c["python_s_per_call"],
                1e3 * ops.get("while", 0), 1e3 * ops.get("dot", 0),
                1e3 * ops.get("fusion", 0),
                1e3 * (ops.get("copy", 0) + ops.get("other", 0)),
                "%.0f" % k["tokens_per_s"] if name != "apply_mean_grad" else ""))


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    import subprocess
    env = lt.worker_env(args.threads)
    command = [sys.executable, __file__, "--worker", "--batches", str(args.batches),
               "--threads", str(args.threads), "--kinds", args.kinds]
    if args.threads < (os.cpu_count() or 1):
        cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0))[:args.threads])
        command = ["taskset", "-c", cpus] + command
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("@@PROFILE ")]
    if proc.returncode != 0 or not lines:
        sys.exit("the profile failed:\n" + proc.stderr[-3000:])
    out = json.loads(lines[-1][len("@@PROFILE "):])
    report(out)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
