"""The fast paths for word and character n-grams give exactly scikit-learn's features."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from muara.classify.fastfeatures import (
    FastCharNgrams,
    FastPath,
    FastWordNgrams,
    fast_paths,
    transform_union,
)
from muara.classify.fitting import build_features
from muara.classify.starter import starter_examples
from muara.classify.text import model_text

TEXTS = [model_text(text) for text, _ in starter_examples()[::7]]


@pytest.fixture(scope="module", params=["words", "chars"])
def fitted(request: pytest.FixtureRequest) -> TfidfVectorizer:
    """Each block of Muara's own features, fitted on complaints."""
    union = build_features(len(TEXTS))
    union.fit(TEXTS)
    block = dict(union.transformer_list)[request.param]
    assert isinstance(block, TfidfVectorizer)
    return block


def fast_path(vectorizer: TfidfVectorizer) -> FastPath:
    if vectorizer.analyzer == "word":
        return FastWordNgrams(vectorizer)
    return FastCharNgrams(vectorizer)


def _same(vectorizer: TfidfVectorizer, texts: list[str]) -> None:
    expected = vectorizer.transform(texts)
    found = fast_path(vectorizer).transform(texts)
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


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([*TEXTS[0].split(), "zzz", "Jalan", ".", ""]), max_size=40))
def test_the_fast_path_matches_on_known_words_in_any_order(
    fitted: TfidfVectorizer, words: list[str]
) -> None:
    """Texts of vocabulary words, shuffled: bigrams known, unknown, across documents."""
    _same(fitted, [" ".join(words), " ".join(reversed(words)), "", " ".join(words[:3])])


@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 2), (2, 2)])
@pytest.mark.parametrize("token_pattern", [r"(?u)\b\w+\b", r"(?u)\b\w\w+\b"])
def test_every_word_layout_it_takes_matches(
    ngram_range: tuple[int, int], token_pattern: str
) -> None:
    vectorizer = TfidfVectorizer(
        ngram_range=ngram_range, token_pattern=token_pattern, sublinear_tf=True, min_df=2
    ).fit(TEXTS)
    assert FastWordNgrams.supports(vectorizer)
    _same(vectorizer, [*TEXTS[:60], "", "a b c", "jalan jalan jalan rusak rusak"])


def test_a_warm_cache_gives_the_same(fitted: TfidfVectorizer) -> None:
    fast = fast_path(fitted)
    first = fast.transform(TEXTS[:50])
    again = fast.transform(TEXTS[:50])
    assert (first != again).nnz == 0


@pytest.mark.parametrize(
    "options",
    [
        {"analyzer": "char"},
        {"analyzer": "char_wb", "lowercase": False},
        {"analyzer": "char_wb", "binary": True},
        {"analyzer": "word", "ngram_range": (1, 3)},
        {"analyzer": "word", "stop_words": ["dan"]},
        {"analyzer": "word", "token_pattern": r"\S+"},
        {"analyzer": "word", "lowercase": False},
    ],
)
def test_only_what_it_reproduces_has_a_fast_path(options: dict[str, object]) -> None:
    vectorizer = TfidfVectorizer(**options).fit(["jalan rusak dan banjir"])
    for path in (FastCharNgrams, FastWordNgrams):
        assert not path.supports(vectorizer)
        with pytest.raises(ValueError, match="fast path"):
            path(vectorizer)
    assert fast_paths(FeatureUnion([("x", vectorizer)])) == {}
    assert not FastCharNgrams.supports(TfidfVectorizer(analyzer="char_wb"))  # not fitted
    assert not FastWordNgrams.supports(TfidfVectorizer())  # not fitted


def test_the_weighted_union_matches_scikit_learns() -> None:
    union = build_features(len(TEXTS), word_weight=1.5)
    union.fit(TEXTS)
    assert union.transformer_weights == {"words": 1.5, "chars": 1.0}
    expected = union.transform(TEXTS[:40])
    found = transform_union(union, fast_paths(union), TEXTS[:40])
    assert set(fast_paths(union)) == {"words", "chars"}
    assert (found != expected).nnz == 0
