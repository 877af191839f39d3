"""Offline tokenization: NLTK Treebank-style words, characters, and sentences.

Nothing here calls ``nltk.download``: word tokens come from NLTK's
``NLTKWordTokenizer`` (what ``word_tokenize(text, preserve_line=True)`` uses,
no data files needed) and sentences from a ``PunktSentenceTokenizer`` trained
on the text itself (an untrained Punkt splits after "Mr.").
"""
import re

__all__ = ["LEVELS", "normalize_space", "word_tokenize", "char_tokenize",
           "tokenize", "train_punkt", "split_paragraphs", "split_sentences",
           "split_lines", "detokenize"]

LEVELS = ("word", "char")

_SPACE = re.compile(r"\s+")
_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n")
_WORD_TOKENIZER = None


def normalize_space(text):
    """Collapse every run of whitespace (newlines included) to one space."""
    return _SPACE.sub(" ", text).strip()


def _word_tokenizer():
    global _WORD_TOKENIZER
    if _WORD_TOKENIZER is None:
        from nltk.tokenize import NLTKWordTokenizer
        _WORD_TOKENIZER = NLTKWordTokenizer()
    return _WORD_TOKENIZER


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
    """A Punkt sentence tokenizer trained (unsupervised) on ``text`` itself."""
    from nltk.tokenize.punkt import PunktSentenceTokenizer
    return PunktSentenceTokenizer(text)


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
