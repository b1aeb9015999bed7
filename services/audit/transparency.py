"""Reading the transparency log (`tlog_*`): signed checkpoints, the public keys, inclusion and
consistency proofs (each checked here against the size and root of the signed checkpoint it refers
to), and on-demand checkpoints (fulfilled by the checkpointer, which alone holds the key)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import TupleRow

from domain.errors import NotFound
from domain.merkle import leaf_hash, verify_consistency, verify_inclusion
from services.audit.errors import EventRequired, InconsistentLog, InvalidSizes, NotCovered, NotYetCheckpointed
from services.audit.signing import SignedCheckpoint, VerifierKey, b64
from services.audit.tree import MissingNode, consistency_proof, inclusion_proof
from services.readmodels import Pool
from services.readmodels.audit_trail.queries import AuditTrailQueries, TrailEvent
from services.readmodels.errors import WrongAgency

POLL_SECONDS = 0.02


@dataclass(frozen=True)
class StoredCheckpoint:
    """A signed checkpoint as stored; `requested`: made on demand rather than periodically."""

    id: int
    signed: SignedCheckpoint
    requested: bool

    @property
    def tree_size(self) -> int:
        return self.signed.checkpoint.tree_size

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, **self.signed.to_json(), "requested": self.requested}


@dataclass(frozen=True)
class PublishedKey:
    key: VerifierKey
    created_at: datetime

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the raw public key (hex): what an auditor compares with the key they hold."""
        return sha256(self.key.public_key).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.key.name,
            "algorithm": "Ed25519",
            "key_id": self.key.key_id.hex(),
            "public_key": b64(self.key.public_key),
            "vkey": self.key.vkey(),
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class CheckpointRequest:
    """A request for a checkpoint, and the checkpoint once the checkpointer signed it."""

    request_id: int
    checkpoint: StoredCheckpoint | None


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    leaf_hash: bytes
    proof: list[bytes]
    event: TrailEvent | None  # None when the audit trail has not applied the event yet
    checkpoint: StoredCheckpoint

    def to_json(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "tree_size": self.checkpoint.tree_size,
            "leaf_hash": b64(self.leaf_hash),
            "proof": [b64(h) for h in self.proof],
            "event": self.event.to_json() if self.event is not None else None,
            "canonical": b64(self.event.canonical) if self.event is not None else None,
            "checkpoint": self.checkpoint.to_json(),
        }


@dataclass(frozen=True)
class ConsistencyProof:
    first: StoredCheckpoint
    second: StoredCheckpoint
    proof: list[bytes]

    def to_json(self) -> dict[str, Any]:
        return {"first": self.first.to_json(), "second": self.second.to_json(), "proof": [b64(h) for h in self.proof]}


class TransparencyLog:
    def __init__(self, pool: Pool, trail: AuditTrailQueries) -> None:
        self.pool = pool
        self.trail = trail

    def public_keys(self) -> list[PublishedKey]:
        """The keys that sign checkpoints, the newest first."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT origin, public_key, created_at FROM tlog_keys ORDER BY created_at DESC"
            ).fetchall()
        if not rows:
            raise NotFound("the checkpointer has not started yet")
        return [PublishedKey(VerifierKey(str(origin), bytes(raw)), created_at) for origin, raw, created_at in rows]

    def checkpoints(self, after_id: int, limit: int) -> list[StoredCheckpoint]:
        """Signed checkpoints in the order they were made, after `after_id`."""
        with self.pool.connection() as conn:
            return _checkpoints(conn, "WHERE id > %s ORDER BY id LIMIT %s", (after_id, limit))

    def recent_checkpoints(self, before_id: int | None, limit: int) -> tuple[list[StoredCheckpoint], bool]:
        """Signed checkpoints the newest first, before id `before_id` (None: from the newest); and
        whether older ones remain."""
        where = "" if before_id is None else "WHERE id < %s "
        params: tuple[Any, ...] = (limit + 1,) if before_id is None else (before_id, limit + 1)
        with self.pool.connection() as conn:
            found = _checkpoints(conn, where + "ORDER BY id DESC LIMIT %s", params)
        return found[:limit], len(found) > limit

    def checkpoint(self, checkpoint_id: int) -> StoredCheckpoint:
        with self.pool.connection() as conn:
            found = _checkpoints(conn, "WHERE id = %s", (checkpoint_id,))
        if not found:
            raise NotFound(f"no checkpoint {checkpoint_id}")
        return found[0]

    def latest(self) -> StoredCheckpoint:
        with self.pool.connection() as conn:
            found = _checkpoints(conn, "ORDER BY id DESC LIMIT 1", ())
        if not found:
            raise NotFound("no checkpoint has been signed yet")
        return found[0]

    def request_checkpoint(self, requested_by: str, wait_ms: int) -> CheckpointRequest:
        """Ask the checkpointer for a checkpoint covering every event stored so far; wait up to `wait_ms` for it."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO tlog_checkpoint_requests (requested_by) VALUES (%s) RETURNING id", (requested_by,)
            ).fetchone()
            assert row is not None
            request_id = int(row[0])
            conn.commit()  # the checkpointer must see the request now
            deadline = time.monotonic() + wait_ms / 1000
            while True:
                found = conn.execute(
                    "SELECT c.id, c.note, c.requested_by FROM tlog_checkpoint_requests r"
                    " JOIN tlog_checkpoints c ON c.id = r.checkpoint_id WHERE r.id = %s",
                    (request_id,),
                ).fetchone()
                if found is not None:
                    return CheckpointRequest(request_id, _checkpoint(found))
                if time.monotonic() >= deadline:
                    return CheckpointRequest(request_id, None)
                time.sleep(POLL_SECONDS)

    def inclusion(
        self,
        *,
        position: int | None = None,
        event_id: UUID | None = None,
        tree_size: int | None = None,
        only_agency: str | None = None,
    ) -> InclusionProof:
        """Proof that an event (by position or id) is a leaf of the tree of a signed checkpoint (RFC 9162).

        `tree_size` names the checkpoint (default: the latest that covers the event); with
        `only_agency`, only that agency's events are proved (an agency credential's own).
        """
        if (position is None) == (event_id is None):
            raise EventRequired("pass exactly one of position= or event_id=")
        column, value = ("position", position) if position is not None else ("event_id", event_id)
        with self.pool.connection() as conn:
            leaf = conn.execute(
                f"SELECT leaf_index, position, leaf_hash FROM tlog_leaves WHERE {column} = %s", (value,)
            ).fetchone()
        if leaf is None:
            raise NotFound(f"no leaf for {column} {value}")
        index, leaf_position, stored_hash = int(leaf[0]), int(leaf[1]), bytes(leaf[2])
        event = self.trail.event(leaf_position)
        if only_agency is not None and (event is None or event.agency != only_agency):
            raise WrongAgency("an agency token proves only its own agency's events")
        with self.pool.connection() as conn:
            if tree_size is None:
                found = _checkpoints(conn, "WHERE tree_size > %s ORDER BY id DESC LIMIT 1", (index,))
            else:
                found = _checkpoints(conn, "WHERE tree_size = %s ORDER BY id DESC LIMIT 1", (tree_size,))
            if not found:
                raise NotYetCheckpointed(f"no signed checkpoint covers leaf {index}")
            checkpoint = found[0]
            size = checkpoint.tree_size
            if index >= size:
                raise NotCovered(f"leaf {index} is not in a tree of size {size}")
            try:
                proof = inclusion_proof(conn, index, size)
            except MissingNode as error:
                raise InconsistentLog(str(error)) from None
        hashed = leaf_hash(event.canonical) if event is not None else stored_hash
        root = checkpoint.signed.checkpoint.root_hash
        if hashed != stored_hash or not verify_inclusion(hashed, index, size, proof, root):
            raise InconsistentLog(
                f"leaf {index} (position {leaf_position}) does not verify against the signed checkpoint of size {size}"
            )
        return InclusionProof(index, hashed, proof, event, checkpoint)

    def consistency(self, first: int, second: int) -> ConsistencyProof:
        """Proof that the tree of checkpoint `second` (a size) extends that of checkpoint `first` (RFC 9162)."""
        if first > second:
            raise InvalidSizes("first must not exceed second")
        with self.pool.connection() as conn:
            old = _checkpoints(conn, "WHERE tree_size = %s ORDER BY id DESC LIMIT 1", (first,))
            new = _checkpoints(conn, "WHERE tree_size = %s ORDER BY id DESC LIMIT 1", (second,))
            if not old or not new:
                raise NotFound("both sizes must be sizes of signed checkpoints")
            try:
                proof = consistency_proof(conn, first, second)
            except MissingNode as error:
                raise InconsistentLog(str(error)) from None
        old_root, new_root = old[0].signed.checkpoint.root_hash, new[0].signed.checkpoint.root_hash
        if not verify_consistency(first, second, old_root, new_root, proof):
            raise InconsistentLog(f"checkpoint {second} is not consistent with {first}")
        return ConsistencyProof(old[0], new[0], proof)


def _checkpoint(row: tuple[Any, ...]) -> StoredCheckpoint:
    return StoredCheckpoint(int(row[0]), SignedCheckpoint.parse_note(str(row[1])), row[2] is not None)


def _checkpoints(conn: psycopg.Connection[TupleRow], where: str, params: tuple[Any, ...]) -> list[StoredCheckpoint]:
    rows = conn.execute(f"SELECT id, note, requested_by FROM tlog_checkpoints {where}", params).fetchall()
    return [_checkpoint(row) for row in rows]
