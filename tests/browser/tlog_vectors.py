"""Transparency-log test vectors made by the project's own code: a Merkle tree of events and signed checkpoints."""

from __future__ import annotations

import base64
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.merkle import MerkleTree, leaf_hash
from services.audit.signing import Checkpoint, SignedCheckpoint, SigningKey

ORIGIN = "reporting/reporting.events"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def flip(data: bytes, at: int) -> bytes:
    """The same bytes with one bit of byte `at` changed."""
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def new_key(name: str = ORIGIN) -> SigningKey:
    return SigningKey(Ed25519PrivateKey.generate(), name)


def _event(rng: random.Random, position: int) -> bytes:
    """Canonical-looking event JSON (UTF-8, Vietnamese text), as the log's leaves are."""
    event = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "event_type": "ValueSubmitted",
        "position": position,
        "agency": f"so-tai-chinh-{rng.randint(1, 63)}",
        "indicator": "thu-ngan-sach",
        "value": str(rng.randint(0, 10**12)),
        "reason": "Điều chỉnh số liệu quý",
    }
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


@dataclass
class Log:
    """A log of `size` events, signed by `key`; checkpoints signed on demand for any prefix."""

    size: int
    seed: int = 20260301
    key: SigningKey = field(default_factory=new_key)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        self.events = [_event(rng, position) for position in range(1, self.size + 1)]
        self.tree = MerkleTree()
        for event in self.events:
            self.tree.append(event)

    def checkpoint(self, size: int, last_position: int | None = None) -> Checkpoint:
        return Checkpoint(
            ORIGIN,
            size,
            self.tree.root(size),
            datetime.now(UTC),
            size if last_position is None else last_position,
        )

    def signed(self, size: int, key: SigningKey | None = None) -> SignedCheckpoint:
        return (key or self.key).sign(self.checkpoint(size))

    def vector(self, index: int, size: int) -> dict[str, Any]:
        """verifyEvent's arguments (bytes as base64) for leaf `index` of the tree of `size` leaves."""
        return {
            "eventBytes": b64(self.events[index]),
            "leafIndex": index,
            "treeSize": size,
            "auditPath": [b64(h) for h in self.tree.inclusion_proof(index, size)],
            "checkpointNote": self.signed(size).note(),
            "verifierKey": self.key.verifier.vkey(),
        }

    def inclusion_response(self, index: int, size: int) -> dict[str, Any]:
        """What GET /audit/proofs/inclusion answers (services/reports/audit_api.py) for this leaf."""
        event = self.events[index]
        return {
            "leaf_index": index,
            "tree_size": size,
            "leaf_hash": b64(leaf_hash(event)),
            "proof": [b64(h) for h in self.tree.inclusion_proof(index, size)],
            "event": json.loads(event),
            "canonical": b64(event),
            "checkpoint": {"id": 1, **self.signed(size).to_json(), "requested": False},
        }
