"""Reading signed anchor lines (infra/anchors.py): what is kept, what is refused and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from infra.anchors import AnchorSigner, canonical, read_signed_anchors

KEY = Ed25519PrivateKey.generate()
SIGNER = AnchorSigner(KEY)
AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
H1, H2 = "a" * 64, "b" * 64


def test_the_signed_bytes_are_the_canonical_json_of_the_other_three_keys() -> None:
    assert canonical(12, H1, "2026-12-01T08:00:00+00:00") == (
        b'{"at":"2026-12-01T08:00:00+00:00","chainHash":"' + H1.encode() + b'","position":12}'
    )
    line = json.loads(SIGNER.line(12, H1, AT))
    assert list(line) == ["position", "chainHash", "at", "signature"]


def test_good_lines_are_kept_and_blank_lines_still_count() -> None:
    text = f"{SIGNER.line(4, H1, AT)}\n\n{SIGNER.line(8, H2, AT)}\n"
    assert read_signed_anchors(text, KEY.public_key()) == ({4: H1, 8: H2}, [])


def test_every_kind_of_bad_line_is_refused_by_its_number() -> None:
    good = SIGNER.line(4, H1, AT)
    lines = [
        good,
        "not json",
        "[1, 2]",
        json.dumps({"position": True, "chainHash": H1, "at": "x", "signature": "AA=="}),
        json.dumps({"position": 4, "chainHash": H1, "at": AT.isoformat()}),
        json.dumps({**json.loads(good), "signature": "%%%"}),
        json.dumps({**json.loads(good), "at": "2027-01-01T00:00:00+00:00"}),
        SIGNER.line(4, H2, AT),  # signed, but contradicts line 1
    ]
    kept, refused = read_signed_anchors("\n".join(lines), KEY.public_key())
    assert kept == {4: H1}
    assert [(r.line, r.reason) for r in refused] == [
        (2, "not JSON"),
        (3, "not an anchor object"),
        (4, "not an anchor (position, chainHash and at)"),
        (5, "has no signature"),
        (6, "the signature does not verify"),
        (7, "the signature does not verify"),
        (8, "position 4 was anchored on line 1 with another chain hash"),
    ]
