"""FAQ documents: which types are allowed, recognised by their content, and safe file names.

The type comes from the bytes (magic numbers, the entries of a ZIP container, the streams of an
OLE2 compound file); the file name's extension must agree with it, so nothing is stored that
would open as something else on a colleague's machine.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from domain.shared import DomainError
from domain.text import describe, forbidden_character

MAX_FILENAME_BYTES = 200  # UTF-8 bytes; leaves room below the usual 255-byte limit
SHA256_RE = re.compile(r"[0-9a-f]{64}")
# Besides what domain.text refuses: marks that change nothing visible but what a name reads
# as (zero-width spaces and joiners, LRM and RLM, BOM), so a name cannot hide its extension.
INVISIBLE = frozenset("\u200b\u200c\u200d\u200e\u200f\ufeff")


class DocumentTooLargeError(DomainError):
    code = "DOCUMENT_TOO_LARGE"


class EmptyDocumentError(DomainError):
    code = "EMPTY_DOCUMENT"


class UnsupportedDocumentTypeError(DomainError):
    code = "UNSUPPORTED_DOCUMENT_TYPE"


class DocumentTypeMismatchError(DomainError):
    code = "DOCUMENT_TYPE_MISMATCH"


class InvalidFilenameError(DomainError):
    code = "INVALID_FILENAME"


@dataclass(frozen=True)
class DocumentType:
    name: str
    content_type: str
    extensions: tuple[str, ...]  # the first is the canonical one


PDF = DocumentType("PDF", "application/pdf", ("pdf",))
DOC = DocumentType("DOC", "application/msword", ("doc",))
XLS = DocumentType("XLS", "application/vnd.ms-excel", ("xls",))
PPT = DocumentType("PPT", "application/vnd.ms-powerpoint", ("ppt", "pps"))
DOCX = DocumentType(
    "DOCX",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ("docx",),
)
XLSX = DocumentType(
    "XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ("xlsx",)
)
PPTX = DocumentType(
    "PPTX",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ("pptx", "ppsx"),
)
TXT_UTF8 = DocumentType("TXT", "text/plain; charset=utf-8", ("txt",))
TXT_GB18030 = DocumentType("TXT", "text/plain; charset=gb18030", ("txt",))
PNG = DocumentType("PNG", "image/png", ("png",))
JPEG = DocumentType("JPEG", "image/jpeg", ("jpg", "jpeg"))
ZIP = DocumentType("ZIP", "application/zip", ("zip",))

ALLOWED_EXTENSIONS = frozenset(
    ext
    for t in (PDF, DOC, XLS, PPT, DOCX, XLSX, PPTX, TXT_UTF8, PNG, JPEG, ZIP)
    for ext in t.extensions
)
ALLOWED_SUMMARY = "PDF, DOC/DOCX, XLS/XLSX, PPT/PPTX, TXT, PNG, JPEG or ZIP"

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OLE_STREAMS = (
    (DOC, "WordDocument"),
    (XLS, "Workbook"),
    (XLS, "Book"),
    (PPT, "PowerPoint Document"),
)
_TEXT_CONTROLS_OK = frozenset(b"\t\n\r\f\x1b")
_TEXT_SAMPLE = 1 << 20  # text checks read at most this much (the rest is not sniffed)


def sniff(stream: BinaryIO, size: int) -> DocumentType:
    """The document type of a seekable stream of `size` bytes, from its content alone."""
    stream.seek(0)
    head = stream.read(16)
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _sniff_zip(stream)
    if head.startswith(_OLE2):
        return _sniff_ole2(stream)
    found = _sniff_text(stream, size)
    if found is not None:
        return found
    raise UnsupportedDocumentTypeError(
        f"the content is not a {ALLOWED_SUMMARY} document", field=["file"]
    )


def _sniff_zip(stream: BinaryIO) -> DocumentType:
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise UnsupportedDocumentTypeError(
            "the content looks like a ZIP archive but cannot be read", field=["file"]
        ) from None
    if "[Content_Types].xml" in names:
        for prefix, kind in (("word/", DOCX), ("xl/", XLSX), ("ppt/", PPTX)):
            if any(n.startswith(prefix) for n in names):
                return kind
    return ZIP


def _sniff_ole2(stream: BinaryIO) -> DocumentType:
    # Legacy Office files are OLE2 compound files; which application wrote one shows in the
    # names of its streams (UTF-16LE directory entries). Scanning for them avoids parsing the
    # sector chains, and a renamed stream name in user data cannot make a non-OLE2 file pass.
    stream.seek(0)
    data = stream.read()
    for kind, stream_name in _OLE_STREAMS:
        encoded = stream_name.encode("utf-16-le")
        index = data.find(encoded)
        # A directory entry starts at a 128-byte boundary with the name.
        while index != -1:
            if index % 128 == 0:
                return kind
            index = data.find(encoded, index + 1)
    raise UnsupportedDocumentTypeError(
        "the content is an OLE2 file but not a Word, Excel or PowerPoint document",
        field=["file"],
    )


def _sniff_text(stream: BinaryIO, size: int) -> DocumentType | None:
    stream.seek(0)
    sample = stream.read(min(size, _TEXT_SAMPLE))
    if any(b < 0x20 and b not in _TEXT_CONTROLS_OK for b in sample) or b"\x7f" in sample:
        return None
    # A sample may end inside a multi-byte character: allow an incomplete tail only then.
    final = size <= len(sample)
    for kind, encoding in ((TXT_UTF8, "utf-8"), (TXT_GB18030, "gb18030")):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=final)
        except UnicodeDecodeError:
            continue
        return kind
    return None


# ---------------------------------------------------------------------- file names
_FORBIDDEN_NAME_CHARS = frozenset('<>:"|?*')


def clean_filename(raw: str | None) -> str:
    """A safe display and download name, or InvalidFilenameError.

    Paths are refused (not silently cut to their last part), so a client bug or an attack
    with `../` names is noticed; control and invisible characters are refused; characters
    that Windows cannot store are replaced; the name is trimmed to a sane length keeping
    its extension.
    """
    if raw is None or not raw.strip():
        raise InvalidFilenameError("the file needs a name", field=["file"])
    name = unicodedata.normalize("NFC", raw).strip()
    if "/" in name or "\\" in name or name in {".", ".."} or name.startswith(".."):
        raise InvalidFilenameError("the file name must not contain a path", field=["file"])
    char = forbidden_character(name, line=True) or next((c for c in name if c in INVISIBLE), None)
    if char is not None:
        raise InvalidFilenameError(
            f"the file name must not contain control or invisible characters ({describe(char)})",
            field=["file"],
        )
    name = "".join("_" if c in _FORBIDDEN_NAME_CHARS else c for c in name)
    name = name.strip(" .")
    if not name:
        raise InvalidFilenameError("the file needs a name", field=["file"])
    return _shorten(name)


def _shorten(name: str) -> str:
    if len(name.encode("utf-8")) <= MAX_FILENAME_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 10:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    budget = MAX_FILENAME_BYTES - len(suffix.encode("utf-8"))
    stem = stem[:budget]  # every character takes a byte at least: few steps left below
    while len(stem.encode("utf-8")) > budget:
        stem = stem[:-1]
    return stem.rstrip(" .") + suffix


def extension_of(name: str) -> str | None:
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return None
    return ext.lower()


def name_for(name: str, kind: DocumentType) -> str:
    """The stored name: the extension must be one of the type's; none gets the canonical one."""
    ext = extension_of(name)
    if ext is None:
        return _shorten(f"{name}.{kind.extensions[0]}")
    if ext not in ALLOWED_EXTENSIONS:
        raise UnsupportedDocumentTypeError(
            f".{ext} files are not allowed; allowed: {ALLOWED_SUMMARY}", field=["file"]
        )
    if ext not in kind.extensions:
        raise DocumentTypeMismatchError(
            f"the file is named .{ext} but its content is {kind.name}", field=["file"]
        )
    return name


def is_sha256(value: str) -> bool:
    return bool(SHA256_RE.fullmatch(value))
