"""Offline tokenization: NLTK Treebank-style words, characters, and sentences.

Nothing here calls ``nltk.download``: word tokens come from NLTK's
``NLTKWordTokenizer`` (what ``word_tokenize(text, preserve_line=True)`` uses,
no data files needed) and sentences from a ``PunktSentenceTokenizer`` trained
on the text itself (an untrained Punkt splits after "Mr."). Both run NLTK's
own patterns without the timeout NLTK puts on every match (:func:`untimed`).
"""
import functools
import importlib
import multiprocessing
import os
import re
import signal
import sys
import threading

__all__ = ["LEVELS", "normalize_space", "word_tokenize", "char_tokenize",
           "tokenize", "train_punkt", "split_paragraphs", "split_sentences",
           "split_lines", "detokenize", "parallel_map"]

LEVELS = ("word", "char")

_SPACE = re.compile(r"\s+")
_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n")
_WORD_TOKENIZER = None


def normalize_space(text):
    """Collapse every run of whitespace (newlines included) to one space."""
    return _SPACE.sub(" ", text).strip()


def load_nltk():
    """Import NLTK, without the SciPy statistics its import pulls in.

    ``import nltk`` imports ``scipy.stats`` (0.9 s of its 1.3 s on a 2-core
    AMD EPYC: ``python -X importtime -c "import nltk.tokenize.punkt"``) for
    one function, ``nltk.metrics.association``'s Fisher test, which
    tokenizing never calls. When nothing has imported ``scipy.stats`` yet,
    NLTK is imported with it hidden (NLTK then defines its fallback), and
    the fallback is replaced by the real function imported on first call:
    NLTK behaves as with a plain import. (NLTK's other uses of SciPy's
    statistics fail to import with current SciPy releases and fall back
    anyway.)
    """
    if "nltk" in sys.modules or "scipy.stats" in sys.modules:
        importlib.import_module("nltk")  # imported already, or SciPy's part is paid
        return
    sys.modules["scipy.stats"] = None  # makes `from scipy.stats import x` fail
    try:
        importlib.import_module("nltk")
    finally:
        if sys.modules.get("scipy.stats", False) is None:
            del sys.modules["scipy.stats"]
    from nltk.metrics import association
    association.fisher_exact = _fisher_exact


def _fisher_exact(*args, **kwargs):
    from scipy.stats import fisher_exact
    return fisher_exact(*args, **kwargs)


def untimed(pattern):
    """The compiled pattern inside NLTK's ReDoS guard (``pattern`` itself
    when it is not guarded).

    NLTK 3.10 wraps every pattern it compiles, its own fixed ones included,
    in ``nltk.redos.TimedPattern``, which runs each match under a wall-clock
    timeout (5 s). That more than doubles tokenizing's cost: 3.6 us per
    short match against 0.3 us unguarded, over millions of matches
    (Shakespeare's Punkt training 14.7 s against 6.2 s, its word tokens
    4.1 s against 1.8 s per 30k sentences; AMD EPYC). The tokenizers here
    run NLTK's fixed patterns, whose cost is linear in the text, through
    the same compiled objects without the timeout; NLTK elsewhere in the
    process keeps its guard (but for one pattern, see
    :func:`punkt_options`).
    """
    redos = sys.modules.get("nltk.redos")
    guarded = getattr(redos, "TimedPattern", None)
    if guarded is not None and isinstance(pattern, guarded):
        return pattern._rx
    return pattern


def _untimed_tables(value):
    """``value`` with the guarded patterns in it, alone or in (nested) lists
    and tuples such as ``[(pattern, substitution), ...]``, unguarded."""
    if isinstance(value, (list, tuple)):
        return type(value)(_untimed_tables(item) for item in value)
    return untimed(value)


def _word_tokenizer():
    """NLTK's ``NLTKWordTokenizer``, its pattern tables (the upper-case
    class attributes its ``tokenize`` reads) unguarded on this instance."""
    global _WORD_TOKENIZER
    if _WORD_TOKENIZER is None:
        load_nltk()
        from nltk.tokenize import NLTKWordTokenizer
        tokenizer = NLTKWordTokenizer()
        for name in dir(NLTKWordTokenizer):
            if name.isupper():
                setattr(tokenizer, name, _untimed_tables(getattr(NLTKWordTokenizer, name)))
        _WORD_TOKENIZER = tokenizer
    return _WORD_TOKENIZER


def punkt_options():
    """``lang_vars`` and ``token_cls`` for NLTK's Punkt classes
    (``PunktTrainer(text, **punkt_options())``, ``PunktSentenceTokenizer``):
    NLTK's language variables and token with their patterns unguarded (see
    :func:`untimed`).

    Punkt's one module-level pattern, read by name from two of NLTK's
    functions, is unguarded in NLTK's module itself: it is one character
    class (``[^\\W\\d]``), which cannot backtrack.
    """
    language_vars, token = _untimed_punkt_classes()
    return {"lang_vars": language_vars(), "token_cls": token}


@functools.cache
def _untimed_punkt_classes():
    """The classes of :func:`punkt_options`, made once per process."""
    load_nltk()
    from nltk.tokenize import punkt
    punkt._re_non_punct = untimed(punkt._re_non_punct)

    class UntimedLanguageVars(punkt.PunktLanguageVars):
        __slots__ = ()
        re_boundary_realignment = untimed(punkt.PunktLanguageVars.re_boundary_realignment)

        def _word_tokenizer_re(self):
            return untimed(super()._word_tokenizer_re())

        def period_context_re(self):
            return untimed(super().period_context_re())

    token_patterns = {name: untimed(value) for name, value in vars(punkt.PunktToken).items()
                      if untimed(value) is not value}
    untimed_token = type("UntimedPunktToken", (punkt.PunktToken,),
                         dict(token_patterns, __slots__=()))
    return UntimedLanguageVars, untimed_token


def word_tokenize(text, lowercase=False, punkt=None):
    """Treebank-style word tokens of one sentence of text.

    The Treebank rules split off only a sentence-final period; for a line
    that may hold several sentences pass a trained ``punkt`` and each of its
    sentences is tokenized in turn (what ``nltk.word_tokenize`` does with
    its downloaded Punkt model).
    """
    text = normalize_space(text)
    if lowercase:
        text = text.lower()
    if not text:
        return []
    if punkt is not None:
        tokenizer = _word_tokenizer()
        return [t for sentence in punkt.tokenize(text) for t in tokenizer.tokenize(sentence)]
    return _word_tokenizer().tokenize(text)


def char_tokenize(text, lowercase=False):
    """The characters of ``text`` with whitespace runs collapsed to one space."""
    text = normalize_space(text)
    if lowercase:
        text = text.lower()
    return list(text)


def tokenize(text, level="word", lowercase=False):
    """Tokens of one sentence at ``level`` ("word" or "char")."""
    check_level(level)
    if level == "word":
        return word_tokenize(text, lowercase)
    return char_tokenize(text, lowercase)


def check_level(level):
    if level not in LEVELS:
        raise ValueError("level must be one of %s, not %r" % (", ".join(LEVELS), level))


def train_punkt(text):
    """A Punkt sentence tokenizer trained (unsupervised) on ``text`` itself:
    NLTK's ``PunktTrainer`` parameters, learned in forked worker processes
    on a long text (:mod:`lasagne_lstm.training.data.punkt`) when this
    process may fork (see :func:`parallel_map`)."""
    options = punkt_options()  # imports NLTK first, its own way
    from nltk.tokenize.punkt import PunktSentenceTokenizer
    from .punkt import punkt_parameters
    workers = _worker_count() if _can_fork() else 1
    return PunktSentenceTokenizer(punkt_parameters(text, workers), **options)


def split_paragraphs(text):
    """Blocks of text separated by blank lines (sentences never cross them)."""
    return [p for p in _PARAGRAPH.split(text) if p.strip()]


def split_sentences(text, punkt=None):
    """Sentences of raw ``text``: paragraphs first, then Punkt within each.

    ``punkt`` is a trained tokenizer; by default one is trained on ``text``.
    Sentences come back with their whitespace collapsed.
    """
    if punkt is None:
        punkt = train_punkt(text)
    sentences = []
    for paragraph in split_paragraphs(text):
        for sentence in punkt.tokenize(paragraph):
            sentence = normalize_space(sentence)
            if sentence:
                sentences.append(sentence)
    return sentences


def split_lines(text):
    """One sequence per non-blank line."""
    return [normalize_space(line) for line in text.splitlines() if line.strip()]


def detokenize(tokens, level="word"):
    """Words joined by spaces, characters joined by nothing."""
    check_level(level)
    return (" " if level == "word" else "").join(tokens)


#: Items below which :func:`parallel_map` stays in this process (starting
#: workers costs more than it saves).
PARALLEL_MIN_ITEMS = 2000


def parallel_map(fn, items, progress=None, min_items=PARALLEL_MIN_ITEMS):
    """``[fn(item) for item in items]``, on every CPU this process may use.

    Tokenizing a corpus is pure Python, one core's work (Shakespeare's word
    tokens take 10 s); worker processes share it. They are forked, so
    ``fn`` and what it reads need no pickling, and only while this process
    runs no other thread that could hold a lock a forked child would then
    wait on forever (JAX's XLA runtime, once started, runs several); else
    the map runs here. Results come back in order, so the output is the same
    as the serial one.

    ``progress(iterable, total)`` wraps the results as they arrive (a
    progress bar).
    """
    items = list(items)
    workers = _worker_count()
    wrap = progress or (lambda it, total: it)
    if workers < 2 or len(items) < min_items or not _can_fork():
        return [r for r in wrap((fn(item) for item in items), len(items))]
    global _FORKED_FN
    _FORKED_FN = fn
    chunks = [items[k::workers * 16] for k in range(workers * 16)]
    pool = multiprocessing.get_context("fork").Pool(workers, initializer=_worker_signals)
    try:
        parts = list(wrap(pool.imap(_map_chunk, chunks), len(chunks)))
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
        _FORKED_FN = None
    # chunk k holds items k, k + n, k + 2n, ...: interleave them back
    results = [None] * len(items)
    for k, part in enumerate(parts):
        results[k::len(chunks)] = part
    return results


_FORKED_FN = None


def _worker_count():
    """Worker processes to start: the CPUs this process may use, at most 8."""
    return min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1), 8)


def _can_fork():
    return "fork" in multiprocessing.get_all_start_methods() and _safe_to_fork()


def _safe_to_fork():
    """Whether this process runs only its main thread (tqdm's idle monitor
    aside) and no XLA runtime (False when it cannot tell)."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and type(thread).__name__ != "TMonitor":
            return False
    if "jax" not in sys.modules:
        return True
    try:
        from jax._src import xla_bridge
        return not xla_bridge.backends_are_initialized()
    except (ImportError, AttributeError):
        return False


def _worker_signals():
    # a worker inherits its parent's handlers: it must neither act on the
    # parent's Ctrl-C (the parent stops it) nor report the pool's SIGTERM
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _map_chunk(chunk):
    return [_FORKED_FN(item) for item in chunk]
