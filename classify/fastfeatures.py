"""A faster `transform` for the fitted TF-IDF vectorizers of the model: word and character n-grams.

scikit-learn builds every n-gram of every text as a string and counts it in a dict, in Python:
most of the time to classify a complaint. Words repeat (a few thousand make most of any text),
so the fast paths do the per-word work once and cache it:

- character n-grams (`char_wb`): each distinct word is cut and looked up once, and its feature
  indices are cached; a text is then a concatenation of cached arrays.
- word n-grams: each distinct word gets a number once; the word pairs of a whole batch are then
  looked up at once with numpy, by their two numbers.

Both are counted and weighted with numpy. The output is the vectorizer's own, to the last bit
(tests/test_classify_fastfeatures.py holds them to that).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

# Enough for a region's vocabulary many times over; past it the cache starts afresh.
_MAX_CACHED_WORDS = 200_000
# Token patterns that never match white space (so no n-gram part holds a space): scikit-learn's
# default, and the one Muara's word features use.
_WORD_PATTERNS = frozenset({r"(?u)\b\w\w+\b", r"(?u)\b\w+\b"})


def _plain_tfidf(vectorizer: Any) -> bool:
    """A fitted TfidfVectorizer whose preprocessing and weighting the fast paths reproduce."""
    return (
        isinstance(vectorizer, TfidfVectorizer)
        and vectorizer.lowercase
        and vectorizer.strip_accents is None
        and vectorizer.preprocessor is None
        and not vectorizer.binary
        and vectorizer.norm in ("l2", None)
        and hasattr(vectorizer, "vocabulary_")
    )


class _Weighting:
    """Counts of feature indices → the vectorizer's TF-IDF rows (sublinear tf, idf, norm)."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self.n_features = len(vectorizer.vocabulary_)
        self.dtype = vectorizer.dtype
        self.sublinear = bool(vectorizer.sublinear_tf)
        self.idf: NDArray[Any] | None = vectorizer.idf_ if vectorizer.use_idf else None
        self.norm = vectorizer.norm

    def weigh(self, indices: NDArray[np.int32], indptr: NDArray[Any], rows: int) -> sp.csr_matrix:
        matrix = sp.csr_matrix(
            (np.ones(len(indices), dtype=self.dtype), indices, indptr),
            shape=(rows, self.n_features),
        )
        matrix.sum_duplicates()  # counts per feature, indices sorted as sklearn's are
        if self.sublinear:
            np.log(matrix.data, out=matrix.data)
            matrix.data += 1
        if self.idf is not None:
            matrix.data *= self.idf[matrix.indices]
        if self.norm is not None:
            normalize(matrix, norm=self.norm, copy=False)
        return matrix


class FastCharNgrams:
    """The `transform` of a fitted char_wb TfidfVectorizer, with a cache of word n-grams."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        if not self.supports(vectorizer):
            raise ValueError("only a fitted, plain char_wb TfidfVectorizer has a fast path")
        self.min_n, self.max_n = vectorizer.ngram_range
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.weighting = _Weighting(vectorizer)
        self._cache: dict[str, NDArray[np.int32]] = {}

    @staticmethod
    def supports(vectorizer: Any) -> bool:
        """Whether `vectorizer` is one this fast path reproduces exactly."""
        return _plain_tfidf(vectorizer) and vectorizer.analyzer == "char_wb"

    def _word(self, word: str) -> NDArray[np.int32]:
        found = self._cache.get(word)
        if found is not None:
            return found
        # sklearn's _char_wb_ngrams, for one word.
        padded = f" {word} "
        length = len(padded)
        grams: list[str] = []
        for n in range(self.min_n, self.max_n + 1):
            grams.extend(padded[i : i + n] for i in range(max(1, length - n + 1)))
            if length <= n:  # a short word counts once, at the smallest n
                break
        vocabulary = self.vocabulary
        indices = np.array([vocabulary[g] for g in grams if g in vocabulary], dtype=np.int32)
        if len(self._cache) >= _MAX_CACHED_WORDS:
            self._cache.clear()
        self._cache[word] = indices
        return indices

    def transform(self, documents: Sequence[str]) -> sp.csr_matrix:
        """The TF-IDF matrix the vectorizer's own `transform` would give."""
        get, word = self._cache.get, self._word
        # sklearn folds runs of white space first; split() ignores them anyway.
        words = [document.lower().split() for document in documents]
        pieces = [
            cached if (cached := get(token)) is not None else word(token)
            for tokens in words
            for token in tokens
        ]
        if not pieces:
            empty = np.zeros(len(documents) + 1, dtype=np.int64)
            return self.weighting.weigh(np.zeros(0, dtype=np.int32), empty, len(documents))
        sizes = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
        doc_of = np.repeat(np.arange(len(documents)), list(map(len, words)))
        indptr = np.zeros(len(documents) + 1, dtype=np.int64)
        per_document = np.bincount(doc_of, weights=sizes, minlength=len(documents))
        np.cumsum(per_document.astype(np.int64), out=indptr[1:])
        return self.weighting.weigh(np.concatenate(pieces), indptr, len(documents))


class FastWordNgrams:
    """The `transform` of a fitted word TfidfVectorizer of unigrams and/or bigrams.

    Every word of the vocabulary's n-grams has a number; a bigram is known by its two numbers
    (`first * words + second`, looked up in a sorted array). A word outside the vocabulary gets
    no number, and no bigram it is part of can be in the vocabulary.
    """

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        if not self.supports(vectorizer):
            raise ValueError("only a fitted, plain word TfidfVectorizer has a fast path")
        self.min_n, self.max_n = vectorizer.ngram_range
        self.pattern = re.compile(vectorizer.token_pattern)
        self.weighting = _Weighting(vectorizer)
        self.numbers: dict[str, int] = {}
        unigrams: list[tuple[int, int]] = []
        pairs: list[tuple[int, int, int]] = []
        for gram, feature in vectorizer.vocabulary_.items():
            parts = [self.numbers.setdefault(word, len(self.numbers)) for word in gram.split(" ")]
            if len(parts) == 1:
                unigrams.append((parts[0], feature))
            else:
                pairs.append((parts[0], parts[1], feature))
        self.base = len(self.numbers)
        self.unigram_feature = np.full(self.base, -1, dtype=np.int32)
        for number, feature in unigrams:
            self.unigram_feature[number] = feature
        keyed = sorted((first * self.base + second, feature) for first, second, feature in pairs)
        self.pair_keys = np.array([key for key, _ in keyed], dtype=np.int64)
        self.pair_features = np.array([feature for _, feature in keyed], dtype=np.int32)

    @staticmethod
    def supports(vectorizer: Any) -> bool:
        """Whether `vectorizer` is one this fast path reproduces exactly."""
        return (
            _plain_tfidf(vectorizer)
            and vectorizer.analyzer == "word"
            and vectorizer.tokenizer is None
            and vectorizer.stop_words is None
            and vectorizer.token_pattern in _WORD_PATTERNS
            and tuple(vectorizer.ngram_range) in {(1, 1), (1, 2), (2, 2)}
        )

    def transform(self, documents: Sequence[str]) -> sp.csr_matrix:
        """The TF-IDF matrix the vectorizer's own `transform` would give."""
        get = self.numbers.get
        findall = self.pattern.findall
        numbers: list[int] = []
        lengths: list[int] = []
        for document in documents:
            words = findall(document.lower())
            numbers.extend([get(word, -1) for word in words])
            lengths.append(len(words))
        ids = np.array(numbers, dtype=np.int64)
        doc_of = np.repeat(np.arange(len(documents)), lengths)
        columns: list[NDArray[np.int32]] = []
        rows: list[NDArray[Any]] = []
        if self.min_n == 1:
            known = ids >= 0
            features = self.unigram_feature[ids[known]]
            found = features >= 0
            columns.append(features[found])
            rows.append(doc_of[known][found])
        if self.max_n == 2 and len(ids) > 1 and len(self.pair_keys):
            same_doc = doc_of[:-1] == doc_of[1:]
            both = same_doc & (ids[:-1] >= 0) & (ids[1:] >= 0)
            keys = ids[:-1][both] * self.base + ids[1:][both]
            at = np.minimum(np.searchsorted(self.pair_keys, keys), len(self.pair_keys) - 1)
            found = self.pair_keys[at] == keys
            columns.append(self.pair_features[at[found]])
            rows.append(doc_of[:-1][both][found])
        row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        column = np.concatenate(columns) if columns else np.zeros(0, dtype=np.int32)
        order = np.argsort(row, kind="stable")
        indptr = np.zeros(len(documents) + 1, dtype=np.int64)
        np.cumsum(np.bincount(row, minlength=len(documents)), out=indptr[1:])
        return self.weighting.weigh(column[order].astype(np.int32), indptr, len(documents))


FastPath = FastCharNgrams | FastWordNgrams


def fast_paths(union: Any) -> dict[str, FastPath]:
    """A fast path for each word or character n-gram block of a fitted FeatureUnion."""
    paths: dict[str, FastPath] = {}
    for name, transformer in getattr(union, "transformer_list", []):
        if FastCharNgrams.supports(transformer):
            paths[name] = FastCharNgrams(transformer)
        elif FastWordNgrams.supports(transformer):
            paths[name] = FastWordNgrams(transformer)
    return paths


def transform_union(
    union: Any, fast: dict[str, FastPath], documents: Sequence[str]
) -> sp.csr_matrix:
    """`FeatureUnion.transform` (weights included), each block by its fast path if it has one."""
    weights = union.transformer_weights or {}
    blocks = []
    for name, transformer in union.transformer_list:
        block = (
            fast[name].transform(documents) if name in fast else transformer.transform(documents)
        )
        blocks.append(block * weights[name] if name in weights else block)
    return sp.hstack(blocks).tocsr()
