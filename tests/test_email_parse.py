"""The e-mail parser and its helpers: pure functions, table-driven, and fuzzed with Hypothesis."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from muara.ingest.email.charset import clean, codec_for, decode_text
from muara.ingest.email.html_text import html_to_text
from muara.ingest.email.noise import noise_reason
from muara.ingest.email.parse import (
    Envelope,
    Mail,
    Unreadable,
    message_source_id,
    parse_mail,
    thread_ids,
)
from muara.ingest.email.trim import is_forward, trim_reply
from tests.mail_corpus import COMPLAINT, DISCARD, QUARANTINE, CorpusMail, corpus

ENVELOPE = Envelope(
    mailbox="aduan",
    channel="email",
    uid=7,
    uidvalidity=42,
    received_at=datetime(2026, 11, 23, 1, 15, tzinfo=UTC),
    size=1234,
)
CORPUS = corpus()


def check_mail(expected: CorpusMail, result: Mail | Unreadable) -> None:
    """Assert that `result` is what the corpus says `expected` must become."""
    if expected.outcome == QUARANTINE:
        assert isinstance(result, Unreadable), expected.name
        assert expected.reason_has is not None
        assert expected.reason_has in result.error_class + " " + result.reason
        return
    assert isinstance(result, Mail), (expected.name, getattr(result, "reason", None))
    complaint = result.complaint
    if expected.outcome == DISCARD:
        assert complaint.discard_reason is not None, expected.name
        assert expected.reason_has is not None
        assert expected.reason_has in complaint.discard_reason
    else:
        assert expected.outcome == COMPLAINT
        assert complaint.discard_reason is None, (expected.name, complaint.discard_reason)
    if expected.message_id is not None:
        assert complaint.source_id == expected.message_id
    else:
        assert complaint.source_id.startswith("sha256:")
    for wanted in expected.text_has:
        assert wanted in complaint.text, (expected.name, complaint.text)
    for unwanted in expected.text_lacks:
        assert unwanted not in complaint.text, (expected.name, complaint.text)
    if expected.subject is not None:
        assert complaint.subject == expected.subject
    if expected.reporter_name is not None:
        assert complaint.reporter.name == expected.reporter_name
    if expected.reporter_contact is not None:
        assert complaint.reporter.contact == expected.reporter_contact
    if expected.attachments is not None:
        found = [
            (a.filename, a.content_type, a.dropped_reason is not None)
            for a in complaint.attachments
        ]
        assert found == list(expected.attachments)
    for key, value in expected.extra.items():
        assert complaint.extra.get(key) == value, (expected.name, key, complaint.extra)
    assert "\x00" not in complaint.text
    assert result.raw.content  # the full message is kept for re-processing


def test_corpus_is_big_and_varied() -> None:
    assert len(CORPUS) >= 20
    assert {mail.outcome for mail in CORPUS} == {COMPLAINT, DISCARD, QUARANTINE}
    assert len({mail.name for mail in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("mail", CORPUS, ids=[mail.name for mail in CORPUS])
def test_corpus_message_becomes_what_it_should(mail: CorpusMail) -> None:
    check_mail(mail, parse_mail(mail.raw, ENVELOPE))


def test_raw_input_keeps_the_whole_message_including_the_quoted_history() -> None:
    mail = next(m for m in CORPUS if m.name == "gmail_reply_indonesian")
    result = parse_mail(mail.raw, ENVELOPE)
    assert isinstance(result, Mail)
    assert result.raw.content == mail.raw
    assert result.raw.source_ref == "aduan:<reply@corpus.contoh.id>"
    assert result.raw.content_type == "message/rfc822"
    assert "menulis" not in result.complaint.text


def test_envelope_facts_are_kept_on_the_complaint() -> None:
    result = parse_mail(CORPUS[0].raw, ENVELOPE)
    assert isinstance(result, Mail)
    assert result.complaint.received_at == ENVELOPE.received_at
    assert result.complaint.channel == "email"
    assert result.complaint.extra["mailbox"] == "aduan"
    assert result.complaint.extra["uid"] == 7
    assert result.complaint.extra["date_header"] == "2026-11-23T08:15:00+07:00"


def test_empty_input_is_quarantined() -> None:
    result = parse_mail(b"", ENVELOPE)
    assert isinstance(result, Unreadable)
    assert result.error_class == "EmptyMessage"


def test_a_reply_names_the_messages_it_answers_closest_first() -> None:
    raw = (
        b"From: a@contoh.id\r\nMessage-ID: <3@x>\r\nIn-Reply-To: <2@x>\r\n"
        b"References: <1@x>\r\n <2@x>\r\nSubject: Re: x\r\n\r\nlagi\r\n"
    )
    result = parse_mail(raw, ENVELOPE)
    assert isinstance(result, Mail)
    assert result.thread_ids == ("<2@x>", "<1@x>")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("<abc@x.id>", "<abc@x.id>"),
        ("  <abc@x.id> (comment)", "<abc@x.id>"),
        ("abc@x.id", "<abc@x.id>"),
        ("two words", None),
        ("", None),
        (None, None),
    ],
)
def test_message_source_id(header: str | None, expected: str | None) -> None:
    assert message_source_id(header) == expected


def test_overlong_message_id_is_stored_as_a_digest_that_fits_the_column() -> None:
    value = message_source_id("<" + "x" * 400 + "@y>")
    assert value is not None and value.startswith("sha256:") and len(value) <= 255
    assert value == message_source_id("<" + "x" * 400 + "@y>")


def test_thread_ids_ignore_junk_and_repeats() -> None:
    assert thread_ids("<a@x> junk", "<b@x> <a@x> <c@x>") == ("<a@x>", "<c@x>", "<b@x>")
    assert thread_ids(None, None) == ()


@pytest.mark.parametrize(
    ("data", "declared", "text", "codec"),
    [
        ("café".encode(), "utf-8", "café", "utf-8"),
        ("“x”".encode("cp1252"), "iso-8859-1", "“x”", "cp1252"),
        ("café".encode(), "iso-8859-1", "café", "utf-8"),
        ("café".encode("latin-1"), "utf-8", "café", "cp1252"),
        (b"plain", None, "plain", "ascii"),
        ("café".encode(), "x-no-such-charset", "café", "utf-8"),
        (b"abc", "base64", "abc", "ascii"),
        ("Jalan".encode("utf-16"), "utf-16", "Jalan", "utf-16"),
        (b"\x81\x8d\x8f", "us-ascii", "\ufffd\ufffd\ufffd", "cp1252"),
    ],
)
def test_decode_text(data: bytes, declared: str | None, text: str, codec: str) -> None:
    assert decode_text(data, declared) == (text, codec)


def test_codec_for_refuses_byte_codecs_and_unknown_names() -> None:
    assert codec_for("hex") is None
    assert codec_for("nonsense") is None
    assert codec_for('"Windows-1252"') == "cp1252"


def test_clean_turns_smuggled_bytes_into_text_and_drops_nul() -> None:
    assert clean("caf\udcc3\udca9\x00!") == "café!"


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>a</p><p>b</p>", "a\n\nb"),
        ("<div>a</div><div>b</div><div><br></div><div>c</div>", "a\nb\n\nc"),
        ("a<br>b", "a\nb"),
        ("<ul><li>x</li><li>y</li></ul>", "- x\n- y"),
        ("<style>p{}</style><script>x</script>ok", "ok"),
        ("&lt;b&gt; &amp; &nbsp;x", "<b> & x"),
        ("<table><tr><td>a</td><td>b</td></tr></table>", "a b"),
        ("<p>unclosed <b>bold", "unclosed bold"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_html_quotes_are_dropped_only_when_asked() -> None:
    html = '<p>baru</p><div class="gmail_quote">On x wrote:<blockquote>lama</blockquote></div>'
    assert html_to_text(html, drop_quotes=True) == "baru"
    assert "lama" in html_to_text(html)


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        ("baru\n\nOn Mon, 1 Jan 2024, Dinas <d@x> wrote:\n> lama", "baru"),
        ("baru\nPada tanggal Sen, 1 Jan 2024\npukul 10.00 Dinas menulis:\n> lama", "baru"),
        ("baru\n-----Original Message-----\nFrom: x\nlama", "baru"),
        ("baru\n\nFrom: Dinas\nSent: Monday\nTo: Budi\nSubject: x\n\nlama", "baru"),
        ("baru\n> kutipan\nlagi", "baru\nlagi"),
        ("baru\n-- \nBudi\n0812", "baru"),
        ("baru\n\nSent from my iPhone", "baru"),
        ("Surat dikirim dari kantor kemarin.", "Surat dikirim dari kantor kemarin."),
        ("isi\n\nDikirim dari kantor kelurahan.", "isi\n\nDikirim dari kantor kelurahan."),
        ("isi\n\nDikirim dari ponsel Samsung Galaxy saya", "isi"),
        ("> hanya kutipan", ""),
    ],
)  # fmt: skip
def test_trim_reply(body: str, kept: str) -> None:
    assert trim_reply(body) == kept


def test_forwarded_content_is_kept() -> None:
    assert is_forward("Fwd: keluhan") and is_forward("FW: x") and not is_forward("Re: x")
    body = "lihat bawah\n-----Original Message-----\nFrom: warga\nisi keluhan"
    assert "isi keluhan" in trim_reply(body, keep_quotes=True)


def _message(**headers: str) -> EmailMessage:
    message = EmailMessage()
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("isi")
    return message


@pytest.mark.parametrize(
    ("headers", "sender", "reason"),
    [
        ({"Auto_Submitted": "no"}, "a@x", None),
        ({"Auto_Submitted": "auto-generated"}, "a@x", "Auto-Submitted: auto-generated"),
        ({"Precedence": "junk"}, "a@x", "Precedence: junk"),
        ({"Precedence": "first-class"}, "a@x", None),
        ({"X_Autoreply": "yes"}, "a@x", "X-Autoreply"),
        ({"Return_Path": "<>"}, "a@x", "null return path"),
        ({}, "MAILER-DAEMON@mx.x", "mailer daemon"),
        ({"Subject": "Automatic reply: laporan"}, "a@x", "out-of-office"),
        ({"Subject": "Out of Office"}, "a@x", "out-of-office"),
        ({"Subject": "Laporan jalan rusak"}, "a@x", None),
        ({}, None, None),
    ],
)
def test_noise_reason(headers: dict[str, str], sender: str | None, reason: str | None) -> None:
    found = noise_reason(_message(**headers), sender)
    if reason is None:
        assert found is None
    else:
        assert found is not None and reason in found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_any_bytes_become_a_mail_or_a_quarantine_record(data: bytes) -> None:
    result = parse_mail(data, ENVELOPE)
    assert isinstance(result, Mail | Unreadable)
    if isinstance(result, Mail):
        _storable(result)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(CORPUS),
    st.integers(min_value=0, max_value=4000),
    st.binary(min_size=0, max_size=40),
)
def test_damaged_corpus_messages_never_crash(mail: CorpusMail, at: int, junk: bytes) -> None:
    damaged = mail.raw[:at] + junk + mail.raw[at + len(junk) :]
    result = parse_mail(damaged, ENVELOPE)
    if isinstance(result, Mail):
        _storable(result)


def _storable(result: Mail) -> None:
    """What PostgreSQL would refuse: NUL characters and unpaired surrogates in text."""
    complaint = result.complaint
    fields = [complaint.text, complaint.subject or "", complaint.source_id]
    fields += [complaint.reporter.name or "", complaint.reporter.contact or ""]
    fields += [a.filename for a in complaint.attachments]
    for value in fields:
        assert "\x00" not in value
        value.encode("utf-8")
    assert len(complaint.source_id) <= 255
