"""Signed checkpoints of the transparency log: the C2SP checkpoint and signed-note formats, Ed25519.

A checkpoint body (the signed bytes, UTF-8, every line ending in a newline):

    <origin>
    <tree size, decimal>
    <root hash, base64>
    time <issued at: UTC, microseconds, Z>
    last-position <position of leaf tree_size - 1; 0 for the empty tree>

The signed note is the body, an empty line, and one signature line:

    — <key name> <base64(key id (4 bytes) || Ed25519 signature (64 bytes))>

where key id = SHA-256(key name || 0x0A || 0x01 || raw 32-byte public key)[:4] and the key name is
the origin. The verifier key is published as `<name>+<key id hex>+<base64(0x01 || public key)>`.
See docs/AUDIT.md.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from domain.merkle import HASH_SIZE

ED25519 = 0x01  # the signed-note signature type of Ed25519
SIGNATURE_DASH = "\u2014"  # "—", as in the signed-note format


class CheckpointError(ValueError):
    """Text that is not a well-formed checkpoint or signed note."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode(), validate=True)
    except ValueError as error:
        raise CheckpointError(f"not base64: {text[:40]!r}") from error


def format_instant(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_name(name: str) -> str:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise CheckpointError(f"a log origin / key name has no spaces and no '+': {name!r}")
    return name


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes
    issued_at: datetime
    last_position: int

    def body(self) -> bytes:
        """The exact bytes that are signed."""
        _check_name(self.origin)
        return (
            f"{self.origin}\n{self.tree_size}\n{b64(self.root_hash)}\n"
            f"time {format_instant(self.issued_at)}\nlast-position {self.last_position}\n"
        ).encode()

    @classmethod
    def parse_body(cls, body: str) -> Checkpoint:
        lines = body.split("\n")
        if len(lines) != 6 or lines[-1] != "":
            raise CheckpointError("a checkpoint body has five lines, each ending in a newline")
        origin, size, root, time_line, position_line = lines[:5]
        if not (size.isdigit() and time_line.startswith("time ") and position_line.startswith("last-position ")):
            raise CheckpointError("malformed checkpoint body")
        root_hash = unb64(root)
        position = position_line.removeprefix("last-position ")
        if len(root_hash) != HASH_SIZE or not position.isdigit():
            raise CheckpointError("malformed root hash or last position")
        text = time_line.removeprefix("time ")
        try:
            issued_at = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        except ValueError as error:
            raise CheckpointError(f"malformed time {text!r}") from error
        checkpoint = cls(_check_name(origin), int(size), root_hash, issued_at, int(position))
        if checkpoint.body().decode() != body:  # one textual form only (no leading zeros, ...)
            raise CheckpointError("checkpoint body is not in canonical form")
        return checkpoint


def key_id(name: str, public_key: bytes) -> bytes:
    return sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


@dataclass(frozen=True)
class VerifierKey:
    """A public key, as an auditor holds it."""

    name: str
    public_key: bytes  # raw 32 bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def vkey(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{b64(bytes([ED25519]) + self.public_key)}"

    @classmethod
    def parse(cls, text: str, name: str | None = None) -> VerifierKey:
        """A vkey (`name+keyid+base64`), or a PEM public key (then `name` is required)."""
        text = text.strip()
        if text.startswith("-----BEGIN"):
            loaded = serialization.load_pem_public_key(text.encode())
            if not isinstance(loaded, Ed25519PublicKey):
                raise CheckpointError("not an Ed25519 public key")
            if name is None:
                raise CheckpointError("a PEM public key needs the log's name (origin)")
            return cls(name, loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
        parts = text.split("+", 2)  # the base64 part may hold "+" itself
        if len(parts) != 3:
            raise CheckpointError("a verifier key is name+keyid+base64")
        raw = unb64(parts[2])
        if len(raw) != 33 or raw[0] != ED25519:
            raise CheckpointError("not an Ed25519 verifier key")
        key = cls(_check_name(parts[0]), raw[1:])
        if key.key_id.hex() != parts[1].lower():
            raise CheckpointError("the verifier key's id does not match its key")
        return key

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    key_name: str
    key_id: bytes
    signature: bytes

    def note(self) -> str:
        body = self.checkpoint.body().decode()
        return f"{body}\n{SIGNATURE_DASH} {self.key_name} {b64(self.key_id + self.signature)}\n"

    @classmethod
    def parse_note(cls, note: str) -> SignedCheckpoint:
        body, separator, signatures = note.partition("\n\n")
        if not separator:
            raise CheckpointError("a signed note has a body, an empty line and signature lines")
        checkpoint = Checkpoint.parse_body(body + "\n")
        for line in signatures.split("\n"):
            if not line:
                continue
            dash, _, rest = line.partition(" ")
            name, _, encoded = rest.partition(" ")
            raw = unb64(encoded)
            if dash == SIGNATURE_DASH and len(raw) == 68:
                return cls(checkpoint, name, raw[:4], raw[4:])
        raise CheckpointError("no Ed25519 signature line in the note")

    def verify(self, key: VerifierKey) -> bool:
        """Signed by this key, over exactly this body?"""
        return (
            self.key_name == key.name
            and self.key_id == key.key_id
            and key.verify(self.checkpoint.body(), self.signature)
        )

    def to_json(self) -> dict[str, Any]:
        cp = self.checkpoint
        return {
            "origin": cp.origin,
            "tree_size": cp.tree_size,
            "root_hash": b64(cp.root_hash),
            "time": format_instant(cp.issued_at),
            "last_position": cp.last_position,
            "key_name": self.key_name,
            "key_id": self.key_id.hex(),
            "signature": b64(self.signature),
            "note": self.note(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignedCheckpoint:
        """Only the signed note counts; the other members are a convenience and must agree with it."""
        signed = cls.parse_note(str(data["note"]))
        if data.get("tree_size", signed.checkpoint.tree_size) != signed.checkpoint.tree_size or data.get(
            "root_hash", b64(signed.checkpoint.root_hash)
        ) != b64(signed.checkpoint.root_hash):
            raise CheckpointError("checkpoint fields disagree with its signed note")
        return signed


class SigningKey:
    """The checkpointer's Ed25519 key; the key name is the log's origin."""

    def __init__(self, private_key: Ed25519PrivateKey, name: str) -> None:
        self._private = private_key
        self.verifier = VerifierKey(
            _check_name(name),
            private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        )

    def sign(self, checkpoint: Checkpoint) -> SignedCheckpoint:
        if checkpoint.origin != self.verifier.name:
            raise CheckpointError("the key name is the log's origin")
        signature = self._private.sign(checkpoint.body())
        return SignedCheckpoint(checkpoint, self.verifier.name, self.verifier.key_id, signature)


def public_key_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.name + ".pub")


def generate_key_file(path: Path) -> bool:
    """Create the key file (PKCS#8 PEM, mode 0600) and its public key (`<path>.pub`, PEM) if missing.

    Returns True when a key was created. Never overwrites: a lost key cannot sign what the old one
    did, and a replaced one would make old checkpoints look forged.
    """
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: theirs stands
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public_key_path(path).write_bytes(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return True


def load_signing_key(path: Path, name: str) -> SigningKey:
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise CheckpointError(f"{path} is not an Ed25519 private key")
    return SigningKey(loaded, name)
