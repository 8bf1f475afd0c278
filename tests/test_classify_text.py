"""Normalisation and personal-data masking of complaint text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from muara.classify.text import (
    GREETINGS,
    INFORMAL_WORDS,
    mask_personal_data,
    model_text,
    normalise,
)

SIXTEEN_DIGITS = re.compile(r"\d{16}")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jalan RUSAK Parah", "jalan rusak parah"),
        ("bangeeet", "banget"),
        ("tolonggg dong pakkk", "tolong dong pak"),
        ("maaf pak", "maaf pak"),  # two letters are a word, not emphasis
        ("1000000 rupiah", "1000000 rupiah"),  # digits are never collapsed
        ("  banyak \n\n spasi\t\tdan  baris ", "banyak spasi dan baris"),
        ("\uff26\uff35\uff2c\uff2c width", "full width"),  # full-width letters
        ("nik " + "\uff13" * 16, "nik __nik__"),  # full-width digits are digits too
        ("cek https://lapor.go.id/x?id=12 ya", "cek __url__ ya"),
        ("lihat www.contoh.com/foto", "lihat __url__"),
        ("email saya budi.s+x@mail.co.id ya", "email saya __email__ ya"),
        ("NIK 3201012345670001", "nik __nik__"),
        ("nik:3201.0123.4567.0001.", "nik: __nik__ ."),
        ("hub 081234567890", "hub __telp__"),
        ("hub 0812-3456-7890 mas", "hub __telp__ mas"),
        ("wa +62 812 3456 7890", "wa __telp__"),
        ("wa 6281234567890", "wa __telp__"),
        ("kantor (021) 555-1234", "kantor __telp__"),
        ("rt 03 rw 05 tgl 01-02-2024 jam 08.00", "rt 03 rw 05 tgl 01-02-2024 jam 08.00"),
        ("", ""),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("NIK saya 3201012345670001", "NIK saya [nik]"),
        ("KK 3201 0123 4567 0002 hilang", "KK [nik] hilang"),
        ("hubungi 0812 3456 7890 atau +6281234567890", "hubungi [telepon] atau [telepon]"),
        ("kirim ke Siti.Aminah@gmail.com", "kirim ke [email]"),
        ("wa08123456789", "wa[telepon]"),  # glued to a word: still masked
        # What a coordinator needs to read stays: case, dates, RT/RW, money, years.
        ("Jalan RUSAK sejak 12-01-2024", "Jalan RUSAK sejak 12-01-2024"),
        ("RT 003 RW 005, biaya Rp 1.500.000 th 2024", "RT 003 RW 005, biaya Rp 1.500.000 th 2024"),
    ],
)
def test_mask_personal_data(raw: str, expected: str) -> None:
    assert mask_personal_data(raw) == expected


@given(st.text())
def test_normalise_never_raises_nor_leaves_a_nik(text: str) -> None:
    assert not SIXTEEN_DIGITS.search(normalise(text))


@given(st.text())
def test_masking_never_leaves_a_nik(text: str) -> None:
    assert not SIXTEEN_DIGITS.search(mask_personal_data(text))


@given(st.text(alphabet=st.sampled_from("abcdeijkl 0123456789.-+@_/:AEIZ")))
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


_separator = st.sampled_from(["", " ", "-", "."])


@st.composite
def _mobile_numbers(draw: st.DrawFn) -> str:
    """Real lengths: 08 then 8 to 11 digits, grouped as people write them."""
    prefix = draw(st.sampled_from(["08", "+62 8", "+628", "628", "62 8"]))
    rest = draw(st.text("0123456789", min_size=8, max_size=11))
    sep = draw(_separator)
    return prefix + sep.join(rest[i : i + 4] for i in range(0, len(rest), 4))


@given(
    number=_mobile_numbers(),
    before=st.sampled_from(["hub ", "WA: ", "(", "no. hp ", ""]),
    after=st.sampled_from([" ya", ")", ".", ", makasih", ""]),
)
def test_indonesian_mobile_numbers_are_masked(number: str, before: str, after: str) -> None:
    masked = mask_personal_data(before + number + after)
    assert "[telepon]" in masked
    assert not re.search(r"\d{3}", masked), masked


@given(nik=st.text("0123456789", min_size=16, max_size=16), sep=_separator)
def test_nik_in_groups_is_masked(nik: str, sep: str) -> None:
    grouped = sep.join(nik[i : i + 4] for i in range(0, 16, 4))
    masked = mask_personal_data(f"NIK: {grouped}, mohon dicek")
    assert masked == "NIK: [nik], mohon dicek"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Informal spellings and Javanese words are spelled out as the Indonesian word.
        ("jln rusak yg di dpn sekolah", "jalan rusak yang di dpn sekolah"),
        (
            "air tdk ngalir, udah 3 hari, durung dibenahi",
            "air tidak ngalir , sudah 3 hari , belum dibenahi",
        ),
        ("gak ada, ndak ada, nggak ada", "tidak ada , tidak ada , tidak ada"),
        # Greetings and courtesy carry no signal: gone.
        ("Assalamualaikum pak, mohon dibantu. Matur nuwun", ", dibantu ."),
        ("Selamat pagi Bapak/Ibu admin, lampu PJU mati", "/ , lampu pju mati"),
        # Personal data is masked first, as in `normalise`.
        ("hub 081234567890 atau NIK 3201012345670001", "hub __telp__ atau nik __nik__"),
        # Emphasis is folded, punctuation kept as its own token.
        ("sampahhh numpukkk!!!", "sampah numpuk ! ! !"),
        ("", ""),
    ],
)
def test_model_text(raw: str, expected: str) -> None:
    assert model_text(raw) == expected


@given(st.text())
def test_model_text_never_raises_nor_leaves_a_nik(text: str) -> None:
    assert not SIXTEEN_DIGITS.search(model_text(text))


@given(st.text(alphabet=st.sampled_from("0123456789 .-+()@ab_/:w")))
def test_the_quick_checks_skip_only_what_would_not_match(text: str) -> None:
    # `_mask` skips the NIK and phone patterns without a run of 8 digits, and the e-mail one
    # without an "@": the result must be what the patterns alone give.
    from muara.classify import text as module

    full = module._PHONE.sub("P", module._NIK.sub("N", module._EMAIL.sub("E", text)))
    assert module._mask(text, email="E", nik="N", phone="P") == full


def _model_text_by_definition(text: str) -> str:
    """model_text as first written: normalise the whole text, cut it, rewrite every word."""
    words = re.findall(r"\w+|[^\w\s]", normalise(text))
    return " ".join(w for word in words if (w := INFORMAL_WORDS.get(word, word)) not in GREETINGS)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *INFORMAL_WORDS,
                *sorted(GREETINGS),
                "jalannn",
                "tdkkk",
                "gggg",
                "aa",
                "\uff34\uff44\uff4b",  # full-width "Tdk"
                "İ",
                "ß",
                "__url__",
                "081234567890",
                "www.x.id/aaa",
                "warga@mail.id",
                "!!!",
                "2",
                " ",
                "\n",
            ]
        ),
        max_size=25,
    )
)
def test_model_text_word_by_word_is_the_whole_text_rewritten(words: list[str]) -> None:
    """The word cache and the word-by-word letter folding change nothing in what the model reads."""
    for text in (" ".join(words), "".join(words)):
        assert model_text(text) == _model_text_by_definition(text)
