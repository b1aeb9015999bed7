"""Signed checkpoints: the C2SP checkpoint body, the signed note, Ed25519 signatures, key files."""

from __future__ import annotations

import stat
from dataclasses import replace
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from domain.merkle import EMPTY_ROOT
from services.audit.signing import (
    Checkpoint,
    CheckpointError,
    SignedCheckpoint,
    SigningKey,
    VerifierKey,
    generate_key_file,
    load_signing_key,
    public_key_path,
)

ORIGIN = "reporting/reporting.events"
WHEN = datetime(2026, 11, 22, 8, 15, 2, 123456, tzinfo=UTC)


def checkpoint(size: int = 7, position: int = 1234) -> Checkpoint:
    return Checkpoint(ORIGIN, size, sha256(b"root").digest(), WHEN, position)


@pytest.fixture
def key() -> SigningKey:
    return SigningKey(Ed25519PrivateKey.generate(), ORIGIN)


def test_the_signed_bytes_are_the_documented_body(key: SigningKey) -> None:
    body = checkpoint().body()
    assert body == (
        b"reporting/reporting.events\n7\n"
        + __import__("base64").b64encode(sha256(b"root").digest())
        + b"\ntime 2026-11-22T08:15:02.123456Z\nlast-position 1234\n"
    )
    signed = key.sign(checkpoint())
    assert key.verifier.verify(body, signed.signature)
    note = signed.note()
    assert note.startswith(body.decode() + "\n\u2014 reporting/reporting.events ")
    assert SignedCheckpoint.parse_note(note) == signed
    assert signed.verify(key.verifier)


def test_a_changed_field_or_another_key_fails_verification(key: SigningKey) -> None:
    signed = key.sign(checkpoint())
    for changed in (
        replace(signed.checkpoint, tree_size=8),
        replace(signed.checkpoint, root_hash=EMPTY_ROOT),
        replace(signed.checkpoint, last_position=1235),
        replace(signed.checkpoint, issued_at=WHEN.replace(microsecond=0)),
    ):
        assert not replace(signed, checkpoint=changed).verify(key.verifier)
    other = SigningKey(Ed25519PrivateKey.generate(), ORIGIN)
    assert not signed.verify(other.verifier)
    # The same key under another log name is another key id: refused.
    assert not signed.verify(VerifierKey("reporting/other", key.verifier.public_key))


def test_a_tampered_note_does_not_verify(key: SigningKey) -> None:
    note = key.sign(checkpoint()).note()
    tampered = note.replace("\n7\n", "\n6\n", 1)
    assert not SignedCheckpoint.parse_note(tampered).verify(key.verifier)


@given(st.integers(0, 2**63 - 1), st.integers(0, 2**63 - 1), st.binary(min_size=32, max_size=32))
def test_any_checkpoint_round_trips_through_its_note(size: int, position: int, root: bytes) -> None:
    private = SigningKey(Ed25519PrivateKey.from_private_bytes(b"\x01" * 32), ORIGIN)
    signed = private.sign(Checkpoint(ORIGIN, size, root, WHEN, position))
    parsed = SignedCheckpoint.parse_note(signed.note())
    assert parsed == signed
    assert parsed.verify(private.verifier)
    assert SignedCheckpoint.from_json(signed.to_json()) == signed


@pytest.mark.parametrize(
    "body",
    [
        "reporting/x\n07\nAAAA\ntime 2026-11-22T08:15:02.123456Z\nlast-position 1\n",  # leading zero
        "reporting/x\n7\n" + "A" * 44 + "\ntime 2026-11-22T08:15:02Z\nlast-position 1\n",  # other time form
        "reporting x\n7\n" + "A" * 43 + "=\ntime 2026-11-22T08:15:02.123456Z\nlast-position 1\n",  # space in origin
        "reporting/x\n7\n" + "A" * 43 + "=\ntime 2026-11-22T08:15:02.123456Z\n",  # line missing
    ],
)
def test_malformed_bodies_are_refused(body: str) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint.parse_body(body)


def test_json_members_must_agree_with_the_note(key: SigningKey) -> None:
    data = key.sign(checkpoint()).to_json()
    with pytest.raises(CheckpointError):
        SignedCheckpoint.from_json({**data, "tree_size": 9})


def test_verifier_keys_round_trip_and_are_checked(key: SigningKey, tmp_path: Path) -> None:
    vkey = key.verifier.vkey()
    assert VerifierKey.parse(vkey) == key.verifier
    for _ in range(64):  # base64 holds "+" now and then: the name and id end at the first two
        other = SigningKey(Ed25519PrivateKey.generate(), ORIGIN).verifier
        assert VerifierKey.parse(other.vkey()) == other
    name, key_hex, encoded = vkey.split("+", 2)
    with pytest.raises(CheckpointError):
        VerifierKey.parse(f"{name}+{'00000000' if key_hex != '00000000' else '00000001'}+{encoded}")
    path = tmp_path / "k.key"
    assert generate_key_file(path)
    loaded = load_signing_key(path, ORIGIN)
    pem = public_key_path(path).read_text()
    assert VerifierKey.parse(pem, name=ORIGIN) == loaded.verifier


def test_the_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "checkpoint.key"
    assert generate_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_bytes()
    assert not generate_key_file(path)
    assert path.read_bytes() == first
    signed = load_signing_key(path, ORIGIN).sign(checkpoint())
    assert signed.verify(load_signing_key(path, ORIGIN).verifier)
