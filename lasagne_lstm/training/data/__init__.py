"""Text data: offline tokenization, vocabulary, corpora, stream mode.

The bucketing / mask generator is :mod:`lasagne_lstm.training.batching`.
"""
from .textio import DataError, find_text_files, read_text
from .tokenize import (LEVELS, char_tokenize, detokenize, normalize_space,
                       split_lines, split_paragraphs, split_sentences, tokenize,
                       train_punkt, word_tokenize)
from .vocab import (BOS, EOS, PAD, SPECIAL_TOKENS, UNK, Vocabulary, lm_sequences,
                    task_sequences)
from .corpora import (CORPORA, SEGMENTS, TASKS, Corpus, cache_dir, corpus_dir,
                      fetch, is_fetched, load_corpus, load_documents, prepare,
                      strip_gutenberg)
from .stream import lm_stream, stream_batches, stream_num_windows

__all__ = [
    "DataError", "find_text_files", "read_text",
    "LEVELS", "char_tokenize", "detokenize", "normalize_space", "split_lines",
    "split_paragraphs", "split_sentences", "tokenize", "train_punkt", "word_tokenize",
    "BOS", "EOS", "PAD", "SPECIAL_TOKENS", "UNK", "Vocabulary", "lm_sequences",
    "task_sequences",
    "CORPORA", "SEGMENTS", "TASKS", "Corpus", "cache_dir", "corpus_dir", "fetch",
    "prepare", "is_fetched", "load_corpus", "load_documents", "strip_gutenberg",
    "lm_stream", "stream_batches", "stream_num_windows",
]
