"""How training time per real token grows with sequence length, hidden size,
batch size and vocabulary: lasagne-lstm (masked mode, JAX backend) against
PyTorch's CPU ``nn.LSTM``.

The model is the word-level language model of ``lstm_throughput.py``
(embedding -> one LSTM layer -> softmax over the vocabulary at every step,
Adam lr 1e-3, float32; lasagne-lstm clips the gate pre-activation gradients
at every step, ``grad_clipping=5``; PyTorch clips the global gradient norm
at 5 instead, as in ``lstm_throughput.py``). The batches are SYNTHETIC:
random token ids, every row of a batch the same length T, mask all ones, so
each factor is controlled exactly and there is no padding.

Base point: T=32, hidden 256, batch 32, vocabulary 10000, embedding 128.
One factor varies at a time:

    T       8, 16, 32, 64
    hidden  64, 128, 256, 512
    batch   8, 16, 32, 64
    vocab   1000, 5000, 10000, 30000

Each point runs in its own subprocess per framework (thread variables set
and the process pinned to ``--threads`` CPUs with the helpers of
``lstm_throughput.py``). lasagne-lstm: ``StepFunctions(mode="masked",
backend="jax")``, one static shape per point, compiled on the first call;
then ``--warmup`` untimed calls and ``--calls`` timed ones (``train`` returns
Python floats, so JAX has finished each update). PyTorch: ``nn.Embedding``
-> ``nn.LSTM`` (batch_first, all rows the same length so no packing) ->
``nn.Linear`` -> cross-entropy, ``torch.set_num_threads(--threads)``.

Reported per point: microseconds of wall-clock time per real token (B*T
tokens per update) for both, the ratio ours/torch (below 1: we are faster),
and each process's CPU time / wall time while timed (below 1 means the CPU
was shared with other work).

Outputs (``--out DIR``, default benchmarks/results/scaling): ``scaling.csv``,
``scaling.md`` (Markdown table) and ``scaling.png`` (four log-log panels,
time per token against each factor, ours vs torch).

``scaling.json`` keeps everything; ``--render`` redraws the table and plot
from it without running anything.

Examples::

    python benchmarks/scaling.py --quick              # a few points, < 3 min
    python benchmarks/scaling.py                      # all 13 points
    python benchmarks/scaling.py --threads 2 --out /tmp/scaling
"""
import argparse
import csv
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import lstm_throughput as lt  # noqa: E402  (worker_env, pin_cpus, ...)

BASE = dict(T=32, hidden=256, batch=32, vocab=10000)
SWEEP = dict(T=(8, 16, 32, 64), hidden=(64, 128, 256, 512),
             batch=(8, 16, 32, 64), vocab=(1000, 5000, 10000, 30000))
QUICK_SWEEP = dict(T=(8, 32), hidden=(64, 256), batch=(8, 32),
                   vocab=(1000, 10000))
FACTORS = ("T", "hidden", "batch", "vocab")
LABELS = dict(T="sequence length T", hidden="hidden units",
              batch="batch size", vocab="vocabulary size")


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="two values per factor (5 points), --warmup 1 "
                        "--calls 3: under 3 minutes")
    p.add_argument("--out", default=str(HERE / "results" / "scaling"),
                   help="folder for scaling.csv, scaling.md and scaling.png "
                        "(default benchmarks/results/scaling)")
    p.add_argument("--threads", type=int, default=1,
                   help="threads for both frameworks; each process is pinned "
                        "to that many CPUs (default 1)")
    p.add_argument("--no-pin", action="store_true",
                   help="do not pin the worker processes to --threads CPUs")
    p.add_argument("--calls", type=int, default=None,
                   help="timed training calls per point (default 10; quick 3)")
    p.add_argument("--warmup", type=int, default=None,
                   help="untimed calls after the first (compiling) call "
                        "(default 2; quick 1)")
    p.add_argument("--embedding", type=int, default=128, help="(default 128)")
    p.add_argument("--grad-clipping", type=float, default=5.0,
                   help="lasagne-lstm per-step clipping; PyTorch clips the "
                        "global gradient norm at the same value (default 5)")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="kill a worker after this many seconds (default 600)")
    p.add_argument("--seed", type=int, default=0, help="(default 0)")
    p.add_argument("--render", action="store_true",
                   help="run nothing: rewrite scaling.md and scaling.png in "
                        "--out from the scaling.json saved there")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.calls is None:
        args.calls = 3 if args.quick else 10
    if args.warmup is None:
        args.warmup = 1 if args.quick else 2
    if args.threads < 1:
        p.error("--threads must be at least 1")
    return args


def points(quick):
    """(factor varied, point dict) for every point; the base point once,
    under the factor "base"."""
    sweep = QUICK_SWEEP if quick else SWEEP
    out = [("base", dict(BASE))]
    for factor in FACTORS:
        for value in sweep[factor]:
            if value != BASE[factor]:
                out.append((factor, dict(BASE, **{factor: value})))
    return out


# -- workers -----------------------------------------------------------------
def synthetic(spec, n=3):
    """``n`` synthetic batches (X, mask, y) of shape (batch, T)."""
    import numpy as np
    rng = np.random.RandomState(spec["seed"])
    B, T, V = spec["batch"], spec["T"], spec["vocab"]
    out = []
    for _ in range(n):
        X = rng.randint(0, V, size=(B, T)).astype("int32")
        y = rng.randint(0, V, size=(B, T)).astype("int32")
        out.append((X, np.ones((B, T), dtype="float32"), y))
    return out


def time_calls(step, batches, spec):
    t0 = time.perf_counter()
    step(*batches[0])  # compiles (JAX) / first call
    first_s = time.perf_counter() - t0
    for i in range(spec["warmup"]):
        step(*batches[i % len(batches)])
    c0, t0 = time.process_time(), time.perf_counter()
    for i in range(spec["calls"]):
        step(*batches[i % len(batches)])
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    tokens = spec["calls"] * spec["batch"] * spec["T"]
    return dict(us_per_token=1e6 * wall / tokens, cpu_per_wall=cpu / wall,
                first_call_s=first_s, timed_s=wall, peak_rss_mb=lt._maxrss_mb())


def worker_ours(spec):
    import numpy as np
    import pytensor
    from lasagne_lstm.training.models import build_model
    from lasagne_lstm.random import set_rng
    from lasagne_lstm.training import StepFunctions
    pytensor.config.floatX = "float32"
    set_rng(np.random.RandomState(spec["seed"]))
    steps = StepFunctions(build_model(lt.lm_config(spec, spec["vocab"])), mode="masked",
                          optimizer="adam", backend="jax", weighting="tokens")
    return time_calls(steps.train, synthetic(spec), spec)


def worker_torch(spec):
    import torch.nn as nn
    import torch.nn.functional as F
    torch = lt.torch_setup(spec)
    V, E, H = spec["vocab"], spec["embedding"], spec["hidden"]
    emb, lstm, lin = nn.Embedding(V, E), nn.LSTM(E, H, batch_first=True), nn.Linear(H, V)
    params = list(emb.parameters()) + list(lstm.parameters()) + list(lin.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    clip = spec["grad_clipping"]
    batches = [(torch.from_numpy(X).long(), torch.from_numpy(y).long())
               for X, _, y in synthetic(spec)]

    def step(X, mask, y):
        opt.zero_grad(set_to_none=True)
        out, _ = lstm(emb(X))
        loss = F.cross_entropy(lin(out).reshape(-1, V), y.reshape(-1))
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        return float(loss)

    return time_calls(step, [(X, None, y) for X, y in batches], spec)


def run_worker(spec_json):
    spec = json.loads(spec_json)
    cpus = lt.pin_cpus(spec["threads"]) if spec["pin"] else None
    out = (worker_ours if spec["framework"] == "ours" else worker_torch)(spec)
    out["cpus"] = cpus
    sys.stdout.write(lt.RESULT_TAG + json.dumps(out) + "\n")
    sys.stdout.flush()


def launch(spec, args):
    cmd = [sys.executable, str(pathlib.Path(__file__).resolve()),
           "--worker", json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, env=lt.worker_env(args.threads),
                              capture_output=True, text=True,
                              timeout=args.timeout, cwd=str(lt.ROOT))
    except subprocess.TimeoutExpired:
        return dict(error="timed out")
    lines = [l for l in proc.stdout.splitlines() if l.startswith(lt.RESULT_TAG)]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return dict(error="exit %d: %s" % (proc.returncode, " | ".join(tail)))
    return json.loads(lines[-1][len(lt.RESULT_TAG):])


# -- outputs -----------------------------------------------------------------
COLUMNS = ("factor", "T", "hidden", "batch", "vocab", "ours_us_per_token",
           "torch_us_per_token", "ratio_ours_over_torch", "ours_cpu_per_wall",
           "torch_cpu_per_wall", "ours_first_call_s", "torch_first_call_s")


def _f(v, pattern):
    return "-" if v is None else pattern % v


def write_outputs(rows, meta, out_dir):
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "scaling.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    md = markdown(rows, meta)
    (out_dir / "scaling.md").write_text(md)
    with open(out_dir / "scaling.json", "w") as f:
        json.dump(dict(meta=meta, rows=rows), f, indent=1)
    plot(rows, meta, out_dir / "scaling.png")
    return md


def markdown(rows, meta):
    lines = [
        "%s; %d CPUs; threads=%d%s; %s; git %s; load average %.2f at the start, "
        "%.2f at the end. %d timed calls per point after %d warm-up calls; "
        "synthetic batches (all rows length T, no padding); embedding %d." % (
            meta["cpu"], meta["cpu_count"], meta["threads"],
            " (each worker pinned)" if meta["pinned"] else "", meta["date"],
            meta["git"], meta["loadavg_start"], meta["loadavg_end"],
            meta["calls"], meta["warmup"], meta["embedding"]),
        "",
        "The machine's CPUs may be shared with other jobs (load average above): "
        "a cpu/wall below 1 means a worker did not have its CPU the whole time. "
        "µs/token = wall-clock seconds of the timed calls / (calls x batch x T); "
        "ours/torch below 1: lasagne-lstm is faster.",
        "",
        "`%s`" % meta["command"],
        "",
        "| varied | T | hidden | batch | vocab | ours µs/token | torch µs/token "
        "| ours/torch | cpu/wall ours, torch |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append("| %s | %d | %d | %d | %d | %s | %s | %s | %s, %s |" % (
            r["factor"], r["T"], r["hidden"], r["batch"], r["vocab"],
            _f(r["ours_us_per_token"], "%.1f"), _f(r["torch_us_per_token"], "%.1f"),
            _f(r["ratio_ours_over_torch"], "%.2f"),
            _f(r["ours_cpu_per_wall"], "%.2f"), _f(r["torch_cpu_per_wall"], "%.2f")))
    if meta.get("errors"):
        lines += ["", "Failures: " + "; ".join(meta["errors"])]
    return "\n".join(lines) + "\n"


def series(rows, factor, key):
    """(values, µs/token) of ``factor``'s sweep, the base point included."""
    pts = sorted((r[factor], r[key]) for r in rows
                 if r["factor"] in (factor, "base") and r[key] is not None)
    return [p[0] for p in pts], [p[1] for p in pts]


def plot(rows, meta, path):
    try:
        import matplotlib
        import matplotlib.ticker
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot", file=sys.stderr)
        return
    fig, axes = plt.subplots(2, 2, figsize=(10, 8))
    for ax, factor in zip(axes.flat, FACTORS):
        for key, label, style in (("ours_us_per_token", "lasagne-lstm (jax)", "o-"),
                                  ("torch_us_per_token", "PyTorch nn.LSTM", "s--")):
            x, y = series(rows, factor, key)
            if x:
                ax.plot(x, y, style, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        x, _ = series(rows, factor, "ours_us_per_token")
        if x:
            ax.set_xticks(x)
            ax.set_xticklabels([str(v) for v in x])
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1, 2, 5)))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel(LABELS[factor])
        ax.set_ylabel("µs per real token (training)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Training time per token; base T=32, hidden 256, batch 32, "
                 "vocab 10000; threads=%d, %s" % (meta["threads"], meta["date"][:10]),
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(str(path), dpi=110)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    if args.worker is not None:
        return run_worker(args.worker)
    if args.render:
        with open(pathlib.Path(args.out) / "scaling.json") as f:
            saved = json.load(f)
        print(write_outputs(saved["rows"], saved["meta"], args.out))
        return saved["rows"]
    import importlib.util
    has_torch = not args.no_torch and importlib.util.find_spec("torch") is not None
    started = time.time()
    load_start = os.getloadavg()[0]
    rows, errors = [], []
    pts = points(args.quick)
    for i, (factor, pt) in enumerate(pts):
        row = dict(factor=factor, **pt)
        for fw in ("ours", "torch"):
            row.update({"%s_us_per_token" % fw: None, "%s_cpu_per_wall" % fw: None,
                        "%s_first_call_s" % fw: None})
            if fw == "torch" and not has_torch:
                continue
            spec = dict(pt, framework=fw, threads=args.threads, pin=not args.no_pin,
                        embedding=args.embedding, grad_clipping=args.grad_clipping,
                        calls=args.calls, warmup=args.warmup, seed=args.seed)
            res = launch(spec, args)
            if "error" in res:
                errors.append("%s %s: %s" % (fw, pt, res["error"][:200]))
                print("  %s %s FAILED: %s" % (fw, pt, res["error"]), file=sys.stderr)
                continue
            row["%s_us_per_token" % fw] = res["us_per_token"]
            row["%s_cpu_per_wall" % fw] = res["cpu_per_wall"]
            row["%s_first_call_s" % fw] = res["first_call_s"]
        o, t = row["ours_us_per_token"], row["torch_us_per_token"]
        row["ratio_ours_over_torch"] = o / t if o and t else None
        rows.append(row)
        print("[%2d/%d] %-6s T=%-3d H=%-4d B=%-3d V=%-6d ours %s µs/tok, torch %s "
              "µs/tok, ratio %s  (%.0f s)" % (
                  i + 1, len(pts), factor, pt["T"], pt["hidden"], pt["batch"],
                  pt["vocab"], _f(o, "%.1f"), _f(t, "%.1f"),
                  _f(row["ratio_ours_over_torch"], "%.2f"), time.time() - started),
              file=sys.stderr, flush=True)
    git = lt.git_state()
    meta = dict(date=time.strftime("%Y-%m-%d %H:%M:%S %Z"), cpu=lt.cpu_model(),
                cpu_count=os.cpu_count(), platform=platform.platform(),
                threads=args.threads, pinned=not args.no_pin,
                calls=args.calls, warmup=args.warmup, embedding=args.embedding,
                grad_clipping=args.grad_clipping, quick=args.quick,
                git=(git["commit"] or "?") + (" (library modified)"
                                              if git["library_changes"] else ""),
                loadavg_start=load_start, loadavg_end=os.getloadavg()[0],
                command="python benchmarks/scaling.py " + " ".join(
                    sys.argv[1:] if argv is None else argv),
                total_s=time.time() - started, errors=errors)
    md = write_outputs(rows, meta, args.out)
    print(md)
    print("wrote %s/scaling.{csv,md,json,png} in %.0f s" % (args.out, meta["total_s"]))
    return rows


if __name__ == "__main__":
    main()
