"""Data-parallel training on one machine: 1 process using every thread
against K MPI ranks with fewer threads each, through the command line users
run (``lasagne-lstm train ... --distributed mpi``).

Configurations (each its own job, one after the other):

``single``
    one plain process (no MPI), ``--threads`` threads: the baseline;
``mpi1``
    ``mpiexec -n 1 ... --distributed mpi`` with ``--threads`` threads: the
    cost of the distributed path itself (share, host copy, all-reduce of 1);
``mpiK``
    ``mpiexec -n K`` (``--ranks``, default 2) with ``--threads / K`` threads
    per rank, each rank bound to its own cores (``-bind-to core``).

Workload: the benchmark model of ``lstm_throughput.py`` (vocabulary 10k,
embedding 128, one LSTM of 256 with ``grad_clipping=5``, softmax over the
vocabulary, Adam, float32, batch 32) on Shakespeare, masked mode, JAX.
Lengths are padded to multiples of ``--pad-multiple`` (default 32) so that
few shapes are compiled.

Measured from rank 0's JSON-lines log: real tokens per second over the
updates after ``--warmup``, leaving out any update that compiled and any
whose all-reduce waited more than ``--stall`` seconds (another rank was
compiling); and, per update (medians), the all-reduce's seconds, the
seconds spent staging its buffer (copying the accumulators out of the
device arrays and the sums back: the cost a GPU adds, over PCIe), and the
bytes each rank sends and receives.

Examples::

    python benchmarks/distributed.py                  # single, mpi1, mpi2
    python benchmarks/distributed.py --steps 80 --ranks 2 --threads 2
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import lstm_throughput as lt  # noqa: E402  (worker_env)

BIN = pathlib.Path(sys.executable).parent
WORKLOAD = ("shakespeare --vocab-size 10000 --embedding 128 --hidden 256 "
            "--grad-clipping 5 --optimizer adam --batch-size 32 --backend jax "
            "--quiet").split()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", type=int, default=2, help="K of mpiK (default 2)")
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="threads of the single process; each of K ranks gets "
                        "threads/K (default: the machine's %(default)s)")
    p.add_argument("--steps", type=int, default=60, help="updates per job (default 60)")
    p.add_argument("--warmup", type=int, default=15,
                   help="first updates left out of the rate (default 15)")
    p.add_argument("--stall", type=float, default=0.5,
                   help="leave out updates whose all-reduce waited longer (s)")
    p.add_argument("--pad-multiple", type=int, default=32)
    p.add_argument("--max-sequences", type=int, default=20000)
    p.add_argument("--configs", default="single,mpi1,mpiK",
                   help="comma-separated subset of single, mpi1, mpiK")
    p.add_argument("--out", default=None, help="also write the results here (JSON)")
    args = p.parse_args(argv)
    if args.ranks < 1 or args.threads < args.ranks:
        p.error("--threads must be at least --ranks")
    return args


def job(name, args, workdir):
    """The command, environment and rank count of one configuration."""
    ranks = {"single": None, "mpi1": 1, "mpiK": args.ranks}[name]
    threads = args.threads if ranks is None else max(1, args.threads // ranks)
    log = workdir / ("%s.log" % name)
    train = [str(BIN / "lasagne-lstm"), "train"] + WORKLOAD + [
        "--max-steps", str(args.steps), "--pad-multiple", str(args.pad_multiple),
        "--max-sequences", str(args.max_sequences), "--log", str(log)]
    env = lt.worker_env(threads)
    if ranks is None:
        command = train
    else:
        command = [str(BIN / "mpiexec"), "-n", str(ranks)]
        if ranks > 1:
            command += ["-bind-to", "core"]
        command += train + ["--distributed", "mpi"]
    return command, env, log, ranks, threads


def summarise(log, args):
    records = [json.loads(line) for line in log.read_text().splitlines()]
    updates = [r for r in records if r.get("event") == "update"]
    timed = [r for r in updates[args.warmup:]
             if not r["compile_seconds"] and r.get("allreduce_seconds", 0) <= args.stall]
    tokens = sum(r["tokens"] for r in timed)
    seconds = sum(r["seconds"] for r in timed)
    reduce_s = [r["allreduce_seconds"] for r in timed if "allreduce_seconds" in r]
    staging_s = [r["staging_seconds"] for r in timed if "staging_seconds" in r]
    return dict(updates=len(updates), timed_updates=len(timed),
                tokens_per_s=tokens / seconds if seconds else None,
                seconds_per_update=seconds / len(timed) if timed else None,
                allreduce_ms=1e3 * statistics.median(reduce_s) if reduce_s else None,
                staging_ms=1e3 * statistics.median(staging_s) if staging_s else None,
                allreduce_bytes=updates[-1].get("allreduce_bytes") if updates else None)


def main(argv=None):
    args = parse_args(argv)
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    results = []
    with tempfile.TemporaryDirectory(prefix="lasagne-lstm-distributed-") as tmp:
        workdir = pathlib.Path(tmp)
        for name in names:
            command, env, log, ranks, threads = job(name, args, workdir)
            print("running %s: %s" % (name, " ".join(command)), file=sys.stderr, flush=True)
            start = time.perf_counter()
            proc = subprocess.run(command, env=env, cwd=workdir, capture_output=True,
                                  text=True)
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                sys.exit("%s failed (exit %d):\n%s" % (name, proc.returncode,
                                                       proc.stderr[-3000:]))
            row = dict(config=name, ranks=ranks or 1, threads_per_rank=threads,
                       wall_s=wall, **summarise(log, args))
            results.append(row)
    base = results[0]["tokens_per_s"] if results else None
    print("| config | ranks × threads | tokens/s | × %s | s/update | all-reduce ms/update "
          "| staging ms/update | all-reduce MB/update |" % names[0])
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        ratio = r["tokens_per_s"] / base if base and r["tokens_per_s"] else None
        print("| %s | %d × %d | %s | %s | %s | %s | %s | %s |" % (
            r["config"], r["ranks"], r["threads_per_rank"], _f(r["tokens_per_s"], "%.0f"),
            _f(ratio, "%.2f"), _f(r["seconds_per_update"], "%.3f"),
            _f(r["allreduce_ms"], "%.1f"), _f(r["staging_ms"], "%.1f"),
            _f(r["allreduce_bytes"] and r["allreduce_bytes"] / 1e6, "%.1f")))
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(dict(args=vars(args), results=results),
                                                     indent=1))


def _f(value, fmt):
    return "n/a" if value is None else fmt % value


if __name__ == "__main__":
    main()
