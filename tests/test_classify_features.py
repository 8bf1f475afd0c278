"""The fast path for character n-grams gives exactly scikit-learn's features."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from muara.classify.fastchar import FastCharNgrams, fast_paths, transform_union
from muara.classify.fitting import build_features
from muara.classify.starter import starter_examples
from muara.classify.text import model_text

TEXTS = [model_text(text) for text, _ in starter_examples()[::7]]


@pytest.fixture(scope="module")
def fitted() -> TfidfVectorizer:
    union = build_features(len(TEXTS))
    union.fit(TEXTS)
    chars = dict(union.transformer_list)["chars"]
    assert isinstance(chars, TfidfVectorizer)
    return chars


def _same(vectorizer: TfidfVectorizer, texts: list[str]) -> None:
    expected = vectorizer.transform(texts)
    found = FastCharNgrams(vectorizer).transform(texts)
    assert found.dtype == expected.dtype
    assert found.shape == expected.shape
    assert (found.indptr == expected.indptr).all()
    assert (found.indices == expected.indices).all()
    assert (found.data == expected.data).all(), "bit for bit"


def test_the_fast_path_matches_on_complaints(fitted: TfidfVectorizer) -> None:
    _same(fitted, TEXTS)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from("abjl iİßé\t\n.!0"), max_size=30), min_size=1, max_size=8
    )
)
def test_the_fast_path_matches_on_anything(fitted: TfidfVectorizer, texts: list[str]) -> None:
    _same(fitted, texts)


def test_a_warm_cache_gives_the_same(fitted: TfidfVectorizer) -> None:
    fast = FastCharNgrams(fitted)
    first = fast.transform(TEXTS[:50])
    again = fast.transform(TEXTS[:50])
    assert (first != again).nnz == 0


@pytest.mark.parametrize(
    "options",
    [
        {"analyzer": "char"},
        {"analyzer": "char_wb", "lowercase": False},
        {"analyzer": "char_wb", "binary": True},
        {"analyzer": "word"},
    ],
)
def test_only_what_it_reproduces_has_a_fast_path(options: dict[str, object]) -> None:
    vectorizer = TfidfVectorizer(**options).fit(["jalan rusak"])
    assert not FastCharNgrams.supports(vectorizer)
    with pytest.raises(ValueError, match="fast path"):
        FastCharNgrams(vectorizer)
    assert not FastCharNgrams.supports(TfidfVectorizer(analyzer="char_wb"))  # not fitted


def test_the_weighted_union_matches_scikit_learns() -> None:
    union = build_features(len(TEXTS), word_weight=1.5)
    union.fit(TEXTS)
    assert union.transformer_weights == {"words": 1.5, "chars": 1.0}
    expected = union.transform(TEXTS[:40])
    found = transform_union(union, fast_paths(union), TEXTS[:40])
    assert set(fast_paths(union)) == {"chars"}
    assert (found != expected).nnz == 0
