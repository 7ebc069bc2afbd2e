"""Document rules: types from content, file names, download headers (no database)."""

from __future__ import annotations

import io

import pytest

from api.documents import content_disposition, etag_matches
from domain.knowledge.documents import (
    DOC,
    DOCX,
    JPEG,
    PDF,
    PNG,
    PPT,
    PPTX,
    TXT_GB18030,
    TXT_UTF8,
    XLS,
    XLSX,
    ZIP,
    DocumentType,
    DocumentTypeMismatchError,
    InvalidFilenameError,
    UnsupportedDocumentTypeError,
    clean_filename,
    is_sha256,
    name_for,
    sniff,
)
from tests.faq_helpers import (
    DOCX_BYTES,
    JPEG_BYTES,
    PDF_BYTES,
    PNG_BYTES,
    ole2,
    pptx,
    xlsx,
    zip_of,
)


def kind_of(data: bytes) -> DocumentType:
    return sniff(io.BytesIO(data), len(data))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PDF_BYTES, PDF),
        (PNG_BYTES, PNG),
        (JPEG_BYTES, JPEG),
        (DOCX_BYTES, DOCX),
        (xlsx(), XLSX),
        (pptx(), PPTX),
        (zip_of({"readme.txt": b"hello"}), ZIP),
        (ole2("WordDocument"), DOC),
        (ole2("Workbook"), XLS),
        (ole2("PowerPoint Document"), PPT),
        ("邮箱设置说明\nPOP3 pop.139.com\n".encode(), TXT_UTF8),
        ("邮箱设置说明\n".encode("gb18030"), TXT_GB18030),
    ],
)
def test_types_come_from_the_content(data: bytes, expected: DocumentType) -> None:
    assert kind_of(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff",  # a Windows executable
        b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 32,  # a Linux executable
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00",  # GIF is not on the list
        b"PK\x03\x04 not really a zip",
        ole2("SomethingElse"),
        b"\x00\x01\x02binary",
    ],
)
def test_other_content_is_refused(data: bytes) -> None:
    with pytest.raises(UnsupportedDocumentTypeError):
        kind_of(data)


def test_the_name_must_agree_with_the_content() -> None:
    assert name_for("guide.PDF", PDF) == "guide.PDF"
    assert name_for("photo.jpeg", JPEG) == "photo.jpeg"
    assert name_for("说明", PDF) == "说明.pdf"
    with pytest.raises(DocumentTypeMismatchError):
        name_for("report.pdf", PNG)  # a PNG dressed as a PDF
    with pytest.raises(UnsupportedDocumentTypeError):
        name_for("setup.exe", PDF)
    with pytest.raises(UnsupportedDocumentTypeError):
        name_for("page.html", TXT_UTF8)


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "..\\..\\windows\\system32\\x.pdf",
        "/etc/passwd",
        "docs/guide.pdf",
        "..",
        "..pdf",
        "evil\x00.pdf",
        "line\nbreak.pdf",
        "gpj.\u202eexe",  # right-to-left override: would display as "exe.jpg"
        "a\u2066b.pdf",  # a bidi isolate
        "csi\x9b.pdf",  # a C1 control
        "x\ud800.pdf",  # a lone surrogate
        "tab\t.pdf",
        "zero\u200bwidth.pdf",  # invisible: names refuse more than other text
        "",
        "   ",
        None,
    ],
)
def test_unsafe_file_names_are_refused(name: str | None) -> None:
    with pytest.raises(InvalidFilenameError):
        clean_filename(name)


def test_file_names_are_tidied() -> None:
    assert clean_filename("  报告: 第1季度?.pdf ") == "报告_ 第1季度_.pdf"
    long = clean_filename("长" * 100 + ".docx")
    assert long.endswith(".docx") and len(long.encode()) <= 200
    huge = clean_filename("x" * 1_000_000 + ".pdf")  # cut at once, not a character at a time
    assert huge == "x" * 196 + ".pdf"


def test_content_disposition_has_an_ascii_fallback_and_the_utf8_name() -> None:
    header = content_disposition("话费账单 指引 (v2).docx")
    assert header == (
        'attachment; filename="____ __ (v2).docx"; '
        "filename*=UTF-8''%E8%AF%9D%E8%B4%B9%E8%B4%A6%E5%8D%95%20%E6%8C%87%E5%BC%95%20"
        "%28v2%29.docx"
    )
    assert content_disposition("a;b.txt").startswith('attachment; filename="a;b.txt"')


def test_if_none_match() -> None:
    etag = '"' + "a" * 64 + '"'
    assert etag_matches(etag, etag)
    assert etag_matches(f'"x", W/{etag}', etag)
    assert etag_matches("*", etag)
    assert not etag_matches('"other"', etag)
    assert not etag_matches("", etag)


def test_sha256_ids() -> None:
    assert is_sha256("0" * 64)
    assert not is_sha256("0" * 63)
    assert not is_sha256("A" * 64)
    assert not is_sha256("../" + "0" * 61)
