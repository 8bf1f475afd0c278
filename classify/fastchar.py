"""A faster `transform` for a fitted character n-gram TF-IDF vectorizer (analyzer="char_wb").

scikit-learn cuts every word of every text into n-grams and looks each one up, in Python: about
two thirds of the time to classify a complaint. Words repeat (a few thousand make most of any
text), so here each distinct word is cut and looked up once and its feature indices are cached;
a text is then a concatenation of cached arrays, counted and weighted with numpy. The output is
the vectorizer's own, to the last bit (tests/test_classify_features.py holds it to that).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

# Enough for a region's vocabulary many times over; past it the cache starts afresh.
_MAX_CACHED_WORDS = 200_000


class FastCharNgrams:
    """The `transform` of a fitted char_wb TfidfVectorizer, with a cache of word n-grams."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        if not self.supports(vectorizer):
            raise ValueError("only a fitted, plain char_wb TfidfVectorizer has a fast path")
        self.min_n, self.max_n = vectorizer.ngram_range
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.n_features = len(self.vocabulary)
        self.dtype = vectorizer.dtype
        self.sublinear = bool(vectorizer.sublinear_tf)
        self.idf: NDArray[Any] | None = vectorizer.idf_ if vectorizer.use_idf else None
        self.norm = vectorizer.norm
        self._cache: dict[str, NDArray[np.int32]] = {}

    @staticmethod
    def supports(vectorizer: Any) -> bool:
        """Whether `vectorizer` is one this fast path reproduces exactly."""
        return (
            isinstance(vectorizer, TfidfVectorizer)
            and vectorizer.analyzer == "char_wb"
            and vectorizer.lowercase
            and vectorizer.strip_accents is None
            and vectorizer.preprocessor is None
            and not vectorizer.binary
            and vectorizer.norm in ("l2", None)
            and hasattr(vectorizer, "vocabulary_")
        )

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
        word = self._word
        pieces: list[NDArray[np.int32]] = []
        indptr = [0]
        total = 0
        for document in documents:
            # sklearn folds runs of white space first; split() ignores them anyway.
            for token in document.lower().split():
                cached = word(token)
                pieces.append(cached)
                total += len(cached)
            indptr.append(total)
        indices = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
        matrix = sp.csr_matrix(
            (np.ones(len(indices), dtype=self.dtype), indices, np.array(indptr)),
            shape=(len(documents), self.n_features),
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


def fast_paths(union: Any) -> dict[str, FastCharNgrams]:
    """A fast path for each character n-gram block of a fitted FeatureUnion."""
    return {
        name: FastCharNgrams(transformer)
        for name, transformer in getattr(union, "transformer_list", [])
        if FastCharNgrams.supports(transformer)
    }


def transform_union(
    union: Any, fast: dict[str, FastCharNgrams], documents: Sequence[str]
) -> sp.csr_matrix:
    """`FeatureUnion.transform` (weights included), the character blocks by their fast path."""
    weights = union.transformer_weights or {}
    blocks = []
    for name, transformer in union.transformer_list:
        block = (
            fast[name].transform(documents) if name in fast else transformer.transform(documents)
        )
        blocks.append(block * weights[name] if name in weights else block)
    return sp.hstack(blocks).tocsr()
