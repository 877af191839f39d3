"""Zaremba et al. (2014), "small" configuration, on the Penn Treebank sample.

The setting of the paper: the corpus as one token stream (each sentence
followed by <eos>) cut into ``batch`` rows, truncated backpropagation over
windows of ``steps`` tokens, the hidden and cell states carried from one
window to the next (Lasagne's layer-valued ``hid_init``/``cell_init``), a
2-layer LSTM of 200 units without dropout, weights uniform in ±0.1, plain SGD
with learning rate 1 halved after every epoch from the 5th on, gradients
rescaled to a global norm of at most 5, 13 epochs.

Differences from the paper, stated in the summary: the paper trains on the
full PTB (929k training tokens, Mikolov's preprocessing with a 10k
vocabulary); this runs on NLTK's 10% sample of the WSJ part (about 94k
tokens; lowercased, the 10k most frequent tokens kept) and, with
``--corpus brown``, on the Brown corpus. The corpus loader shuffles
sentences before splitting, so the stream follows no document order.

Writes ``epochs.csv``, ``perplexity.png`` and ``summary.md`` into ``--out``.

Example::

    python experiments/ptb_small.py --out experiments/results/ptb_small
    python experiments/ptb_small.py --corpus brown --out experiments/results/ptb_small_brown
"""
import argparse
import csv
import json
import math
import os
import pathlib
import sys
import time

PAPER = {"valid": 120.7, "test": 114.5}  # Zaremba et al. 2014, Table 1, small


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="results folder (created)")
    p.add_argument("--corpus", default="ptb-sample",
                   help="corpus name or path (default: %(default)s)")
    p.add_argument("--max-sequences", type=int, default=0,
                   help="use at most N sentences (0: all; default: %(default)s)")
    p.add_argument("--vocab-size", type=int, default=10000,
                   help="vocabulary size, reserved tokens included (default: %(default)s)")
    p.add_argument("--layers", type=int, default=2, help="LSTM layers (default: %(default)s)")
    p.add_argument("--hidden", type=int, default=200,
                   help="units per layer and embedding size (default: %(default)s)")
    p.add_argument("--steps", type=int, default=20,
                   help="unrolled steps per window (default: %(default)s)")
    p.add_argument("--batch", type=int, default=20, help="stream rows (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=13, help="epochs (default: %(default)s)")
    p.add_argument("--learning-rate", type=float, default=1.0,
                   help="SGD learning rate (default: %(default)s)")
    p.add_argument("--decay", type=float, default=0.5,
                   help="learning-rate factor per epoch after --decay-start (default: %(default)s)")
    p.add_argument("--decay-start", type=int, default=4,
                   help="last epoch at the full learning rate (default: %(default)s)")
    p.add_argument("--max-grad-norm", type=float, default=5.0,
                   help="global gradient-norm clip (default: %(default)s)")
    p.add_argument("--init-range", type=float, default=0.1,
                   help="uniform initialisation range (default: %(default)s)")
    p.add_argument("--backend", default=None,
                   help="PyTensor backend (default: the library's default)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 2 epochs, 2000 sentences, 64 units")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.max_sequences, args.hidden = 2, 2000, 64
    return args


def run_stream(stream_fns, ids, batch, steps, train, progress=None):
    """One pass over a stream; returns (mean loss per token, tokens, seconds)."""
    from lasagne_lstm.training.data import stream_batches
    states = stream_fns.initial_states(batch)
    total = count = 0.0
    start = time.perf_counter()
    for X, y in stream_batches(ids, batch, steps):
        step = stream_fns.train if train else stream_fns.evaluate
        loss, n, states = step(X, y, states)
        if not math.isfinite(loss):
            raise SystemExit("ptb_small: the loss became %s; stopping" % loss)
        total, count = total + loss, count + n
        if progress is not None:
            progress.update(1)
            progress.set_postfix(ppl="%.1f" % math.exp(total / count))
    return total / count, int(count), time.perf_counter() - start


def main(argv=None):
    args = parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYTENSOR_FLAGS", "floatX=float32")
    import numpy as np
    import pytensor
    from tqdm import tqdm

    from lasagne_lstm import backends
    from lasagne_lstm.training.data import Vocabulary, lm_stream, load_corpus, stream_num_windows
    from lasagne_lstm.training.engine import LearningRateSchedule
    from lasagne_lstm.training.models import LanguageModel
    from lasagne_lstm.random import set_rng
    from lasagne_lstm.training import StreamStepFunctions

    pytensor.config.floatX = "float32"
    backend = args.backend or backends.DEFAULT_BACKEND
    corpus = load_corpus(args.corpus, task="lm", level="word", lowercase=True,
                         seed=args.seed, max_sequences=args.max_sequences or None)
    vocab = Vocabulary.build(corpus.train, max_size=args.vocab_size, level="word")
    streams = {split: lm_stream(vocab, getattr(corpus, split))
               for split in ("train", "valid", "test")}
    print("%s: %s tokens (train/valid/test), vocabulary %d, backend %s"
          % (corpus.name, "/".join(str(len(s)) for s in streams.values()),
             len(vocab), backend), file=sys.stderr)
    set_rng(np.random.RandomState(args.seed))
    model = LanguageModel(dict(task="lm", vocab_size=len(vocab), embedding=args.hidden,
                               hidden=args.hidden, layers=args.layers, cell="lstm",
                               grad_clipping=0, stateful=True,
                               init_range=args.init_range), masked=False)
    fns = StreamStepFunctions(model, "sgd", learning_rate=args.learning_rate,
                              max_grad_norm=args.max_grad_norm, backend=backend)
    schedule = LearningRateSchedule("decay", factor=args.decay, start=args.decay_start)
    rows = []
    n_windows = stream_num_windows(len(streams["train"]), args.batch, args.steps)
    wall = 0.0
    for epoch in range(args.epochs):
        lr = float(fns.learning_rate.get_value())
        with tqdm(total=n_windows, desc="epoch %d" % (epoch + 1), file=sys.stderr,
                  dynamic_ncols=True) as bar:
            train_loss, tokens, seconds = run_stream(fns, streams["train"], args.batch,
                                                     args.steps, True, bar)
        valid_loss, _, _ = run_stream(fns, streams["valid"], 1, args.steps, False)
        wall += seconds
        rows.append(dict(epoch=epoch + 1, learning_rate=lr,
                         train_perplexity=math.exp(train_loss),
                         valid_perplexity=math.exp(valid_loss),
                         tokens_per_s=tokens / seconds, train_seconds=seconds))
        print("epoch %d: lr %.4g, train ppl %.2f, valid ppl %.2f, %.0f tokens/s"
              % (epoch + 1, lr, rows[-1]["train_perplexity"],
                 rows[-1]["valid_perplexity"], rows[-1]["tokens_per_s"]), file=sys.stderr)
        fns.learning_rate.set_value(np.float32(schedule.end_epoch(epoch, valid_loss, lr)))
    test_loss, _, _ = run_stream(fns, streams["test"], 1, args.steps, False)
    result = dict(corpus=corpus.name, tokens={k: int(len(v)) for k, v in streams.items()},
                  vocab=len(vocab), backend=backend, epochs=rows,
                  test_perplexity=math.exp(test_loss), train_seconds=wall,
                  settings={k: v for k, v in vars(args).items() if k != "out"})
    write_results(out, result)
    print(json.dumps({"valid_perplexity": rows[-1]["valid_perplexity"],
                      "test_perplexity": result["test_perplexity"]}))
    return 0


def write_results(out, result):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = result["epochs"]
    with open(out / "epochs.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "result.json").write_text(json.dumps(result, indent=1))
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = [r["epoch"] for r in rows]
    ax.plot(epochs, [r["train_perplexity"] for r in rows], "o-", label="train")
    ax.plot(epochs, [r["valid_perplexity"] for r in rows], "s-", label="valid")
    if result["corpus"] == "ptb-sample":
        ax.axhline(PAPER["valid"], color="gray", ls="--",
                   label="paper, valid (full PTB)")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("perplexity")
    ax.set_title("Zaremba small on %s" % result["corpus"])
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "perplexity.png", dpi=110)
    s = result["settings"]
    lines = [
        "# Zaremba et al. (2014) small configuration on %s" % result["corpus"], "",
        "%d×%d LSTM, %d steps, batch %d, SGD lr %g halved after epoch %d, global "
        "norm clip %g, init ±%g, %d epochs, backend %s." % (
            s["layers"], s["hidden"], s["steps"], s["batch"], s["learning_rate"],
            s["decay_start"], s["max_grad_norm"], s["init_range"], s["epochs"],
            result["backend"]),
        "Tokens (train/valid/test): %s; vocabulary %d." % (
            "/".join(str(result["tokens"][k]) for k in ("train", "valid", "test")),
            result["vocab"]), "",
        "| epoch | lr | train ppl | valid ppl | tokens/s |", "| --- | --- | --- | --- | --- |"]
    lines += ["| %d | %.4g | %.2f | %.2f | %.0f |" % (
        r["epoch"], r["learning_rate"], r["train_perplexity"], r["valid_perplexity"],
        r["tokens_per_s"]) for r in rows]
    lines += ["", "Final: valid %.2f, test %.2f (training time %.0f s)." % (
        rows[-1]["valid_perplexity"], result["test_perplexity"], result["train_seconds"])]
    if result["corpus"] == "ptb-sample":
        lines += ["", "Paper (full PTB, 929k training tokens): valid %.1f, test %.1f. "
                  "This run uses NLTK's 10%% sample (about a tenth of the data), so "
                  "higher perplexities are expected." % (PAPER["valid"], PAPER["test"])]
    (out / "summary.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
