"""Signed anchors of the audit hash chain, kept outside the database (design decision 12).

An anchor is one JSON line `{"position": 123, "chainHash": "<hex>", "at": "<ISO-8601>",
"signature": "<base64>"}`: the chain's link at that position, when it was taken, and an
Ed25519 signature over the canonical JSON (sorted keys, no whitespace, UTF-8) of the other
three keys. Someone who rewrites events and chain tables together (the schema owner's
password is enough) cannot rewrite the anchors filed elsewhere, nor sign new ones without the
private key, so `spoa audit verify --anchors FILE --public-key FILE` catches the rewrite at the
first anchor after it.

`spoa audit anchor` takes the chain's head; with SPOA_AUDIT_ANCHOR_DIR the process leading
the audit projection appends one for every checkpoint sealed (`CheckpointAnchors`).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

try:
    import fcntl
except ImportError:  # not on Windows: one writer per file there
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

ANCHOR_FILE = "anchors.ndjson"
_HEX = re.compile(r"[0-9a-fA-F]{64}")
_TAIL_BYTES = 64 * 1024  # enough to hold the last anchors of a file


class AnchorKeyError(ValueError):
    """A key file that is missing, unreadable or not an Ed25519 key of the right kind."""


def canonical(position: int, chain_hash: str, at: str) -> bytes:
    """The signed bytes: the anchor's other three keys as canonical JSON."""
    document = {"at": at, "chainHash": chain_hash, "position": position}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


class AnchorSigner:
    """Signs anchor lines with an Ed25519 private key."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def from_file(cls, path: Path) -> AnchorSigner:
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except OSError as exc:
            raise AnchorKeyError(f"cannot read the signing key {path}: {exc.strerror}") from None
        except (ValueError, TypeError) as exc:
            raise AnchorKeyError(f"{path} is not an unencrypted PEM private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise AnchorKeyError(f"{path} is not an Ed25519 private key")
        return cls(key)

    def line(self, position: int, chain_hash: str, at: datetime) -> str:
        moment = at.isoformat()
        signature = self._key.sign(canonical(position, chain_hash, moment))
        return json.dumps(
            {
                "position": position,
                "chainHash": chain_hash,
                "at": moment,
                "signature": base64.b64encode(signature).decode("ascii"),
            },
            ensure_ascii=False,
        )


def generate_key_pair(private_path: Path, public_path: Path) -> None:
    """A new Ed25519 key pair as PEM files; the private one readable by its owner only.
    Existing files are never overwritten (FileExistsError)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for path in (private_path, public_path):
        if path.exists():
            raise FileExistsError(f"{path} exists already; not overwritten")
    _write_new(private_path, private, 0o600)
    _write_new(public_path, public, 0o644)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as file:
        os.fchmod(file.fileno(), mode)  # whatever the umask
        file.write(data)


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise AnchorKeyError(f"cannot read the public key {path}: {exc.strerror}") from None
    except (ValueError, TypeError) as exc:
        raise AnchorKeyError(f"{path} is not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AnchorKeyError(f"{path} is not an Ed25519 public key")
    return key


@dataclass(frozen=True)
class RefusedAnchor:
    line: int  # 1-based, blank lines counted
    reason: str


def read_signed_anchors(
    text: str, public_key: Ed25519PublicKey
) -> tuple[dict[int, str], list[RefusedAnchor]]:
    """The anchors of an NDJSON file whose signatures verify (position → chain hash), and
    the lines refused: not an anchor, unsigned, a signature that does not verify, or a
    position anchored before with another hash."""
    kept: dict[int, tuple[int, str]] = {}
    refused: list[RefusedAnchor] = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        reason = _refusal(raw, public_key)
        if isinstance(reason, str):
            refused.append(RefusedAnchor(number, reason))
            continue
        position, chain_hash = reason
        earlier = kept.get(position)
        if earlier is not None and earlier[1] != chain_hash:
            refused.append(
                RefusedAnchor(
                    number,
                    f"position {position} was anchored on line {earlier[0]} with another"
                    " chain hash",
                )
            )
            continue
        kept.setdefault(position, (number, chain_hash))
    return {position: chain_hash for position, (_, chain_hash) in kept.items()}, refused


def _refusal(raw: str, public_key: Ed25519PublicKey) -> str | tuple[int, str]:
    """Why a line is refused, or its (position, chain hash)."""
    try:
        value = json.loads(raw)
    except ValueError:
        return "not JSON"
    if not isinstance(value, dict):
        return "not an anchor object"
    position, chain_hash, at = value.get("position"), value.get("chainHash"), value.get("at")
    if (
        type(position) is not int
        or not isinstance(chain_hash, str)
        or not _HEX.fullmatch(chain_hash)
        or not isinstance(at, str)
    ):
        return "not an anchor (position, chainHash and at)"
    signature = value.get("signature")
    if not isinstance(signature, str):
        return "has no signature"
    try:
        public_key.verify(
            base64.b64decode(signature, validate=True), canonical(position, chain_hash, at)
        )
    except (binascii.Error, ValueError, InvalidSignature):
        return "the signature does not verify"
    return position, chain_hash.lower()


@contextmanager
def _locked(path: Path) -> Iterator[IO[bytes]]:
    """The file opened for appending (and reading), locked against other writers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as file:
        if fcntl is not None:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX)
        yield file
        file.flush()
        os.fsync(file.fileno())


def append_anchor(path: Path, line: str) -> None:
    with _locked(path) as file:
        file.write(line.encode("utf-8") + b"\n")


def _last_position(file: IO[bytes]) -> int:
    """The position of the file's last anchor (0: none)."""
    size = file.seek(0, os.SEEK_END)
    file.seek(max(0, size - _TAIL_BYTES))
    for raw in reversed(file.read().splitlines()):
        try:
            position = json.loads(raw).get("position")
        except (ValueError, AttributeError):
            continue  # a line cut by the tail's start, or not an anchor
        if type(position) is int:
            return position
    return 0


class CheckpointAnchors:
    """Appends a signed anchor of every checkpoint sealed after the file's last anchor to
    `directory`/anchors.ndjson, every `interval` seconds while `leading()` (this process
    leads the audit projection, so one process writes)."""

    def __init__(
        self,
        directory: Path,
        signer: AnchorSigner,
        checkpoints_after: Callable[[int], Sequence[tuple[int, str]]],
        leading: Callable[[], bool],
        interval: float,
        now: Callable[[], datetime],
    ) -> None:
        self.path = directory / ANCHOR_FILE
        self._signer = signer
        self._after = checkpoints_after
        self._leading = leading
        self._interval = interval
        self._now = now
        self._last: int | None = None
        self._error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="spoa-audit-anchors", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if not self._leading():
                continue
            try:
                self.write_new()
            except Exception as exc:  # the next round tries again; logged once per error
                if str(exc) != self._error:
                    log.exception("cannot write audit anchors to %s", self.path)
                self._error = str(exc)
            else:
                self._error = None

    def write_new(self) -> int:
        """Anchor the checkpoints sealed since the last anchor; returns how many."""
        if self._last is None:
            with _locked(self.path) as file:
                self._last = _last_position(file)
        sealed = self._after(self._last)
        if not sealed:
            return 0
        with _locked(self.path) as file:
            # Read again under the lock: another process of this host may have led meanwhile.
            last = _last_position(file)
            lines = [
                self._signer.line(position, chain_hash, self._now())
                for position, chain_hash in sealed
                if position > last
            ]
            file.write("".join(f"{line}\n" for line in lines).encode("utf-8"))
        self._last = max(last, sealed[-1][0])
        return len(lines)


def signer_for(path: Path | None) -> AnchorSigner:
    if path is None:
        raise AnchorKeyError("set SPOA_AUDIT_SIGNING_KEY to the private key file")
    return AnchorSigner.from_file(path)


class NothingChainedError(LookupError):
    """The audit projection has not chained any event yet."""


class ChainAnchors:
    """`spoa audit anchor`: the chain's latest link (its head, not only the last checkpoint)
    as the audit projection keeps it, signed with SPOA_AUDIT_SIGNING_KEY."""

    def __init__(
        self,
        head: Callable[[], tuple[int, str] | None],
        signing_key: Path | None,
        now: Callable[[], datetime],
    ) -> None:
        self._head = head
        self._key = signing_key
        self._now = now

    def head_line(self) -> str:
        signer = signer_for(self._key)
        head = self._head()
        if head is None:
            raise NothingChainedError("the audit chain is empty: nothing to anchor yet")
        position, chain_hash = head
        return signer.line(position, chain_hash, self._now())
