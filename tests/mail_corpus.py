"""Awkward, real-world-shaped e-mail: each message with the outcome it must have.

Shapes taken from what complaint mailboxes actually receive: phone clients, Outlook, Gmail in
Indonesian, home-made mailers with broken MIME, bounces and out-of-office replies, invites, and
a photo too big to keep. Every message must end as a complaint, a discard or a quarantine
record with a reason; none may stop the collector.
"""

from __future__ import annotations

import base64
import quopri
from dataclasses import dataclass, field

COMPLAINT, DISCARD, QUARANTINE = "complaint", "discard", "quarantine"
BIG_ATTACHMENT_BYTES = 30 * 1024 * 1024


@dataclass(frozen=True)
class CorpusMail:
    """A message and what must become of it."""

    name: str
    raw: bytes
    outcome: str
    # The stored Message-ID (None: no usable one; the store names it by a digest).
    message_id: str | None = None
    text_has: tuple[str, ...] = ()
    text_lacks: tuple[str, ...] = ()
    subject: str | None = None
    reporter_name: str | None = None
    reporter_contact: str | None = None
    # A substring of the discard reason or quarantine error class.
    reason_has: str | None = None
    # (file name, content type) of each attachment, in order; with "dropped" when not kept.
    attachments: tuple[tuple[str, str, bool], ...] | None = None
    extra: dict[str, object] = field(default_factory=dict)


def _crlf(text: str | bytes) -> bytes:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _headers(n: str, subject: str = "Laporan warga", sender: str = "Budi Santoso <budi@contoh.id>",
             extra: str = "") -> str:  # fmt: skip
    return (
        f"From: {sender}\n"
        "To: Aduan Pemkot <aduan@pemkot.go.id>\n"
        f"Subject: {subject}\n"
        "Date: Mon, 23 Nov 2026 08:15:00 +0700\n"
        f"Message-ID: <{n}@corpus.contoh.id>\n"
        "MIME-Version: 1.0\n"
        f"{extra}"
    )


def _mid(n: str) -> str:
    return f"<{n}@corpus.contoh.id>"


def _b64(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii")


def big_attachment_mail() -> CorpusMail:
    """A complaint with a 30 MB attachment: the text is kept, the attachment noted as dropped."""
    head = _headers("big", "Foto banjir di Jl. Gajah Mada").encode()
    payload = base64.encodebytes(bytes(range(256)) * (BIG_ATTACHMENT_BYTES // 256))
    raw = (
        head
        + b'Content-Type: multipart/mixed; boundary="BIG"\n\n--BIG\n'
        + b"Content-Type: text/plain; charset=utf-8\n\nBanjir setinggi lutut sejak pagi.\n"
        + b'--BIG\nContent-Type: video/mp4; name="banjir.mp4"\n'
        + b'Content-Disposition: attachment; filename="banjir.mp4"\n'
        + b"Content-Transfer-Encoding: base64\n\n"
        + payload
        + b"--BIG--\n"
    )
    return CorpusMail(
        "attachment_30mb",
        _crlf(raw),
        COMPLAINT,
        _mid("big"),
        text_has=("Banjir setinggi lutut",),
        attachments=(("banjir.mp4", "video/mp4", True),),
        extra={"truncated": True},
    )


def corpus() -> list[CorpusMail]:
    """Every awkward message but the 30 MB one (see `big_attachment_mail`)."""
    mails = [
        CorpusMail(
            "plain_utf8",
            _crlf(_headers("plain") + "Content-Type: text/plain; charset=utf-8\n\n"
                  "Jalan di depan SDN 3 berlubang besar, sudah dua motor jatuh.\n"),
            COMPLAINT, _mid("plain"), text_has=("berlubang besar",),
            reporter_name="Budi Santoso", reporter_contact="budi@contoh.id",
        ),
        CorpusMail(
            "html_only",
            _crlf(_headers("html") + "Content-Type: text/html; charset=utf-8\n\n"
                  "<html><head><style>p {color: red}</style></head><body>"
                  "<p>Lampu&nbsp;jalan di <b>Jl. Merdeka</b> mati&hellip;</p>"
                  "<div>Sudah seminggu.<br>Mohon segera.</div><script>x()</script>"
                  "</body></html>\n"),
            COMPLAINT, _mid("html"),
            text_has=("Lampu jalan di Jl. Merdeka mati…", "Sudah seminggu.\nMohon segera."),
            text_lacks=("<", "color", "x()"), extra={"body": "html"},
        ),
        CorpusMail(
            "windows_1252",
            _crlf(_headers("cp1252").encode() + b"Content-Type: text/plain; charset=windows-1252\n"
                  b"Content-Transfer-Encoding: 8bit\n\n"
                  b"Sampah di pasar \x93menggunung\x94 \x96 bau sekali.\n"),
            COMPLAINT, _mid("cp1252"), text_has=("\u201cmenggunung\u201d \u2013 bau",),
        ),
        CorpusMail(
            "cp1252_labelled_latin1",
            _crlf(_headers("latin1").encode() + b"Content-Type: text/plain; charset=iso-8859-1\n"
                  b"Content-Transfer-Encoding: 8bit\n\n"
                  b"Pipa PDAM bocor \x93lagi\x94 di caf\xe9 depan.\n"),
            COMPLAINT, _mid("latin1"), text_has=("\u201clagi\u201d di café",),
        ),
        CorpusMail(
            "latin1_labelled_utf8",
            _crlf(_headers("mislabel").encode() + b"Content-Type: text/plain; charset=utf-8\n"
                  b"Content-Transfer-Encoding: 8bit\n\n"
                  b"Air keruh di Perumahan Caf\xe9 Indah.\n"),
            COMPLAINT, _mid("mislabel"), text_has=("Café Indah",),
        ),
        CorpusMail(
            "unknown_charset",
            _crlf(_headers("bogus").encode() + b'Content-Type: text/plain; charset="x-bogus-42"\n'
                  b"Content-Transfer-Encoding: 8bit\n\n"
                  b"Trotoar rusak \xe2\x80\x94 tolong diperbaiki.\n"),
            COMPLAINT, _mid("bogus"), text_has=("Trotoar rusak — tolong",),
        ),
        CorpusMail(
            "encoded_words",
            _crlf(_headers(
                "ew",
                subject="=?UTF-8?B?SmFsYW4gcnVzYWsg4oCUIG1vaG9uIGRpYmFudHU=?= "
                        "=?iso-8859-1?Q?_caf=E9?=",
                sender="=?utf-8?q?Siti_Rahayu_=E2=9C=93?= <siti@contoh.id>",
            ) + "Content-Type: text/plain\n\nJalan rusak.\n"),
            COMPLAINT, _mid("ew"), subject="Jalan rusak — mohon dibantu café",
            reporter_name="Siti Rahayu ✓", reporter_contact="siti@contoh.id",
        ),
        CorpusMail(
            "raw_8bit_subject",
            _crlf(_headers("raw8").replace("Laporan warga", "Drainase mampet \u2014 RT 05").encode()
                  + b"Content-Type: text/plain; charset=utf-8\n\nGot mampet.\n"),
            COMPLAINT, _mid("raw8"), subject="Drainase mampet — RT 05",
        ),
        CorpusMail(
            "broken_boundary",
            _crlf(_headers("boundary") + 'Content-Type: multipart/mixed; boundary="DECLARED"\n\n'
                  "This is a multi-part message in MIME format.\n"
                  "--ACTUAL\nContent-Type: text/plain; charset=utf-8\n\n"
                  "Pohon tumbang menutup jalan.\n--ACTUAL--\n"),
            COMPLAINT, _mid("boundary"), text_has=("Pohon tumbang",),
            text_lacks=("--ACTUAL", "Content-Type"),
            extra={"mime_defects": ["BoundaryRepairedDefect"]},
        ),
        CorpusMail(
            "missing_close_boundary",
            _crlf(_headers("noclose") + 'Content-Type: multipart/mixed; boundary="B"\n\n'
                  "--B\nContent-Type: text/plain\n\nGorong-gorong ambrol.\n"),
            COMPLAINT, _mid("noclose"), text_has=("Gorong-gorong ambrol",),
        ),
        CorpusMail(
            "zero_byte_body",
            _crlf(_headers("empty", subject="Parit meluap di RW 02")
                  + "Content-Type: text/plain\n\n"),
            COMPLAINT, _mid("empty"), text_has=("Parit meluap di RW 02",),
        ),
        CorpusMail(
            "nothing_at_all",
            _crlf("From: someone@contoh.id\nMessage-ID: <void@corpus.contoh.id>\n\n"),
            DISCARD, "<void@corpus.contoh.id>", reason_has="empty message",
        ),
        CorpusMail(
            "nested_multipart",
            _crlf(_headers("nested") + 'Content-Type: multipart/mixed; boundary="OUT"\n\n'
                  '--OUT\nContent-Type: multipart/alternative; boundary="ALT"\n\n'
                  "--ALT\nContent-Type: text/plain; charset=utf-8\n\n"
                  "Jembatan retak, foto terlampir.\n"
                  '--ALT\nContent-Type: multipart/related; boundary="REL"\n\n'
                  "--REL\nContent-Type: text/html; charset=utf-8\n\n"
                  '<p>Jembatan retak (HTML)</p><img src="cid:foto1">\n'
                  "--REL\nContent-Type: image/jpeg\nContent-ID: <foto1>\n"
                  "Content-Transfer-Encoding: base64\n\n" + _b64(b"\xff\xd8jpeg" * 10) +
                  "--REL--\n--ALT--\n"
                  '--OUT\nContent-Type: application/pdf; name="surat.pdf"\n'
                  'Content-Disposition: attachment; filename="surat.pdf"\n'
                  "Content-Transfer-Encoding: base64\n\n" + _b64(b"%PDF-1.4 x" * 20) +
                  "--OUT--\n"),
            COMPLAINT, _mid("nested"), text_has=("Jembatan retak, foto terlampir.",),
            text_lacks=("HTML",),
            attachments=(("part-3.jpg", "image/jpeg", False),
                         ("surat.pdf", "application/pdf", False)),
        ),
        CorpusMail(
            "calendar_invite",
            _crlf(_headers("invite", subject="Undangan: Rapat koordinasi")
                  + 'Content-Type: multipart/alternative; boundary="CAL"\n\n'
                  "--CAL\nContent-Type: text/plain\n\nRapat koordinasi Senin.\n"
                  "--CAL\nContent-Type: text/html\n\n<p>Rapat koordinasi Senin.</p>\n"
                  '--CAL\nContent-Type: text/calendar; charset=utf-8; method=REQUEST\n\n'
                  "BEGIN:VCALENDAR\nMETHOD:REQUEST\nBEGIN:VEVENT\nSUMMARY:Rapat\n"
                  "END:VEVENT\nEND:VCALENDAR\n--CAL--\n"),
            DISCARD, _mid("invite"), reason_has="calendar",
        ),
        CorpusMail(
            "quoted_printable",
            _crlf(_headers("qp") + "Content-Type: text/plain; charset=utf-8\n"
                  "Content-Transfer-Encoding: quoted-printable\n\n"
                  + quopri.encodestring(
                      ("Saluran irigasi di Desa Sukamaju tersumbat sampah plastik sehingga "
                       "sawah warga = kekeringan — mohon ditindaklanjuti.\n").encode()
                  ).decode()),
            COMPLAINT, _mid("qp"),
            text_has=("sampah plastik sehingga sawah warga = kekeringan — mohon",),
        ),
        CorpusMail(
            "base64_text",
            _crlf(_headers("b64") + "Content-Type: text/plain; charset=utf-8\n"
                  "Content-Transfer-Encoding: base64\n\n"
                  + _b64(b"Pungutan liar di kantor kelurahan.\n")),
            COMPLAINT, _mid("b64"), text_has=("Pungutan liar di kantor kelurahan.",),
        ),
        CorpusMail(
            "gmail_reply_indonesian",
            _crlf(_headers("reply", subject="Re: Laporan jalan",
                           extra="In-Reply-To: <unknown-thread@pemkot.go.id>\n")
                  + "Content-Type: text/plain; charset=utf-8\n\n"
                  "Sampai hari ini belum diperbaiki.\n\n"
                  "Salam,\nBudi\n-- \nBudi Santoso\nRT 03 / RW 07\n\n"
                  "Pada tanggal Sen, 16 Nov 2026 pukul 09.12 Dinas PU <pu@pemkot.go.id>\n"
                  "menulis:\n> Laporan Anda sedang kami proses.\n"),
            COMPLAINT, _mid("reply"), text_has=("belum diperbaiki", "Salam,\nBudi"),
            text_lacks=("menulis", "proses", "RT 03"),
        ),
        CorpusMail(
            "outlook_html_reply",
            _crlf(_headers("outlook", subject="RE: Tiket 123")
                  + "Content-Type: text/html; charset=utf-8\n\n"
                  "<div>Genangan masih ada di depan puskesmas.</div>"
                  '<div id="appendonsend"></div><hr style="display:inline-block">'
                  '<div id="divRplyFwdMsg"><b>From:</b> Dinas PU &lt;pu@pemkot.go.id&gt;<br>'
                  "<b>Sent:</b> Monday<br><b>To:</b> Budi<br><b>Subject:</b> Tiket 123</div>"
                  "<div>Terima kasih atas laporan Anda.</div>\n"),
            COMPLAINT, _mid("outlook"), text_has=("Genangan masih ada",),
            text_lacks=("Terima kasih", "Sent:"),
        ),
        CorpusMail(
            "mobile_footer",
            _crlf(_headers("mobile") + "Content-Type: text/plain; charset=utf-8\n\n"
                  "Ada kabel listrik menjuntai di Gang Mawar.\n\nDikirim dari iPhone saya\n"),
            COMPLAINT, _mid("mobile"), text_has=("kabel listrik",), text_lacks=("iPhone",),
        ),
        CorpusMail(
            "forwarded_complaint",
            _crlf(_headers("fwd", subject="Fwd: Keluhan warga RT 05")
                  + "Content-Type: text/plain; charset=utf-8\n\n"
                  "Mohon ditindaklanjuti.\n\n---------- Forwarded message ---------\n"
                  "From: Warga <warga@contoh.id>\nDate: Sun, 22 Nov 2026\n"
                  "Subject: Keluhan warga RT 05\nTo: Pak RT <rt05@contoh.id>\n\n"
                  "Pembuangan limbah pabrik ke sungai setiap malam.\n"),
            COMPLAINT, _mid("fwd"),
            text_has=("Mohon ditindaklanjuti.", "limbah pabrik ke sungai"),
        ),
        CorpusMail(
            "out_of_office_subject",
            _crlf(_headers("ooo", subject="Balasan Otomatis: Laporan warga",
                           sender="Staf <staf@pemkot.go.id>")
                  + "Content-Type: text/plain\n\nSaya sedang cuti sampai 30 November.\n"),
            DISCARD, _mid("ooo"), reason_has="out-of-office",
        ),
        CorpusMail(
            "auto_submitted",
            _crlf(_headers("auto", subject="Re: Laporan warga",
                           extra="Auto-Submitted: auto-replied\n")
                  + "Content-Type: text/plain\n\nI am away.\n"),
            DISCARD, _mid("auto"), reason_has="Auto-Submitted: auto-replied",
        ),
        CorpusMail(
            "bounce_dsn",
            _crlf("From: Mail Delivery System <MAILER-DAEMON@mx.contoh.id>\n"
                  "To: aduan@pemkot.go.id\nSubject: Undelivered Mail Returned to Sender\n"
                  "Date: Mon, 23 Nov 2026 08:15:00 +0700\n"
                  "Message-ID: <dsn@mx.contoh.id>\nMIME-Version: 1.0\n"
                  'Content-Type: multipart/report; report-type=delivery-status; boundary="R"\n\n'
                  "--R\nContent-Type: text/plain\n\nThis is the mail system.\n"
                  "--R\nContent-Type: message/delivery-status\n\n"
                  "Reporting-MTA: dns; mx.contoh.id\n\nFinal-Recipient: rfc822; x@contoh.id\n"
                  "Action: failed\nStatus: 5.1.1\n\n"
                  "--R\nContent-Type: text/rfc822-headers\n\nSubject: x\n--R--\n"),
            DISCARD, "<dsn@mx.contoh.id>", reason_has="bounce",
        ),
        CorpusMail(
            "newsletter_bulk",
            _crlf(_headers("bulk", subject="Promo akhir tahun", extra="Precedence: bulk\n")
                  + "Content-Type: text/plain\n\nDiskon 50%!\n"),
            DISCARD, _mid("bulk"), reason_has="Precedence: bulk",
        ),
        CorpusMail(
            "mailing_list",
            _crlf(_headers("list", extra="List-Id: Warga Kota <warga.lists.contoh.id>\n")
                  + "Content-Type: text/plain\n\nRapat RT besok.\n"),
            DISCARD, _mid("list"), reason_has="List-Id",
        ),
        CorpusMail(
            "read_receipt",
            _crlf(_headers("mdn", subject="Read: Laporan warga")
                  + 'Content-Type: multipart/report; report-type=disposition-notification; '
                  'boundary="M"\n\n--M\nContent-Type: text/plain\n\nYour message was read.\n'
                  "--M\nContent-Type: message/disposition-notification\n\n"
                  "Disposition: manual-action/MDN-sent-manually; displayed\n--M--\n"),
            DISCARD, _mid("mdn"), reason_has="read receipt",
        ),
        CorpusMail(
            "not_an_email",
            b"\x00\x01\x02\x03PK\x03\x04 binary junk \xff\xfe\x00\r\n\r\n\x89PNG\r\n",
            QUARANTINE, None, reason_has="NotAnEmail",
        ),
        CorpusMail(
            "no_message_id",
            _crlf("From: Ani <ani@contoh.id>\nSubject: Sampah\n"
                  "Date: Mon, 23 Nov 2026 08:15:00 +0700\n\nSampah tidak diangkut.\n"),
            COMPLAINT, None, text_has=("Sampah tidak diangkut.",),
        ),
        CorpusMail(
            "overlong_message_id",
            _crlf(_headers("x" * 300) + "Content-Type: text/plain\n\nPJU padam.\n"),
            COMPLAINT, None, text_has=("PJU padam.",),
        ),
        CorpusMail(
            "attached_message_and_2231_name",
            _crlf(_headers("att") + 'Content-Type: multipart/mixed; boundary="A"\n\n'
                  "--A\nContent-Type: text/plain\n\nBukti terlampir.\n"
                  "--A\nContent-Type: message/rfc822\n\n"
                  "From: x@contoh.id\nSubject: bukti\n\nisi bukti\n"
                  "--A\nContent-Type: application/octet-stream\n"
                  "Content-Disposition: attachment;\n"
                  " filename*=utf-8''bukti%20pembayaran%E2%9C%93.txt\n"
                  "\nnota\n--A--\n"),
            COMPLAINT, _mid("att"), text_has=("Bukti terlampir.",), text_lacks=("isi bukti",),
            attachments=(("part-2.eml", "message/rfc822", False),
                         ("bukti pembayaran✓.txt", "application/octet-stream", False)),
        ),
        CorpusMail(
            "outlook_encoded_word_file_name",
            _crlf(_headers("ewname") + 'Content-Type: multipart/mixed; boundary="E"\n\n'
                  "--E\nContent-Type: text/plain\n\nKTP terlampir.\n"
                  '--E\nContent-Type: image/png; name="=?utf-8?B?S1RQIOKcky5wbmc=?="\n'
                  'Content-Disposition: attachment; filename="=?utf-8?B?S1RQIOKcky5wbmc=?="\n'
                  "Content-Transfer-Encoding: base64\n\n" + _b64(b"\x89PNG....") +
                  "--E--\n"),
            COMPLAINT, _mid("ewname"), text_has=("KTP terlampir.",),
            attachments=(("KTP ✓.png", "image/png", False),),
        ),
        CorpusMail(
            "nul_bytes_in_text",
            _crlf(_headers("nul").encode() + b"Content-Type: text/plain; charset=utf-8\n\n"
                  b"Banjir\x00 di kolong\x00 jembatan.\n"),
            # Dovecot stores NUL as 0x80 on APPEND; parsed directly, the NULs are dropped.
            COMPLAINT, _mid("nul"), text_has=("Banjir", " di kolong", " jembatan."),
            text_lacks=("\x00",),
        ),
        CorpusMail(
            "photo_only",
            _crlf(_headers("photo", subject="Jalan amblas")
                  + 'Content-Type: multipart/mixed; boundary="P"\n\n'
                  '--P\nContent-Type: image/jpeg; name="IMG_2031.jpg"\n'
                  "Content-Transfer-Encoding: base64\n\n" + _b64(b"\xff\xd8" + b"j" * 300) +
                  "--P--\n"),
            COMPLAINT, _mid("photo"), text_has=("Jalan amblas",),
            attachments=(("IMG_2031.jpg", "image/jpeg", False),),
        ),
    ]  # fmt: skip
    return mails
