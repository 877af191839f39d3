"""The main job from a cold start, in parts: ``lasagne-lstm train
shakespeare`` with empty data and compile caches, timed from the process's
start to its exit.

Every cache the job uses lives in a fresh temporary folder: the corpus
(``LASAGNE_LSTM_DATA``), JAX's persistent compilation cache
(``LASAGNE_LSTM_CACHE``) and PyTensor's ``compiledir``. The parts come from
the moments the job's own lines appear on stderr and from its log:

* ``start``: interpreter and imports, up to the fetch message;
* ``fetch``: downloading the corpus;
* ``tokenize``: Punkt training, sentences and word tokens (then the
  vocabulary and the model, up to the line naming the corpus);
* ``epoch``: the first epoch's updates, of which ``waited for compiling`` is
  the updates' time spent compiling or waiting for a compilation;
* ``end``: evaluation (reported on its own), checkpoint and exit.

``--keep-data DIR`` fetches and tokenizes into DIR once and then reuses it
(only the compile caches start empty), and ``--without-compile-ahead`` runs
the job with :meth:`BatchFeed.compile_ahead` switched off, so that
``--runs 2 --alternate`` compares the two in one session.

``--parts`` times the pieces one by one instead, in one fresh process: Punkt's
training, the sentences and word tokens (in workers, and serially: Punkt's
serially first), and each
signature's PyTensor specialisation and XLA compilation while compiling ahead
of use, then one more alone.

    python benchmarks/cold_start.py                       # about 90 s on 2 CPUs
    python benchmarks/cold_start.py --keep-data /tmp/data --runs 2 --alternate
    python benchmarks/cold_start.py --parts --keep-data /tmp/data
"""
import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent

#: The job, run through this interpreter; compile-ahead off on request.
JOB = """
import sys
if sys.argv[1] == "off":
    from lasagne_lstm.training import feeds
    feeds.BatchFeed.compile_ahead = lambda self, batches: None
from lasagne_lstm.training.cli import main
sys.exit(main(sys.argv[2:]))
"""


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keep-data", metavar="DIR", default=None,
                   help="corpus cache to fill once and reuse (default: a fresh one "
                        "per run, so every run fetches and tokenizes)")
    p.add_argument("--without-compile-ahead", action="store_true",
                   help="switch compiling ahead of use off")
    p.add_argument("--alternate", action="store_true",
                   help="alternate runs with and without compiling ahead of use")
    p.add_argument("--runs", type=int, default=1, help="runs (default 1)")
    p.add_argument("--parts", action="store_true",
                   help="instead of the job, time its pieces in one process: Punkt's "
                        "training, sentences and word tokens (serial and in workers), "
                        "then each shape's PyTensor specialisation and XLA compilation, "
                        "beside the other compiling thread and alone")
    p.add_argument("--json", default=None, help="write the runs' parts here")
    return p.parse_args(argv)


def fresh_env(tmp, data_dir=None):
    """The environment of a process whose caches are empty folders under
    ``tmp`` (the corpus's in ``data_dir`` when given), running this checkout."""
    env = dict(os.environ, LASAGNE_LSTM_DATA=str(data_dir or tmp / "data"),
               LASAGNE_LSTM_CACHE=str(tmp / "compiled"),
               PYTENSOR_FLAGS="compiledir=%s" % (tmp / "pytensor"))
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"]
                                     if env.get("PYTHONPATH") else "")
    return env


def timed_job(data_dir, ahead):
    """Run the job once; returns its parts in seconds."""
    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
        tmp = pathlib.Path(tmp)
        env = fresh_env(tmp, data_dir)
        log = tmp / "log.jsonl"
        cmd = [sys.executable, "-c", JOB, "on" if ahead else "off", "train",
               "shakespeare", "--checkpoint", str(tmp / "job.npz"), "--log", str(log),
               "--quiet"]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, cwd=tmp)
        seen, lines = {}, []
        for line in proc.stderr:
            now = time.perf_counter() - start
            lines = (lines + [line])[-30:]
            for part, pattern in (("fetching", r"fetching corpus"),
                                  ("fetched", r"fetched \S+ in"),
                                  ("corpus", r"^corpus \S+: ")):
                if re.search(pattern, line) and part not in seen:
                    seen[part] = now
        proc.stdout.read()
        proc.wait()
        total = time.perf_counter() - start
        if proc.returncode != 0 or "corpus" not in seen:
            raise SystemExit("cold_start: the job failed (exit %d):\n%s"
                             % (proc.returncode, "".join(lines)))
        records = [json.loads(r) for r in open(log)]
    updates = [r for r in records if r["event"] == "update"]
    epoch = next(r for r in records if r["event"] == "epoch")
    data_start = seen.get("fetching", seen["corpus"])
    tokenize_from = seen.get("fetched", data_start)
    # the log's clock starts when training does, just after the corpus line
    epoch_seconds = updates[-1]["wall_time"]
    evaluate = epoch["wall_time"] - epoch_seconds
    return dict(
        compile_ahead=ahead, start=data_start, fetch=tokenize_from - data_start,
        tokenize=seen["corpus"] - tokenize_from, epoch=epoch_seconds,
        waited_for_compiling=sum(r["compile_seconds"] for r in updates),
        compile_ahead_seconds=epoch.get("compile_ahead_seconds", 0.0),
        evaluate=evaluate, end=total - seen["corpus"] - epoch_seconds, total=total,
        updates=len(updates), valid_perplexity=epoch["valid_perplexity"])


#: The pieces, in a fresh interpreter whose caches are empty (see ``--parts``).
PARTS = """
import time
from lasagne_lstm.theano import compile as C
from lasagne_lstm.training.data import corpora
from lasagne_lstm.training.data.tokenize import parallel_map, word_tokenize
if not corpora.is_fetched("shakespeare"):
    corpora.fetch("shakespeare")
def clock(what, fn):
    t = time.perf_counter(); result = fn()
    print("%-58s %6.2f s" % (what, time.perf_counter() - t), flush=True)
    return result
# the corpus's own reader, its Punkt training and its sentence split timed apart
from lasagne_lstm.training.data.punkt import punkt_parameters
train_punkt, split_all = corpora.train_punkt, corpora.parallel_map
def timed_punkt(text):
    clock("Punkt training, serial", lambda: punkt_parameters(text, workers=1))
    return clock("Punkt training, in workers", lambda: train_punkt(text))
corpora.train_punkt = timed_punkt
corpora.parallel_map = lambda *a, **k: clock("sentences, in workers", lambda: split_all(*a, **k))
sentences, _, _ = corpora._read_shakespeare(corpora.corpus_dir("shakespeare"))
corpora.train_punkt, corpora.parallel_map = train_punkt, split_all
clock("word tokens, in workers", lambda: parallel_map(word_tokenize, sentences))
clock("word tokens, serial", lambda: [word_tokenize(x) for x in sentences])
times = {}
spec, low = C.BackendFunction._specialise, C._lowered_executable
def timed_spec(self, key):
    t = time.perf_counter(); r = spec(self, key)
    times.setdefault((self.name, key[0]), {})["specialise"] = time.perf_counter() - t
    return r
class Timed:
    def __init__(self, lowered, key): self.lowered, self.key = lowered, key
    def compile(self):
        t = time.perf_counter(); r = self.lowered.compile()
        times.setdefault(self.key, {})["xla"] = time.perf_counter() - t
        return r
C.BackendFunction._specialise = timed_spec
C._lowered_executable = lambda fn, key: Timed(low(fn, key), (fn.name, key[0]))
from lasagne_lstm.training.engine import Run
run = Run({"corpus": "shakespeare"}, progress=False)
batches = run.feed.epoch(0)
t = time.perf_counter()
run.feed.compile_ahead(batches).join()
print("compiling ahead of use: %d signatures in %.2f s" % (len(times), time.perf_counter() - t))
for (name, shape), t in times.items():
    print("  %-9s %-10s PyTensor %5.2f s, XLA %5.2f s (beside the other thread)"
          % (name, shape, t["specialise"], t["xla"]))
times.clear()
import numpy as np
wider = (32, 80)  # a width the epoch did not meet
C.compile_ahead([(run.steps._train.function, [np.zeros(wider, "int32"),
                  np.zeros(wider, "float32"), np.zeros(wider, "int32")])]).join()
for (name, shape), t in times.items():
    print("  %-9s %-10s PyTensor %5.2f s, XLA %5.2f s (alone)"
          % (name, shape, t["specialise"], t["xla"]))
"""


def parts(data_dir):
    """Time the job's pieces in a fresh process with empty compile caches."""
    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
        subprocess.run([sys.executable, "-c", PARTS],
                       env=fresh_env(pathlib.Path(tmp), data_dir), check=True)


def main(argv=None):
    args = parse_args(argv)
    if args.parts:
        parts(pathlib.Path(args.keep_data) if args.keep_data else None)
        return
    data = pathlib.Path(args.keep_data) if args.keep_data else None
    if data is not None and not (data / "shakespeare").exists():
        print("cold_start: filling %s once (fetch and tokenize; not timed)" % data,
              file=sys.stderr)
        subprocess.run([sys.executable, "-c", JOB, "on", "data", "fetch", "shakespeare"],
                       env=dict(os.environ, LASAGNE_LSTM_DATA=str(data)), check=True)
    runs = []
    for k in range(args.runs):
        ahead = not args.without_compile_ahead
        if args.alternate:
            ahead = k % 2 == 0
        runs.append(timed_job(data, ahead))
        r = runs[-1]
        print("run %d (compile ahead %s): %.1f s = start %.1f + fetch %.1f + tokenize %.1f "
              "+ epoch %.1f (waited %.1f s for compiling; %.1f s compiled in the "
              "background) + end %.1f (of it %.1f s evaluating); %d updates, valid "
              "perplexity %.2f"
              % (k + 1, "on" if r["compile_ahead"] else "off", r["total"], r["start"],
                 r["fetch"], r["tokenize"], r["epoch"], r["waited_for_compiling"],
                 r["compile_ahead_seconds"], r["end"], r["evaluate"], r["updates"],
                 r["valid_perplexity"]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)


if __name__ == "__main__":
    main()
