#!/usr/bin/env python3
"""Generates the Leadline email test corpus in this folder.

    python3 tests/corpus/mail/make_corpus.py          # write *.eml + expected.json, then self-check
    python3 tests/corpus/mail/make_corpus.py --check  # only re-check the files on disk

Every message is written here from scratch for this project (no third-party data).
Bytes are built explicitly: messages are assembled with "\n" and converted to CRLF at
the end unless a message is meant to be LF-only; legacy charsets are produced with
Python's codecs; NUL bytes are inserted deliberately where a message tests them.

expected.json is generated from the same table, so the two never drift apart. The
meaning of its fields is described in README.md.
"""

import base64
import binascii
import email
import email.header
import email.policy
import email.utils
import html
import json
import os
import re
import struct
import sys
import zlib
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
OFFICE = "office@acme-roofing.test"
TO_OFFICE = "To: Acme Roofing <office@acme-roofing.test>"

MESSAGES = []  # (file name, bytes, expected dict)


# --------------------------------------------------------------------------- helpers


def crlf(data: bytes) -> bytes:
    """Every line end as CRLF."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def to_bytes(x) -> bytes:
    if isinstance(x, bytes):
        return x
    return x.encode("utf-8")


def ascii_bytes(x) -> bytes:
    if isinstance(x, bytes):
        return x
    return x.encode("ascii")  # a non-ASCII str body is a mistake in this script


def entity(headers, body) -> bytes:
    """A header block (list of lines, folds included), a blank line, the body."""
    out = b"".join(to_bytes(h) + b"\n" for h in headers)
    return out + b"\n" + ascii_bytes(body)


def multipart(boundary, parts, preamble=None, close=True, epilogue=None) -> bytes:
    out = b""
    if preamble is not None:
        out += ascii_bytes(preamble) + b"\n"
    for p in parts:
        out += b"--" + boundary.encode() + b"\n" + p
        if not p.endswith(b"\n"):
            out += b"\n"
    if close:
        out += b"--" + boundary.encode() + b"--\n"
    if epilogue is not None:
        out += ascii_bytes(epilogue)
    return out


def qp(data: bytes, upper=True) -> bytes:
    """Quoted-printable with 76-column soft breaks; "\n" in the input are hard breaks."""
    out_lines = []
    for line in data.split(b"\n"):
        toks = []
        for i, c in enumerate(line):
            last = i == len(line) - 1
            if (33 <= c <= 126 and c != 61) or (c in (32, 9) and not last):
                toks.append(chr(c))
            else:
                toks.append(("=%02X" if upper else "=%02x") % c)
        cur, res = "", []
        for t in toks:
            if len(cur) + len(t) > 75:
                res.append(cur + "=")
                cur = ""
            cur += t
        res.append(cur)
        out_lines.append("\n".join(res))
    return "\n".join(out_lines).encode("ascii")


def b64(data: bytes) -> bytes:
    return base64.encodebytes(data)


def _chunks(text, charset, codec, enc, limit=75):
    """Split text into whole characters so each encoded word fits in `limit` columns."""
    words, cur = [], ""
    for ch in text:
        cand = cur + ch
        if len(_one_word(cand, charset, codec, enc)) > limit and cur:
            words.append(_one_word(cur, charset, codec, enc))
            cur = ch
        else:
            cur = cand
    if cur:
        words.append(_one_word(cur, charset, codec, enc))
    return words


def _q(data: bytes) -> str:
    out = []
    for c in data:
        ch = chr(c)
        if ch.isascii() and (ch.isalnum() or ch in "!*+-/"):
            out.append(ch)
        elif c == 32:
            out.append("_")
        else:
            out.append("=%02X" % c)
    return "".join(out)


def _one_word(text, charset, codec, enc):
    data = text.encode(codec)
    if enc == "B":
        payload = base64.b64encode(data).decode()
    else:
        payload = _q(data)
    return "=?%s?%s?%s?=" % (charset, enc, payload)


def ew(text, charset, enc="B", codec=None):
    """RFC 2047 encoded words, folded onto continuation lines."""
    return "\n ".join(_chunks(text, charset, codec or charset, enc))


def date_hdr(day, hh, mm, tz="+0000", ss=0, month=3, zone_name=None):
    d = datetime(2026, month, day, hh, mm, ss)
    wd = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][d.weekday()]
    mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
           "Nov", "Dec"][month - 1]
    value = "%s, %02d %s 2026 %02d:%02d:%02d %s" % (wd, day, mon, hh, mm, ss, zone_name or tz)
    return value


def iso_utc(date_value):
    dt = email.utils.parsedate_to_datetime(date_value)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def mid(nn):
    return "corpus-%02d@example.com" % nn


def add(nn, slug, data: bytes, *, from_, subject="__none__", content_contains,
        content_excludes=(), text_contains=None, attachments=None,
        attachment_filenames=None, has_message_id=True, quarantine=False,
        subject_prefix=None, date=None, to=(OFFICE,), from_name=None,
        in_reply_to=None, references_count=None, auto_submitted=None,
        eol="crlf", note=None):
    name = "%02d-%s.eml" % (nn, slug)
    if eol == "crlf":
        data = crlf(data)
    exp = {"quarantine": quarantine, "from": from_}
    if subject != "__omit__":
        exp["subject"] = None if subject == "__none__" else subject
    if subject_prefix is not None:
        exp["subject_prefix"] = subject_prefix
    if from_name is not None:
        exp["from_name"] = from_name
    exp["to"] = list(to)
    exp["date"] = iso_utc(date) if date else None
    exp["has_message_id"] = has_message_id
    exp["message_id"] = mid(nn) if has_message_id else None
    if in_reply_to is not None:
        exp["in_reply_to"] = in_reply_to
    if references_count is not None:
        exp["references_count"] = references_count
    if auto_submitted is not None:
        exp["auto_submitted"] = auto_submitted
    exp["content_contains"] = list(content_contains)
    exp["content_excludes"] = list(content_excludes)
    if text_contains is not None:
        exp["text_contains"] = list(text_contains)
    if attachments is not None:
        exp["attachments"] = attachments
    if attachment_filenames is not None:
        exp["attachment_filenames"] = list(attachment_filenames)
    if note:
        exp["note"] = note
    MESSAGES.append((name, data, exp))


def std(nn, from_hdr, subject_hdr, date_value, *, to=TO_OFFICE, message_id=True):
    """The usual top of a message."""
    h = []
    if from_hdr:
        h.append("From: " + from_hdr)
    if to:
        h.append(to)
    if subject_hdr is not None:
        h.append("Subject: " + subject_hdr)
    if date_value:
        h.append("Date: " + date_value)
    if message_id:
        h.append("Message-ID: <%s>" % mid(nn))
    return h


def text_headers(charset, cte, extra=""):
    return ["MIME-Version: 1.0",
            'Content-Type: text/plain; charset="%s"%s' % (charset, extra),
            "Content-Transfer-Encoding: " + cte]


def png_bytes(w=4, h=4, rgb=(178, 34, 34)):
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def pdf_bytes(text="Insurance claim 2026-0142: roof storm damage"):
    stream = ("BT /F1 12 Tf 20 50 Td (%s) Tj ET" % text).encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 100] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


# The office's earlier message, quoted in the replies.
def acme_quote(first_name):
    return [
        "Hi %s," % first_name,
        "",
        "Thanks for your request. Your estimate for the roof repair is $4,800.",
        "We can start on Thursday if the weather allows.",
        "",
        "Best regards,",
        "Acme Roofing",
    ]


QUOTE_EXCLUDES = ["estimate for the roof repair is", "if the weather allows"]
QUOTE_TEXT = ["estimate for the roof repair is"]


def quoted(lines, prefix="> "):
    return "\n".join((prefix + l) if l else prefix.rstrip() for l in lines)


def acme_ref(nn):
    return "acme-%04d@acme-roofing.test" % nn


def reply_headers(nn, irt=True, refs=True):
    h = []
    if irt:
        h.append("In-Reply-To: <%s>" % acme_ref(nn))
    if refs:
        h.append("References: <%s>" % acme_ref(nn))
    return h


# --------------------------------------------------------------------------- charsets

# 01 Shift_JIS: B subject, 8bit body
d = date_hdr(2, 9, 15, "+0900")
body = ("アクメ屋根工事 御中\n\n"
        "屋根の修理の見積もりをお願いします。\n"
        "先週の台風で瓦が数枚飛ばされました。\n"
        "来週の火曜日以降でしたら、いつでも大丈夫です。\n\n"
        "田中 太郎\n電話 090-1234-5678\n")
add(1, "shift-jis",
    entity(std(1, ew("田中", "Shift_JIS") + " <tanaka@example.jp>", ew("屋根の修理", "Shift_JIS"), d)
           + text_headers("Shift_JIS", "8bit"), body.encode("shift_jis")),
    from_="tanaka@example.jp", from_name="田中", subject="屋根の修理", date=d,
    content_contains=["屋根の修理の見積もりをお願いします", "瓦が数枚"])

# 02 EUC-JP: Q subject, quoted-printable body
d = date_hdr(2, 10, 2, "+0900")
body = ("雨漏りがひどいので、至急見に来ていただけますか。\n"
        "二階の寝室の天井にしみが出ています。\n\n鈴木 花子\n")
add(2, "euc-jp",
    entity(std(2, ew("鈴木 花子", "EUC-JP", "Q") + " <suzuki.hanako@example.jp>",
               ew("雨漏りの件", "EUC-JP", "Q"), d)
           + text_headers("EUC-JP", "quoted-printable"), qp(body.encode("euc_jp"))),
    from_="suzuki.hanako@example.jp", from_name="鈴木 花子", subject="雨漏りの件", date=d,
    content_contains=["雨漏りがひどい", "天井にしみ"])

# 03 ISO-2022-JP: B subject, 7bit body (the classic Japanese mail form)
d = date_hdr(2, 11, 30, "+0900")
body = ("屋根の修理の見積もりをお願いします。\n"
        "築二十年の木造二階建てです。\n"
        "写真が必要でしたらお送りします。\n\n佐藤\n")
add(3, "iso-2022-jp",
    entity(std(3, ew("佐藤 健", "ISO-2022-JP", codec="iso2022_jp") + " <sato.ken@example.jp>",
               ew("見積もり依頼（屋根の修理）", "ISO-2022-JP", codec="iso2022_jp"), d)
           + text_headers("ISO-2022-JP", "7bit"), body.encode("iso2022_jp")),
    from_="sato.ken@example.jp", from_name="佐藤 健", subject="見積もり依頼（屋根の修理）",
    date=d, content_contains=["屋根の修理の見積もりをお願いします", "築二十年"])

# 04 Big5: B subject, base64 body
d = date_hdr(3, 8, 45, "+0800")
body = "您好，\n\n屋頂漏水，請盡快報價。\n昨晚下大雨，客廳天花板一直滴水。\n\n陳先生\n"
add(4, "big5",
    entity(std(4, ew("陳先生", "Big5") + " <chen.wen@example.tw>", ew("屋頂漏水", "Big5"), d)
           + text_headers("Big5", "base64"), b64(body.encode("big5"))),
    from_="chen.wen@example.tw", from_name="陳先生", subject="屋頂漏水", date=d,
    content_contains=["屋頂漏水，請盡快報價", "客廳天花板"])

# 05 GBK: Q subject, 8bit body with a character outside GB2312 (喆)
d = date_hdr(3, 9, 5, "+0800")
body = ("你好，\n\n屋顶漏水，请尽快报价。\n"
        "我们的房子是两层楼，屋顶面积大约一百二十平方米。\n\n联系人：王喆\n")
add(5, "gbk",
    entity(std(5, ew("王喆", "GBK", "Q") + " <wang.zhe@example.cn>", ew("屋顶维修报价", "GBK", "Q"), d)
           + text_headers("GBK", "8bit"), body.encode("gbk")),
    from_="wang.zhe@example.cn", from_name="王喆", subject="屋顶维修报价", date=d,
    content_contains=["屋顶漏水，请尽快报价", "一百二十平方米", "王喆"])

# 06 GB2312: B subject, base64 body
d = date_hdr(3, 13, 20, "+0800")
body = "屋顶漏水，请尽快报价。\n下雨的时候厨房一直漏水。\n\n李娜\n"
add(6, "gb2312",
    entity(std(6, ew("李娜", "GB2312") + " <li.na@example.cn>", ew("屋顶漏水", "GB2312"), d)
           + text_headers("GB2312", "base64"), b64(body.encode("gb2312"))),
    from_="li.na@example.cn", from_name="李娜", subject="屋顶漏水", date=d,
    content_contains=["屋顶漏水，请尽快报价", "厨房一直漏水"])

# 07 GB18030: Q subject and QP body, both with a four-byte GB18030 sequence (🏠)
d = date_hdr(3, 15, 0, "+0800")
body = "屋顶漏水，请尽快报价。\n最好这周六上门查看🏠。\n\n张伟\n"
assert len("🏠".encode("gb18030")) == 4
add(7, "gb18030",
    entity(std(7, ew("张伟", "GB18030", "Q") + " <zhang.wei@example.cn>",
               ew("周六上门检查🏠", "GB18030", "Q"), d)
           + text_headers("GB18030", "quoted-printable"), qp(body.encode("gb18030"))),
    from_="zhang.wei@example.cn", from_name="张伟", subject="周六上门检查🏠", date=d,
    content_contains=["屋顶漏水，请尽快报价", "这周六上门查看", "🏠"])

# 08 EUC-KR: B subject, QP body
d = date_hdr(4, 10, 10, "+0900")
body = ("안녕하세요,\n\n지붕 수리 견적 부탁드립니다.\n"
        "지난주 태풍으로 기와가 몇 장 떨어졌습니다.\n\n김민준 드림\n")
add(8, "euc-kr",
    entity(std(8, ew("김민준", "EUC-KR") + " <kim.minjun@example.kr>", ew("지붕 수리 견적", "EUC-KR"), d)
           + text_headers("EUC-KR", "quoted-printable"), qp(body.encode("euc_kr"))),
    from_="kim.minjun@example.kr", from_name="김민준", subject="지붕 수리 견적", date=d,
    content_contains=["지붕 수리 견적 부탁드립니다", "기와가 몇 장"])

# 09 ISO-8859-1: Q subject and name, QP body (French)
d = date_hdr(4, 14, 30, "+0100")
body = ("Bonjour,\n\nNotre toit a été endommagé après la tempête de samedi. "
        "Pourriez-vous nous envoyer un devis pour la réparation ?\n\nCordialement,\nRenée Dupré\n")
add(9, "iso-8859-1",
    entity(std(9, ew("Renée Dupré", "ISO-8859-1", "Q") + " <renee.dupre@example.fr>",
               ew("Toit endommagé après la tempête", "ISO-8859-1", "Q"), d)
           + text_headers("ISO-8859-1", "quoted-printable"), qp(body.encode("latin-1"))),
    from_="renee.dupre@example.fr", from_name="Renée Dupré",
    subject="Toit endommagé après la tempête", date=d,
    content_contains=["toit a été endommagé", "devis pour la réparation"])

# 10 ISO-8859-2: Q subject, 8bit body (Polish)
d = date_hdr(4, 16, 45, "+0100")
body = ("Dzień dobry,\n\nDach przecieka nad łazienką, proszę o wycenę naprawy.\n"
        "Możemy się spotkać w środę po południu.\n\nŁukasz Wójcik\n")
add(10, "iso-8859-2",
    entity(std(10, ew("Łukasz Wójcik", "ISO-8859-2", "Q") + " <lukasz.wojcik@example.pl>",
                ew("Prośba o wycenę naprawy dachu", "ISO-8859-2", "Q"), d)
           + text_headers("ISO-8859-2", "8bit"), body.encode("iso8859_2")),
    from_="lukasz.wojcik@example.pl", from_name="Łukasz Wójcik",
    subject="Prośba o wycenę naprawy dachu", date=d,
    content_contains=["Dach przecieka nad łazienką", "proszę o wycenę", "w środę"])

# 11 windows-1252: € and curly quotes (0x80-0x9F range), Q subject, QP body
d = date_hdr(5, 8, 0, "-0500")
body = ("Hi,\n\nWe got a quote for €12,000 for a “new roof” from another company – "
        "can you beat that?\nThe house is a 1950’s ranch, about 1,800 sq ft.\n\nThanks,\nMike\n")
add(11, "windows-1252",
    entity(std(11, ew("Mike O’Brien", "windows-1252", "Q", codec="cp1252") + " <mike.obrien@example.com>",
                ew("Estimate for “new roof” – €12,000?", "windows-1252", "Q", codec="cp1252"), d)
           + text_headers("windows-1252", "quoted-printable"), qp(body.encode("cp1252"))),
    from_="mike.obrien@example.com", from_name="Mike O’Brien",
    subject="Estimate for “new roof” – €12,000?", date=d,
    content_contains=["€12,000", "“new roof”", "1950’s ranch"])

# 12 KOI8-R: B subject, 8bit body
d = date_hdr(5, 12, 0, "+0300")
body = ("Здравствуйте!\n\nКрыша протекает над кухней, нужен срочный ремонт.\n"
        "Сколько будет стоить замена кровли?\n\nИван\n")
add(12, "koi8-r",
    entity(std(12, ew("Иван Иванов", "KOI8-R") + " <ivan.ivanov@example.ru>",
                ew("Крыша протекает", "KOI8-R"), d)
           + text_headers("KOI8-R", "8bit"), body.encode("koi8_r")),
    from_="ivan.ivanov@example.ru", from_name="Иван Иванов", subject="Крыша протекает", date=d,
    content_contains=["Крыша протекает над кухней", "замена кровли"])

# 13 UTF-8: B subject, base64 body, raw (RFC 6532) UTF-8 display name, mixed-case address
d = date_hdr(5, 17, 25, "+0100")
body = ("Hello,\n\nWe need a roof repair — Dachreparatur — 屋根の修理 — ремонт крыши 🏠.\n"
        "The ridge tiles are cracked.\n\nZoë\n")
add(13, "utf-8",
    entity(std(13, '"Zoë Müller-Østergaard" <Zoe.Muller@Example.COM>',
                ew("Roof repair / Dachreparatur / 屋根の修理 🏠", "UTF-8"), d)
           + text_headers("utf-8", "base64"), b64(body.encode("utf-8"))),
    from_="zoe.muller@example.com", from_name="Zoë Müller-Østergaard",
    subject="Roof repair / Dachreparatur / 屋根の修理 🏠", date=d,
    content_contains=["ridge tiles are cracked", "ремонт крыши 🏠", "Dachreparatur", "屋根の修理"])

# --------------------------------------------------------------------------- broken / odd MIME

# 14 LF-only line ends, multipart/alternative
d = date_hdr(6, 9, 0, "-0800")
parts = [
    entity(['Content-Type: text/plain; charset="utf-8"', "Content-Transfer-Encoding: 7bit"],
           "Hi, could you also clean the gutters when you repair the downspout?\n"
           "The downspout is on the east corner of the house.\n\nThanks,\nDana\n"),
    entity(['Content-Type: text/html; charset="utf-8"', "Content-Transfer-Encoding: 7bit"],
           "<div>Hi, could you also clean the gutters when you repair the downspout?</div>\n"
           "<div>The downspout is on the east corner of the house.</div>\n"
           "<div><br></div><div>Thanks,<br>Dana</div>\n"),
]
add(14, "lf-only",
    entity(std(14, "Dana Lee <dana.lee@example.com>", "Gutter cleaning and repair", d)
           + ["MIME-Version: 1.0", 'Content-Type: multipart/alternative; boundary="lf-only-b1"'],
           multipart("lf-only-b1", parts)),
    eol="lf", from_="dana.lee@example.com", from_name="Dana Lee",
    subject="Gutter cleaning and repair", date=d,
    content_contains=["clean the gutters", "repair the downspout", "east corner"],
    content_excludes=["<div>", "lf-only-b1"])

# 15 multipart without MIME-Version
d = date_hdr(6, 11, 11, "+0100")
parts = [
    entity(['Content-Type: text/plain; charset="utf-8"', "Content-Transfer-Encoding: 8bit"],
           "Hello, we need a quote for new copper gutters on a two storey house.\n\n"
           "Viele Grüße\nJürgen Becker\n".encode("utf-8")),
]
add(15, "no-mime-version",
    entity(std(15, ew("Jürgen Becker", "utf-8", "Q") + " <juergen.becker@example.de>",
                "Quote for copper gutters", d)
           + ['Content-Type: multipart/mixed; boundary="b1-nomime"'],
           multipart("b1-nomime", parts, preamble="This is a multi-part message in MIME format.")),
    from_="juergen.becker@example.de", from_name="Jürgen Becker",
    subject="Quote for copper gutters", date=d,
    content_contains=["new copper gutters", "Grüße"],
    content_excludes=["b1-nomime", "Content-Type", "Content-Transfer-Encoding",
                      "multi-part message in MIME format"])

# 16 multipart whose final boundary is missing
d = date_hdr(6, 14, 5, "-0600")
parts = [
    entity(['Content-Type: text/plain; charset="us-ascii"'],
           "The leak is above the front door, it drips when it rains hard.\n"),
    entity(['Content-Type: text/plain; charset="us-ascii"'],
           "Also, the fascia board on the north side is rotten and needs replacing.\n"),
]
add(16, "missing-final-boundary",
    entity(std(16, "Ray Gomez <ray.gomez@example.com>", "Leak above front door", d)
           + ["MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="unterminated-42"'],
           multipart("unterminated-42", parts, close=False)),
    from_="ray.gomez@example.com", from_name="Ray Gomez", subject="Leak above front door", date=d,
    content_contains=["above the front door", "fascia board on the north side"],
    content_excludes=["unterminated-42", "Content-Type"])

# 17 multipart whose boundary never occurs in the body
d = date_hdr(7, 8, 30, "-0500")
add(17, "unused-boundary",
    entity(std(17, "Sam Okafor <sam.okafor@example.com>", "Flat roof blister", d)
           + ["MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="----=_Part_0_never_used"'],
           "Hello,\n\nPlease send someone to look at the flat roof over the garage.\n"
           "It has a blister the size of a dinner plate.\n\nSam\n"),
    from_="sam.okafor@example.com", from_name="Sam Okafor", subject="Flat roof blister", date=d,
    content_contains=["flat roof over the garage", "dinner plate"],
    note="The declared boundary never appears: the whole body is the lead's text and must not be lost.")

# 18 wrong / sloppy Content-Transfer-Encoding
d = date_hdr(7, 10, 40, "+0100")
b64_no_pad = base64.b64encode("Telefon 0171 5551234, am besten vormittags.\n".encode()).rstrip(b"=")
b64_sloppy = b"  " + b64_no_pad[:20] + b" \n" + b64_no_pad[20:44] + b"\t\n" + b64_no_pad[44:] + b"\n"
parts = [
    # declared 7bit, carries 8-bit UTF-8
    entity(['Content-Type: text/plain; charset="utf-8"', "Content-Transfer-Encoding: 7bit"],
           "Die Dachrinne ist kaputt, bitte um Rückruf.\n".encode("utf-8")),
    # base64 without padding, with stray whitespace
    entity(['Content-Type: text/plain; charset="utf-8"', "Content-Transfer-Encoding: base64"],
           b64_sloppy),
    # quoted-printable with lower-case hex digits
    entity(['Content-Type: text/plain; charset="utf-8"', "Content-Transfer-Encoding: Quoted-Printable"],
           b"Viele Gr=c3=bc=c3=9fe aus K=c3=b6ln,=\nKlaus Weber\n"),
]
add(18, "wrong-transfer-encoding",
    entity(std(18, "Klaus Weber <k.weber@example.de>", "Dachrinne kaputt", d)
           + ["MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="cte-mix"'],
           multipart("cte-mix", parts)),
    from_="k.weber@example.de", from_name="Klaus Weber", subject="Dachrinne kaputt", date=d,
    content_contains=["bitte um Rückruf", "am besten vormittags", "Viele Grüße", "Köln"],
    content_excludes=["=c3", "VGVsZWZvbi"])

# 19 unknown charset name (ASCII-compatible content)
d = date_hdr(7, 13, 13, "-0700")
add(19, "unknown-charset",
    entity(std(19, "Pat Quinn <pat.quinn@example.com>", "=?x-unknown?Q?Gutter_quote?=", d)
           + text_headers("x-unknown", "8bit"),
           b"Hi, I would like a quote for gutter replacement on a ranch house.\n"
           b"About 140 feet of gutter in total.\n\nPat (caf\xe9 owner)\n"),
    from_="pat.quinn@example.com", from_name="Pat Quinn", subject="Gutter quote", date=d,
    content_contains=["quote for gutter replacement", "140 feet of gutter"])

# 20 header lines folded badly (but still legally, RFC 5322 obsolete folding)
d = date_hdr(10, 8, 1, "-0500")
add(20, "bad-folding",
    entity([
        "Received: from mail.example.com (mail.example.com [192.0.2.10])\n"
        "\tby mx.acme-roofing.test with ESMTPS id 4F2A1\n"
        "\tfor <office@acme-roofing.test>; " + d,
        'From: "Lee,\n Dana" <dana.lee@example.com>',   # fold inside the quoted display name
        "To:\n office@acme-roofing.test",              # empty first line
        "X-Mailer: RoofMailer 1.0\n \n\t(build 7)",     # a continuation line of only whitespace
        "Subject: =?UTF-8?Q?Skylight_flashing_?=\n =?UTF-8?Q?question?=",
        "Date:\n " + d,
        "Message-ID:\n\t<%s>" % mid(20),
        "MIME-Version: 1.0",
        'Content-Type: text/plain;\n\tcharset="utf-8";\n format=fixed',
    ], "Is the flashing around the skylight covered by the warranty?\n"
       "It was installed by your crew in 2024.\n\nDana\n"),
    from_="dana.lee@example.com", from_name="Lee, Dana", subject="Skylight flashing question",
    date=d, content_contains=["flashing around the skylight", "covered by the warranty"],
    content_excludes=["X-Mailer", "RoofMailer", "build 7"])

# 21 body starts right after the headers, no blank line
d = date_hdr(10, 9, 30, "-0500")
raw = "\n".join(std(21, "Dana Lee <dana.lee@example.com>", None, d)
                + ["MIME-Version: 1.0", 'Content-Type: text/plain; charset="us-ascii"',
                   "Subject: Gutter estimate",
                   "Hi this is Dana please call me back about the gutters",
                   "The best time is after five in the evening",
                   "Dana", ""])
add(21, "body-without-blank-line", raw.encode("ascii"),
    from_="dana.lee@example.com", from_name="Dana Lee", subject="Gutter estimate", date=d,
    content_contains=["call me back about the gutters", "after five in the evening"])

# 22 a 20,000-character Subject on one line
d = date_hdr(10, 11, 0, "-0500")
long_subject = "Roof inspection request"
while len(long_subject) < 20000:
    long_subject += " please call back"
long_subject = long_subject[:20000]
add(22, "long-subject",
    entity(std(22, "Dana Lee <dana.lee@example.com>", long_subject, d)
           + text_headers("us-ascii", "7bit"),
           "Sorry about the subject line, my phone app glitched.\n"
           "I would like a roof inspection before we sell the house.\n"),
    from_="dana.lee@example.com", from_name="Dana Lee", subject="__omit__",
    subject_prefix="Roof inspection request please call back", date=d,
    content_contains=["roof inspection before we sell the house"])

# 23 a 20,000+ character References header on one line
d = date_hdr(10, 12, 0, "-0500")
refs = ["<thread-%04d@acme-roofing.test>" % i for i in range(1, 651)]
ref_line = "References: " + " ".join(refs)
assert len(ref_line) > 20000
add(23, "long-references",
    entity(std(23, "Dana Lee <dana.lee@example.com>", "Re: Roof inspection", d)
           + ["In-Reply-To: " + refs[-1], ref_line] + text_headers("us-ascii", "7bit"),
           "Yes, the inspection on Monday at noon is confirmed.\n"),
    from_="dana.lee@example.com", from_name="Dana Lee", subject="Re: Roof inspection", date=d,
    in_reply_to="thread-0650@acme-roofing.test", references_count=650,
    content_contains=["inspection on Monday at noon"])

# 24 multipart nested 35 levels deep
d = date_hdr(10, 15, 30, "-0500")
DEPTH = 35
inner = entity(['Content-Type: text/plain; charset="us-ascii"'],
               "Deep inside the nest: please check the chimney flashing too.\n")
for level in range(DEPTH, 0, -1):
    b = "nest-%02d" % level
    parts = [inner]
    if level == 1:
        parts = [entity(['Content-Type: text/plain; charset="us-ascii"'],
                        "Outer note: the roof over the porch sags a little.\n"), inner]
    inner = entity(['Content-Type: multipart/mixed; boundary="%s"' % b], multipart(b, parts))
top_headers, top_body = inner.split(b"\n\n", 1)
add(24, "deep-nesting",
    entity(std(24, "Jordan Blake <jordan.blake@example.com>", "Porch roof and chimney", d)
           + ["MIME-Version: 1.0", top_headers.decode()], top_body),
    from_="jordan.blake@example.com", from_name="Jordan Blake", subject="Porch roof and chimney",
    date=d, content_contains=["roof over the porch sags", "check the chimney flashing"],
    content_excludes=["nest-", "Content-Type"])

# 25 raw NUL bytes in headers and body
d = date_hdr(11, 8, 20, "-0500")
add(25, "nul-raw",
    entity(["From: Dana\x00 Lee <dana.lee@example.com>", TO_OFFICE,
            "Subject: Leaking skylight\x00 in the kitchen", "Date: " + d,
            "Message-ID: <%s>" % mid(25), "X-Junk: before\x00after"]
           + text_headers("us-ascii", "8bit"),
           b"Can you come and fix the leak\x00 tomorrow morning?\nThe bucket is almost full.\x00\n"),
    from_="dana.lee@example.com", subject="__omit__", subject_prefix="Leaking skylight", date=d,
    content_contains=["fix the leak", "tomorrow morning", "bucket is almost full"],
    content_excludes=["\x00"])

# 26 =00 in quoted-printable
d = date_hdr(11, 9, 40, "-0500")
add(26, "nul-quoted-printable",
    entity(std(26, "Dana Lee <dana.lee@example.com>", "Loose gutter", d)
           + text_headers("us-ascii", "quoted-printable"),
           b"The gutter is loose=00 near the porch, it bangs in the wind.=\n Please take a look.\n"),
    from_="dana.lee@example.com", from_name="Dana Lee", subject="Loose gutter", date=d,
    content_contains=["gutter is loose", "near the porch", "bangs in the wind"],
    content_excludes=["\x00", "=00"])

# 27 NUL inside a base64-decoded body
d = date_hdr(11, 10, 50, "-0500")
add(27, "nul-base64",
    entity(std(27, "Dana Lee <dana.lee@example.com>", "Chimney leak", d)
           + text_headers("utf-8", "base64"),
           b64(b"Water comes in\x00 through the chimney when it rains.\nCan you seal it?\n")),
    from_="dana.lee@example.com", from_name="Dana Lee", subject="Chimney leak", date=d,
    content_contains=["Water comes in", "through the chimney", "Can you seal it"],
    content_excludes=["\x00"])

# --------------------------------------------------------------------------- missing headers

# 28 no Message-ID
d = date_hdr(12, 8, 0, "-0500")
add(28, "no-message-id",
    entity(std(28, "Alex Chen <alex.chen@example.com>", "Shingles blown off", d, message_id=False)
           + text_headers("us-ascii", "7bit"),
           "A few shingles blew off in last night's storm. Can you replace them this week?\n"),
    from_="alex.chen@example.com", from_name="Alex Chen", subject="Shingles blown off", date=d,
    has_message_id=False, content_contains=["shingles blew off", "replace them this week"])

# 29 no Date
add(29, "no-date",
    entity(std(29, "Maria Santos <maria.santos@example.com>", "Moss on the roof", None)
           + text_headers("us-ascii", "7bit"),
           "Do you also remove moss? The north side of our roof is covered in it.\n"),
    from_="maria.santos@example.com", from_name="Maria Santos", subject="Moss on the roof",
    date=None, content_contains=["remove moss", "north side of our roof"])

# 30 no From, only Sender
d = date_hdr(12, 10, 0, "-0500")
add(30, "sender-only",
    entity(["Sender: Pat Rivera <pat.rivera@example.com>"]
           + std(30, None, "Metal roof question", d) + text_headers("us-ascii", "7bit"),
           "Do you install standing seam metal roofs? We are thinking about switching.\n"),
    from_="pat.rivera@example.com", from_name="Pat Rivera", subject="Metal roof question", date=d,
    content_contains=["standing seam metal roofs"])

# 31 no From, only Reply-To
d = date_hdr(12, 11, 0, "-0500")
add(31, "reply-to-only",
    entity(["Reply-To: Chris Novak <Chris.Novak@example.com>"]
           + std(31, None, "Attic ventilation", d) + text_headers("us-ascii", "7bit"),
           "Our attic gets very hot. Can you add ridge vents when you redo the roof?\n"),
    from_="chris.novak@example.com", from_name="Chris Novak", subject="Attic ventilation", date=d,
    content_contains=["add ridge vents"])

# 32 no From, no Sender, no Reply-To: no usable sender -> quarantine
d = date_hdr(12, 12, 0, "-0500")
add(32, "no-sender-quarantine",
    entity(std(32, None, "Hail damage", d) + text_headers("us-ascii", "7bit"),
           "We had hail yesterday and I think the roof is damaged. Please call.\n"),
    quarantine=True, from_=None, subject="Hail damage", date=d,
    content_contains=["roof is damaged"])

# 33 From with a display name but no address -> no usable sender -> quarantine
d = date_hdr(12, 13, 0, "-0500")
add(33, "from-without-address-quarantine",
    entity(std(33, "Roof Leak Inquiry", "Website contact form", d) + text_headers("us-ascii", "7bit"),
           "Name Jamie\nMessage My roof leaks in the laundry room, please get in touch.\n"),
    quarantine=True, from_=None, subject="Website contact form", date=d,
    content_contains=["leaks in the laundry room"])

# 34 no Subject
d = date_hdr(13, 8, 0, "-0500")
add(34, "no-subject",
    entity(std(34, "Taylor Brooks <taylor.brooks@example.com>", None, d)
           + text_headers("us-ascii", "7bit"),
           "Hi, how much would it cost to replace the flashing around two skylights?\n"),
    from_="taylor.brooks@example.com", from_name="Taylor Brooks", subject=None, date=d,
    content_contains=["flashing around two skylights"])

# 35 no To
d = date_hdr(13, 9, 0, "-0500")
add(35, "no-to",
    entity(std(35, "Morgan Reed <morgan.reed@example.com>", "Roof cleaning", d, to=None)
           + text_headers("us-ascii", "7bit"),
           "Do you offer roof cleaning? The tiles have turned black.\n"),
    from_="morgan.reed@example.com", from_name="Morgan Reed", subject="Roof cleaning", date=d,
    to=(), content_contains=["offer roof cleaning", "turned black"])

# --------------------------------------------------------------------------- attachments

PNG = png_bytes()
PDF = pdf_bytes()

# 36 PDF and PNG attachments
d = date_hdr(13, 10, 0, "-0500")
parts = [
    entity(['Content-Type: text/plain; charset="utf-8"', "Content-Transfer-Encoding: 7bit"],
           "Attached are a photo of the damage and the letter from our insurance.\n"),
    entity(['Content-Type: application/pdf; name="insurance-letter.pdf"',
            'Content-Disposition: attachment; filename="insurance-letter.pdf"',
            "Content-Transfer-Encoding: base64"], b64(PDF)),
    entity(['Content-Type: image/png; name="roof-photo.png"',
            'Content-Disposition: attachment; filename="roof-photo.png"',
            "Content-Transfer-Encoding: base64"], b64(PNG)),
]
add(36, "pdf-png-attachments",
    entity(std(36, "Dana Lee <dana.lee@example.com>", "Photos and insurance letter", d)
           + ["MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="att-36"'],
           multipart("att-36", parts)),
    from_="dana.lee@example.com", from_name="Dana Lee", subject="Photos and insurance letter",
    date=d, content_contains=["photo of the damage", "letter from our insurance"],
    content_excludes=["JVBERi0", "iVBORw0KGgo", "%PDF"],
    attachments=2, attachment_filenames=["insurance-letter.pdf", "roof-photo.png"])

# 37 inline image with Content-ID (Apple Mail layout: alternative > related)
d = date_hdr(13, 11, 0, "-0500")
related = multipart("rel-37", [
    entity(['Content-Type: text/html; charset="utf-8"', "Content-Transfer-Encoding: 7bit"],
           '<html><body><div>Here is the spot where the water comes in:</div>'
           '<div><img src="cid:roofphoto.37@example.com" alt="roof"></div>'
           '<div>It is right above the bay window.</div></body></html>\n'),
    entity(['Content-Type: image/png; name="IMG_0042.png"',
            'Content-Disposition: inline; filename="IMG_0042.png"',
            "Content-ID: <roofphoto.37@example.com>",
            "Content-Transfer-Encoding: base64"], b64(PNG)),
])
alt = multipart("alt-37", [
    entity(['Content-Type: text/plain; charset="utf-8"', "Content-Transfer-Encoding: 7bit"],
           "Here is the spot where the water comes in:\n\n[image: roof]\n\n"
           "It is right above the bay window.\n"),
    entity(['Content-Type: multipart/related; type="text/html"; boundary="rel-37"'], related),
])
add(37, "inline-image-cid",
    entity(std(37, "Olivia Hart <olivia.hart@example.com>", "Where the water comes in", d)
           + ["MIME-Version: 1.0", 'Content-Type: multipart/alternative; boundary="alt-37"'], alt),
    from_="olivia.hart@example.com", from_name="Olivia Hart", subject="Where the water comes in",
    date=d, content_contains=["where the water comes in", "above the bay window"],
    content_excludes=["iVBORw0KGgo"], attachments=1, attachment_filenames=["IMG_0042.png"])

# 38 RFC 2231 encoded and continued file names
d = date_hdr(13, 12, 0, "+0100")
parts = [
    entity(['Content-Type: text/plain; charset="utf-8"', "Content-Transfer-Encoding: 7bit"],
           "Photos of the damage and the inspection report are attached.\n"),
    entity(["Content-Type: image/png",
            "Content-Disposition: attachment;\n filename*=UTF-8''Dachschaden%20M%C3%BCller.png",
            "Content-Transfer-Encoding: base64"], b64(PNG)),
    entity(["Content-Type: image/png",
            "Content-Disposition: attachment;\n filename*0*=UTF-8'ja'%E5%B1%8B%E6%A0%B9%E3%81%AE;\n"
            " filename*1*=%E5%86%99%E7%9C%9F.png",
            "Content-Transfer-Encoding: base64"], b64(PNG)),
    entity(['Content-Type: application/pdf;\n name="=?UTF-8?Q?Fa=C3=A7ade_=C3=A9t=C3=A9.pdf?="',
            "Content-Disposition: attachment;\n filename*=iso-8859-1'fr'Fa%E7ade%20%E9t%E9.pdf",
            "Content-Transfer-Encoding: base64"], b64(PDF)),
    entity(["Content-Type: application/pdf",
            'Content-Disposition: attachment;\n filename*0="roof-inspection-report-";\n'
            ' filename*1="2026-03-13.pdf"',
            "Content-Transfer-Encoding: base64"], b64(PDF)),
]
add(38, "rfc2231-filenames",
    entity(std(38, "Stefan Mueller <stefan.mueller@example.de>",
                "Fotos vom Dachschaden", d)
           + ["MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="att-38"'],
           multipart("att-38", parts)),
    from_="stefan.mueller@example.de", from_name="Stefan Mueller", subject="Fotos vom Dachschaden",
    date=d, content_contains=["inspection report are attached"],
    attachments=4, attachment_filenames=["Dachschaden Müller.png", "屋根の写真.png",
                                         "Façade été.pdf", "roof-inspection-report-2026-03-13.pdf"])

# --------------------------------------------------------------------------- text layout

# 39 multipart/mixed with several inline text/plain parts
d = date_hdr(14, 8, 0, "-0500")
parts = [
    entity(['Content-Type: text/plain; charset="us-ascii"'],
           "First, the gutters on the back of the house overflow.\n"),
    entity(['Content-Type: text/plain; charset="utf-8"', "Content-Disposition: inline",
            "Content-Transfer-Encoding: quoted-printable"],
           qp("Second, the skylight in the hallway fogs up – condensation?\n".encode("utf-8"))),
    entity(['Content-Type: text/plain; charset="iso-8859-1"', "Content-Disposition: inline",
            "Content-Transfer-Encoding: 8bit"],
           "Third, the chimney cap is missing. Merci beaucoup, André\n".encode("latin-1")),
]
add(39, "multiple-inline-text",
    entity(std(39, "Andre Moreau <andre.moreau@example.com>", "Three things", d)
           + ["MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="three-parts"'],
           multipart("three-parts", parts)),
    from_="andre.moreau@example.com", from_name="Andre Moreau", subject="Three things", date=d,
    content_contains=["gutters on the back of the house", "skylight in the hallway fogs up",
                      "chimney cap is missing", "André"],
    attachments=0)

HTML_DOC = """<!DOCTYPE html>
<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>SECRET-TITLE</title>
<style type="text/css">
body { font-family: Calibri, sans-serif; font-size: 11pt; }
.SECRETCSS { color: #ff0000; margin: 0 0 12px 0; }
</style>
<!--[if gte mso 9]><xml><o:OfficeDocumentSettings>SECRET-COMMENT</o:OfficeDocumentSettings></xml><![endif]-->
</head>
<body>
%s
</body>
</html>
"""

# 40 HTML only, with head/title/style/comment that must not become text
d = date_hdr(14, 9, 0, "-0500")
add(40, "html-only",
    entity(std(40, "Riley Adams <riley.adams@example.com>", "Leak near the chimney", d)
           + ["MIME-Version: 1.0", 'Content-Type: text/html; charset="utf-8"',
              "Content-Transfer-Encoding: quoted-printable"],
           qp((HTML_DOC % ('<p class="SECRETCSS">Hello,</p>\n'
                           "<p>Our roof is leaking near the chimney since the storm.</p>\n"
                           "<p>We manage the building for R&amp;R Properties &ndash; "
                           "please send the invoice to us.</p>\n"
                           "<p>Thanks,<br>Riley</p>")).encode("utf-8"))),
    from_="riley.adams@example.com", from_name="Riley Adams", subject="Leak near the chimney",
    date=d, content_contains=["roof is leaking near the chimney", "R&R Properties",
                              "send the invoice"],
    content_excludes=["SECRET-TITLE", "SECRETCSS", "SECRET-COMMENT", "font-family", "<p",
                      "&amp;", "DOCTYPE"])

# 41 multipart/alternative text + html
d = date_hdr(14, 10, 0, "-0500")
parts = [
    entity(['Content-Type: text/plain; charset="utf-8"', "Content-Transfer-Encoding: quoted-printable"],
           qp("Hi,\n\nCould you replace the flashing on the dormer? It is peeling away.\n\nCasey\n"
              .encode("utf-8"))),
    entity(['Content-Type: text/html; charset="utf-8"', "Content-Transfer-Encoding: quoted-printable"],
           qp((HTML_DOC % ("<p>Hi,</p><p>Could you replace the flashing on the dormer? "
                           "It is peeling away.</p><p>Casey</p>")).encode("utf-8"))),
]
add(41, "alternative",
    entity(std(41, "Casey Nguyen <casey.nguyen@example.com>", "Dormer flashing", d)
           + ["MIME-Version: 1.0", 'Content-Type: multipart/alternative; boundary="alt-41"'],
           multipart("alt-41", parts)),
    from_="casey.nguyen@example.com", from_name="Casey Nguyen", subject="Dormer flashing", date=d,
    content_contains=["replace the flashing on the dormer", "peeling away"],
    content_excludes=["SECRET-TITLE", "SECRETCSS", "font-family", "<p>"])

# --------------------------------------------------------------------------- replies


def simple_reply(nn, slug, from_hdr, from_addr, from_name, subject, d, body_text, *,
                 charset="utf-8", cte="quoted-printable", codec="utf-8", subject_enc=None,
                 contains, excludes, text_contains=QUOTE_TEXT, extra_headers=(),
                 irt=True, refs=True, ctype_extra=""):
    data = body_text.encode(codec)
    if cte == "quoted-printable":
        data = qp(data)
    elif cte == "base64":
        data = b64(data)
    subj_hdr = subject if subject_enc is None else ew(subject, subject_enc[0], subject_enc[1],
                                                     codec=subject_enc[2])
    add(nn, slug,
        entity(std(nn, from_hdr, subj_hdr, d) + reply_headers(nn, irt, refs) + list(extra_headers)
               + text_headers(charset, cte, ctype_extra), data),
        from_=from_addr, from_name=from_name, subject=subject, date=d,
        in_reply_to=acme_ref(nn) if irt else None,
        references_count=(1 if refs else 0),
        content_contains=contains, content_excludes=excludes, text_contains=text_contains)


# 42 Gmail, attribution on one line, multipart/alternative
d = date_hdr(16, 9, 12, "-0500")
new = "Thursday works for us. Please use the side gate, the dog will be inside."
attr = "On Mon, Mar 2, 2026 at 9:00 AM Acme Roofing <office@acme-roofing.test> wrote:"
text = new + "\n\n" + attr + "\n\n" + quoted(acme_quote("Dana")) + "\n"
html_part = ('<div dir="ltr">%s</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
             'On Mon, Mar 2, 2026 at 9:00 AM Acme Roofing &lt;<a href="mailto:office@acme-roofing.test">'
             'office@acme-roofing.test</a>&gt; wrote:<br></div><blockquote class="gmail_quote" '
             'style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">'
             '%s</blockquote></div>\n') % (new, "<br>".join(html.escape(l) for l in acme_quote("Dana")))
parts = [
    entity(['Content-Type: text/plain; charset="UTF-8"'], text),
    entity(['Content-Type: text/html; charset="UTF-8"'], html_part),
]
add(42, "reply-gmail",
    entity(std(42, "Dana Lee <dana.lee@example.com>", "Re: Your roof estimate", d)
           + reply_headers(42) + ["MIME-Version: 1.0",
                                  'Content-Type: multipart/alternative; boundary="000000000000a1b2c3d4e5f6"'],
           multipart("000000000000a1b2c3d4e5f6", parts)),
    from_="dana.lee@example.com", from_name="Dana Lee", subject="Re: Your roof estimate", date=d,
    in_reply_to=acme_ref(42), references_count=1,
    content_contains=["Thursday works for us", "side gate"],
    content_excludes=["Acme Roofing <office@acme-roofing.test> wrote"] + QUOTE_EXCLUDES,
    text_contains=QUOTE_TEXT)

# 43 Gmail, attribution wrapped over two lines
d = date_hdr(16, 10, 3, "-0500")
text = ("Yes, please go ahead with the full replacement. We picked the charcoal shingles.\n\n"
        "On Mon, Mar 2, 2026 at 9:00 AM Acme Roofing <\noffice@acme-roofing.test> wrote:\n\n"
        + quoted(acme_quote("Marcus")) + "\n")
simple_reply(43, "reply-gmail-wrapped", "Marcus Bell <marcus.bell@example.com>",
             "marcus.bell@example.com", "Marcus Bell", "Re: Your roof estimate", d, text,
             cte="7bit", contains=["go ahead with the full replacement", "charcoal shingles"],
             excludes=["office@acme-roofing.test", "wrote:"] + QUOTE_EXCLUDES)

# 44 Apple Mail (iPhone): signature, then the attribution itself quoted, U+202F before AM
d = date_hdr(16, 11, 47, "-0500")
text = ("Sounds good, see you Thursday at 8. The ladder can go on the driveway.\n\n"
        "Sent from my iPhone\n\n"
        + quoted(["On Mar 2, 2026, at 9:00\u202fAM, Acme Roofing <office@acme-roofing.test> wrote:", ""]
                 + acme_quote("Olivia")) + "\n")
simple_reply(44, "reply-apple-mail", "Olivia Hart <olivia.hart@example.com>",
             "olivia.hart@example.com", "Olivia Hart", "Re: Your roof estimate", d, text,
             extra_headers=["X-Mailer: iPhone Mail (21D61)"],
             contains=["see you Thursday at 8", "ladder can go on the driveway"],
             excludes=["Acme Roofing <office@acme-roofing.test> wrote"] + QUOTE_EXCLUDES)

# 45 Outlook desktop, "-----Original Message-----", multipart/alternative
d = date_hdr(17, 8, 5, "-0500")
new_lines = ["Hi,", "", "Please schedule the inspection for Friday morning. "
             "The side door will be unlocked.", "", "Greg"]
orig = ["-----Original Message-----",
        "From: Acme Roofing [mailto:office@acme-roofing.test] ",
        "Sent: Monday, March 2, 2026 9:00 AM",
        "To: Greg Hanson <ghanson@example.com>",
        "Subject: Your roof estimate", ""] + acme_quote("Greg")
text = "\n".join(new_lines + [""] + orig) + "\n"
html_part = ('<html xmlns:o="urn:schemas-microsoft-com:office:office"><head><style>'
             '<!-- p.MsoNormal {margin:0in;font-size:11.0pt;font-family:"Calibri",sans-serif;} -->'
             '</style></head><body lang="EN-US"><div class="WordSection1">'
             '<p class="MsoNormal">Hi,<o:p></o:p></p><p class="MsoNormal">Please schedule the inspection '
             'for Friday morning. The side door will be unlocked.<o:p></o:p></p>'
             '<p class="MsoNormal">Greg<o:p></o:p></p><div><div style="border:none;border-top:solid '
             '#E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in"><p class="MsoNormal"><b>From:</b> Acme Roofing '
             '[mailto:office@acme-roofing.test] <br><b>Sent:</b> Monday, March 2, 2026 9:00 AM<br>'
             '<b>To:</b> Greg Hanson &lt;ghanson@example.com&gt;<br><b>Subject:</b> Your roof estimate'
             '</p></div></div><p class="MsoNormal">%s</p></div></body></html>\n'
             % "<br>".join(html.escape(l) for l in acme_quote("Greg")))
parts = [
    entity(['Content-Type: text/plain; charset="us-ascii"', "Content-Transfer-Encoding: 7bit"], text),
    entity(['Content-Type: text/html; charset="us-ascii"', "Content-Transfer-Encoding: quoted-printable"],
           qp(html_part.encode("ascii"))),
]
add(45, "reply-outlook-original-message",
    entity(std(45, "Greg Hanson <ghanson@example.com>", "RE: Your roof estimate", d)
           + reply_headers(45) + ["Thread-Topic: Your roof estimate",
                                  "Thread-Index: AdqM3xYZ1234567890abcdefABCDEF==",
                                  "X-Mailer: Microsoft Outlook 16.0", "MIME-Version: 1.0",
                                  'Content-Type: multipart/alternative;\n\tboundary="----=_NextPart_000_0045_01DA8C3F.5A6B7C80"'],
           multipart("----=_NextPart_000_0045_01DA8C3F.5A6B7C80", parts,
                     preamble="This is a multipart message in MIME format.\n")),
    from_="ghanson@example.com", from_name="Greg Hanson", subject="RE: Your roof estimate", date=d,
    in_reply_to=acme_ref(45), references_count=1,
    content_contains=["schedule the inspection for Friday morning", "side door will be unlocked"],
    content_excludes=["Original Message", "Sent: Monday", "mailto:office@acme-roofing.test"]
                     + QUOTE_EXCLUDES,
    text_contains=QUOTE_TEXT)

# 46 Outlook, "________________________________" separator then From/Sent/To/Subject
d = date_hdr(17, 9, 15, "-0500")
text = ("Can you send the invoice to my husband as well? His email is on file.\n\n"
        "Linda\n\n"
        "________________________________\n"
        "From: Acme Roofing <office@acme-roofing.test>\n"
        "Sent: Monday, March 2, 2026 9:00:00 AM\n"
        "To: Linda Park <linda.park@example.com>\n"
        "Subject: Your roof estimate\n\n" + "\n".join(acme_quote("Linda")) + "\n")
simple_reply(46, "reply-outlook-underscores", "Linda Park <linda.park@example.com>",
             "linda.park@example.com", "Linda Park", "RE: Your roof estimate", d, text,
             charset="iso-8859-1", codec="latin-1",
             contains=["send the invoice to my husband", "email is on file"],
             excludes=["________________________________", "Sent: Monday",
                       "From: Acme Roofing"] + QUOTE_EXCLUDES)

# 47 Outlook in German: Von / Gesendet / An / Betreff, no separator line, ISO-8859-1 QP
d = date_hdr(17, 10, 20, "+0100")
text = ("Hallo,\n\nder Termin am Donnerstag passt uns gut. Bitte klingeln Sie zweimal.\n\n"
        "Mit freundlichen Grüßen\nJürgen Schmidt\n\n"
        "Von: Acme Roofing <office@acme-roofing.test>\n"
        "Gesendet: Montag, 2. März 2026 09:00\n"
        "An: Jürgen Schmidt <j.schmidt@example.de>\n"
        "Betreff: Your roof estimate\n\n" + "\n".join(acme_quote("Jürgen")) + "\n")
simple_reply(47, "reply-outlook-german", ew("Jürgen Schmidt", "iso-8859-1", "Q") + " <j.schmidt@example.de>",
             "j.schmidt@example.de", "Jürgen Schmidt", "AW: Your roof estimate", d, text,
             charset="iso-8859-1", codec="latin-1",
             extra_headers=["X-Mailer: Microsoft Outlook 16.0", "Content-Language: de-de"],
             contains=["Termin am Donnerstag passt uns gut", "klingeln Sie zweimal"],
             excludes=["Gesendet:", "Betreff:", "Von: Acme Roofing"] + QUOTE_EXCLUDES)

# 48 Thunderbird, format=flowed
d = date_hdr(17, 11, 30, "+0100")
text = ("Hi,\n\nWe would like to go ahead with the repair. Please send the contract \n"
        "to this address and we will sign it over the weekend.\n\nBest,\nNora\n\n"
        "On 3/2/26 9:00 AM, Acme Roofing wrote:\n" + quoted(acme_quote("Nora")) + "\n")
simple_reply(48, "reply-thunderbird", "Nora Lindqvist <nora.lindqvist@example.se>",
             "nora.lindqvist@example.se", "Nora Lindqvist", "Re: Your roof estimate", d, text,
             cte="8bit", ctype_extra="; format=flowed",
             extra_headers=["User-Agent: Mozilla Thunderbird", "Content-Language: en-US"],
             contains=["go ahead with the repair", "sign it over the weekend"],
             excludes=["Acme Roofing wrote"] + QUOTE_EXCLUDES)

# 49 Russian "написал:"
d = date_hdr(18, 9, 0, "+0300")
text = ("Спасибо, четверг нам подходит. Крыша всё ещё протекает над балконом.\n\nОльга\n\n"
        "2 марта 2026 г., в 9:00, Acme Roofing <office@acme-roofing.test> написал:\n"
        + quoted(acme_quote("Olga")) + "\n")
simple_reply(49, "reply-russian", ew("Ольга Смирнова", "UTF-8") + " <o.smirnova@example.ru>",
             "o.smirnova@example.ru", "Ольга Смирнова", "Re: Your roof estimate", d, text,
             cte="base64", contains=["четверг нам подходит", "протекает над балконом"],
             excludes=["написал", "office@acme-roofing.test"] + QUOTE_EXCLUDES)

# 50 German Gmail "schrieb …:"
d = date_hdr(18, 10, 0, "+0100")
text = ("Wir nehmen das Angebot an. Bitte bringen Sie die roten Ziegel mit.\n\n"
        "Am Mo., 2. März 2026 um 09:00 Uhr schrieb Acme Roofing <office@acme-roofing.test>:\n\n"
        + quoted(acme_quote("Frau Wagner")) + "\n")
simple_reply(50, "reply-german", "Anna Wagner <anna.wagner@example.de>",
             "anna.wagner@example.de", "Anna Wagner", "Re: Your roof estimate", d, text,
             contains=["Wir nehmen das Angebot an", "roten Ziegel"],
             excludes=["schrieb", "office@acme-roofing.test"] + QUOTE_EXCLUDES)

# 51 French "a écrit :"
d = date_hdr(18, 11, 0, "+0100")
text = ("Parfait, nous serons à la maison jeudi matin. Merci de protéger les massifs de fleurs.\n\n"
        "Le lun. 2 mars 2026 à 09:00, Acme Roofing <office@acme-roofing.test> a écrit :\n\n"
        + quoted(acme_quote("Camille")) + "\n")
simple_reply(51, "reply-french", "Camille Laurent <camille.laurent@example.fr>",
             "camille.laurent@example.fr", "Camille Laurent", "Re: Your roof estimate", d, text,
             charset="windows-1252", codec="cp1252",
             contains=["nous serons à la maison jeudi matin", "massifs de fleurs"],
             excludes=["a écrit", "office@acme-roofing.test"] + QUOTE_EXCLUDES)

# 52 Spanish "escribió:" (Gmail puts the address in parentheses), ISO-8859-1 8bit
d = date_hdr(18, 12, 0, "+0100")
text = ("Perfecto, el jueves nos viene bien. Las tejas nuevas pueden dejarlas en el garaje.\n\n"
        "El lun, 2 mar 2026 a las 9:00, Acme Roofing (<office@acme-roofing.test>) escribió:\n\n"
        + quoted(acme_quote("Lucía")) + "\n")
simple_reply(52, "reply-spanish", ew("Lucía Fernández", "ISO-8859-1", "Q") + " <lucia.fernandez@example.es>",
             "lucia.fernandez@example.es", "Lucía Fernández", "Re: Your roof estimate", d, text,
             charset="ISO-8859-1", codec="latin-1", cte="8bit",
             contains=["el jueves nos viene bien", "tejas nuevas"],
             excludes=["escribió", "office@acme-roofing.test"] + QUOTE_EXCLUDES)

# 53 Italian "ha scritto:"
d = date_hdr(18, 13, 0, "+0100")
text = ("Va benissimo giovedì. Il cancello sarà aperto dalle otto.\n\n"
        "Il giorno lun 2 mar 2026 alle ore 09:00 Acme Roofing <office@acme-roofing.test> ha scritto:\n\n"
        + quoted(acme_quote("Giulia")) + "\n")
simple_reply(53, "reply-italian", "Giulia Romano <giulia.romano@example.it>",
             "giulia.romano@example.it", "Giulia Romano", "Re: Your roof estimate", d, text,
             contains=["Va benissimo giovedì", "cancello sarà aperto"],
             excludes=["ha scritto", "office@acme-roofing.test"] + QUOTE_EXCLUDES)

# 54 Dutch "schreef …:"
d = date_hdr(18, 14, 0, "+0100")
text = ("Donderdag is prima. De dakgoot aan de achterkant lekt ook, kunt u daar ook naar kijken?\n\n"
        "Op ma 2 mrt 2026 om 09:00 schreef Acme Roofing <office@acme-roofing.test>:\n\n"
        + quoted(acme_quote("Daan")) + "\n")
simple_reply(54, "reply-dutch", "Daan de Vries <daan.devries@example.nl>",
             "daan.devries@example.nl", "Daan de Vries", "Re: Your roof estimate", d, text,
             cte="7bit", charset="us-ascii", codec="ascii",
             contains=["Donderdag is prima", "dakgoot aan de achterkant"],
             excludes=["schreef", "office@acme-roofing.test"] + QUOTE_EXCLUDES)

# 55 Portuguese "escreveu:", UTF-8 subject in B
d = date_hdr(18, 15, 0, "-0300")
text = ("Quinta-feira está ótimo. Por favor, tragam também as calhas novas.\n\n"
        "Em seg., 2 de mar. de 2026 às 09:00, Acme Roofing <office@acme-roofing.test> escreveu:\n\n"
        + quoted(acme_quote("João")) + "\n")
simple_reply(55, "reply-portuguese", ew("João Silva", "UTF-8") + " <joao.silva@example.com.br>",
             "joao.silva@example.com.br", "João Silva", "Re: Orçamento do telhado", d, text,
             subject_enc=("UTF-8", "B", "utf-8"),
             contains=["Quinta-feira está ótimo", "calhas novas"],
             excludes=["escreveu", "office@acme-roofing.test"] + QUOTE_EXCLUDES)

# 56 bottom-posted reply: quote first, new text at the bottom
d = date_hdr(19, 9, 0, "-0500")
text = ("On 02/03/2026 09:00, Acme Roofing wrote:\n" + quoted(acme_quote("Tom")) + "\n\n"
        "That works for me. See you Thursday, I will leave the garage open.\n\nTom\n")
simple_reply(56, "reply-bottom-posted", "Tom Fischer <tom.fischer@example.com>",
             "tom.fischer@example.com", "Tom Fischer", "Re: Your roof estimate", d, text, cte="7bit",
             charset="us-ascii", codec="ascii",
             contains=["That works for me", "leave the garage open"],
             excludes=["Acme Roofing wrote"] + QUOTE_EXCLUDES)

# 57 reply with In-Reply-To only (no References)
d = date_hdr(19, 10, 0, "-0500")
text = ("Yes, the 14th is fine for the crew to start.\n\n"
        "On Mon, Mar 2, 2026 at 9:00 AM Acme Roofing <office@acme-roofing.test> wrote:\n"
        + quoted(acme_quote("Kim")) + "\n")
simple_reply(57, "reply-in-reply-to-only", "Kim Patel <kim.patel@example.com>",
             "kim.patel@example.com", "Kim Patel", "Re: Your roof estimate", d, text, cte="7bit",
             charset="us-ascii", codec="ascii", refs=False,
             contains=["the 14th is fine for the crew"],
             excludes=["Acme Roofing <office@acme-roofing.test> wrote"] + QUOTE_EXCLUDES)

# --------------------------------------------------------------------------- automatic mail

# 58 out-of-office
d = date_hdr(20, 7, 0, "-0500")
add(58, "out-of-office",
    entity(std(58, "Dana Lee <dana.lee@example.com>", "Automatic reply: Your roof estimate", d)
           + reply_headers(58) + ["Auto-Submitted: auto-replied", "X-Auto-Response-Suppress: All",
                                  "Precedence: auto_reply"] + text_headers("utf-8", "quoted-printable"),
           qp(b"I am out of the office until March 9 with limited access to email.\n"
              b"For urgent matters please call 555-0142.\n")),
    from_="dana.lee@example.com", from_name="Dana Lee", subject="Automatic reply: Your roof estimate",
    date=d, in_reply_to=acme_ref(58), references_count=1, auto_submitted="auto-replied",
    content_contains=["out of the office until March 9"])

# 59 delivery status notification (multipart/report)
d = date_hdr(20, 8, 30, "-0500", zone_name="EST")
original = entity(["From: Acme Roofing <office@acme-roofing.test>", "To: <old.lead@example.net>",
                   "Subject: Your roof estimate", "Date: " + date_hdr(20, 8, 29, "-0500"),
                   "Message-ID: <%s>" % acme_ref(59), "MIME-Version: 1.0",
                   'Content-Type: text/plain; charset="us-ascii"'],
                  "Hi, following up on your roof estimate request.\n")
parts = [
    entity(["Content-Description: Notification", 'Content-Type: text/plain; charset="us-ascii"'],
           "This is the mail system at host mx.example.net.\n\n"
           "I'm sorry to have to inform you that your message could not be delivered\n"
           "to one or more recipients. It's attached below.\n\n"
           "<old.lead@example.net>: host mx.example.net[192.0.2.25] said: 550 5.1.1\n"
           "    <old.lead@example.net>: Recipient address rejected: User unknown\n"),
    entity(["Content-Description: Delivery report", "Content-Type: message/delivery-status"],
           "Reporting-MTA: dns; mx.example.net\nArrival-Date: " + d + "\n\n"
           "Final-Recipient: rfc822; old.lead@example.net\nAction: failed\nStatus: 5.1.1\n"
           "Diagnostic-Code: smtp; 550 5.1.1 User unknown\n"),
    entity(["Content-Description: Undelivered Message", "Content-Type: message/rfc822"], original),
]
add(59, "delivery-status",
    entity(["Return-Path: <>"]
           + std(59, "Mail Delivery System <MAILER-DAEMON@mx.example.net>",
                 "Undelivered Mail Returned to Sender", d, to="To: office@acme-roofing.test")
           + ["Auto-Submitted: auto-replied", "MIME-Version: 1.0",
              'Content-Type: multipart/report; report-type=delivery-status;\n\tboundary="DSN.4F2A1B.1773999000"'],
           multipart("DSN.4F2A1B.1773999000", parts)),
    from_="mailer-daemon@mx.example.net", from_name="Mail Delivery System",
    subject="Undelivered Mail Returned to Sender", date=d, auto_submitted="auto-replied",
    content_contains=["could not be delivered", "User unknown"])


# --------------------------------------------------------------------------- self-check

def _codec(cs):
    cs = (cs or "us-ascii").lower()
    try:
        "".encode(cs)
        return cs
    except LookupError:
        return "latin-1"


def _decode_header(v):
    if v is None:
        return None
    v = re.sub(r"\r?\n[ \t]", " ", str(v))
    out = []
    for part, cs in email.header.decode_header(v):
        if isinstance(part, bytes):
            out.append(part.decode(_codec(cs), "replace"))
        else:
            out.append(part)
    return "".join(out).strip()


def _norm(s):
    return " ".join(s.replace("\x00", " ").split())


def _html_text(h):
    h = re.sub(r"(?is)<head\b.*?</head\s*>|<!--.*?-->", " ", h)
    return html.unescape(re.sub(r"<[^>]+>", " ", h))


def _payload(part):
    raw = part.get_payload(decode=False)
    if isinstance(raw, list):
        return b""
    cte = (part.get("Content-Transfer-Encoding") or "").strip().lower()
    if cte == "base64":
        data = re.sub(rb"[^A-Za-z0-9+/]", b"", raw.encode("latin-1", "surrogateescape"))
        return base64.b64decode(data + b"=" * (-len(data) % 4))
    return part.get_payload(decode=True) or b""


def check(name, raw, exp):
    problems = []
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    subj = _decode_header(msg.get("Subject"))
    if "subject" in exp and exp["subject"] != subj:
        problems.append("subject %r != %r" % (subj, exp["subject"]))
    if "subject_prefix" in exp and not (subj or "").startswith(exp["subject_prefix"]):
        problems.append("subject prefix")
    sender = None
    for h in ("From", "Sender", "Reply-To"):
        for _, addr in email.utils.getaddresses(
                [re.sub(r"\r?\n(?=[ \t])", "", str(msg.get(h) or "")).replace("\x00", "")]):
            if "@" in addr and sender is None:
                sender = addr.lower()
    if sender != exp["from"]:
        problems.append("from %r != %r" % (sender, exp["from"]))
    if exp["quarantine"] != (sender is None):
        problems.append("quarantine")
    texts, raws, atts = [], [], 0
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disp = (part.get("Content-Disposition") or "").lower()
        if part.get_filename() or disp.startswith("attachment"):
            atts += 1
            raws.append(_payload(part).decode("latin-1"))
            continue
        if ctype.startswith("text/") or not msg.is_multipart():
            t = _payload(part).decode(_codec(part.get_content_charset()), "replace")
            raws.append(t)
            texts.append(_html_text(t) if ctype == "text/html" else t)
    if name.startswith("17-"):  # Python keeps the unused-boundary body as the preamble
        texts.append(msg.preamble or "")
        raws.append(msg.preamble or "")
    full = _norm("\n".join(texts))
    raw_all = "\n".join(raws)
    for s in exp["content_contains"] + exp.get("text_contains", []):
        if _norm(s) not in full:
            problems.append("missing %r" % s)
    for s in exp["content_excludes"]:
        if s == "\x00":
            if b"\x00" not in raw and b"=00" not in raw and "\x00" not in raw_all:
                problems.append("no NUL in a NUL test")
        elif s not in raw_all and s.encode() not in raw:
            problems.append("exclude %r never occurs (vacuous)" % s)
    if "attachments" in exp and exp["attachments"] != atts:
        problems.append("attachments %d != %d" % (atts, exp["attachments"]))
    for key in ("content_contains", "text_contains", "subject", "subject_prefix", "from",
                "from_name", "attachment_filenames"):
        v = exp.get(key)
        if v and any("\x00" in x for x in ([v] if isinstance(v, str) else v)):
            problems.append("NUL in expected %s" % key)
    return problems


def byte_features(files):
    """The byte-level properties the corpus claims."""
    f = files
    problems = []

    def need(cond, what):
        if not cond:
            problems.append(what)

    need(b"\r" not in f["14-lf-only.eml"], "14 has CR")
    for n, data in f.items():
        if n != "14-lf-only.eml":
            need(b"\n" not in data.replace(b"\r\n", b""), n + " has a bare LF")
    need(b"MIME-Version" not in f["15-no-mime-version.eml"], "15 has MIME-Version")
    need(b"--unterminated-42--" not in f["16-missing-final-boundary.eml"], "16 closed")
    need(b"------=_Part_0_never_used" not in f["17-unused-boundary.eml"], "17 uses boundary")
    hdr25, body25 = f["25-nul-raw.eml"].split(b"\r\n\r\n", 1)
    need(b"\x00" in hdr25 and b"\x00" in body25, "25 NULs")
    need(b"=00" in f["26-nul-quoted-printable.eml"] and b"\x00" not in f["26-nul-quoted-printable.eml"], "26")
    need(b"\x00" not in f["27-nul-base64.eml"], "27 raw NUL")
    need(max(len(l) for l in f["22-long-subject.eml"].split(b"\r\n")) >= 20000, "22 length")
    need(max(len(l) for l in f["23-long-references.eml"].split(b"\r\n")) >= 20000, "23 length")
    need(f["24-deep-nesting.eml"].count(b"multipart/mixed") >= 30, "24 depth")
    hdr21 = f["21-body-without-blank-line.eml"]
    need(b"\r\n\r\n" not in hdr21, "21 has a blank line")
    need(not re.search(rb"^Message-ID:", f["28-no-message-id.eml"], re.M | re.I), "28 has Message-ID")
    need(not re.search(rb"^Date:", f["29-no-date.eml"], re.M | re.I), "29 has Date")
    need(not re.search(rb"^Subject:", f["34-no-subject.eml"], re.M | re.I), "34 has Subject")
    need(not re.search(rb"^To:", f["35-no-to.eml"], re.M | re.I), "35 has To")
    for n in ("32-no-sender-quarantine.eml", "33-from-without-address-quarantine.eml"):
        need(not re.search(rb"^(Sender|Reply-To):", f[n], re.M | re.I), n + " has a sender")
    return problems


def main():
    check_only = "--check" in sys.argv
    expected = {}
    if not check_only:
        for old in os.listdir(HERE):
            if old.endswith(".eml"):
                os.remove(os.path.join(HERE, old))
        for name, data, exp in MESSAGES:
            with open(os.path.join(HERE, name), "wb") as fh:
                fh.write(data)
            expected[name] = exp
        with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8") as fh:
            json.dump(expected, fh, ensure_ascii=False, indent=2)
            fh.write("\n")
    with open(os.path.join(HERE, "expected.json"), encoding="utf-8") as fh:
        expected = json.load(fh)
    files = {}
    for n in sorted(os.listdir(HERE)):
        if n.endswith(".eml"):
            with open(os.path.join(HERE, n), "rb") as fh:
                files[n] = fh.read()
    problems = []
    if set(files) != set(expected):
        problems.append("file/entry mismatch: %s" % sorted(set(files) ^ set(expected)))
    ids = [e["message_id"] for e in expected.values() if e["message_id"]]
    if len(ids) != len(set(ids)):
        problems.append("duplicate Message-IDs")
    for n in sorted(files):
        if n in expected:
            problems += ["%s: %s" % (n, p) for p in check(n, files[n], expected[n])]
    problems += byte_features(files)
    for p in problems:
        print("PROBLEM", p)
    print("%d messages, %d problems" % (len(files), len(problems)))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
