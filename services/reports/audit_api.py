"""The auditors' endpoints of the reports API (issue 5; docs/AUDIT.md).

- the audit trail (`rm_audit_trail`): filtered, keyset-paged on position, CSV/XLSX export;
- time travel: a per-agency report view, or the ministry roll-ups, as of a past position or
  instant, folded from the audit trail, which holds every event of the log with its canonical bytes;
- the transparency log: signed checkpoints, the public key, inclusion and consistency proofs
  (each checked here against the size and root of the signed checkpoint it refers to), and
  on-demand checkpoints for admins (fulfilled by the checkpointer, which alone holds the key).

Like the rest of the reports API, these read only read-model tables, never the event store.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import orjson
import psycopg
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import ORJSONResponse, Response
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from domain.identity import Principal, Role
from domain.merkle import leaf_hash, verify_consistency, verify_inclusion
from domain.rollups import months_of
from infra.integration_events import IntegrationEvent
from infra.settings import Settings
from services.audit.asof import report_as_of
from services.audit.asof_rollups import REFERENCE_EVENTS, figures_as_of, reference_as_of
from services.audit.signing import SignedCheckpoint, VerifierKey, b64
from services.audit.tree import MissingNode, consistency_proof, inclusion_proof
from services.http.auth import require_agency_access, require_roles
from services.http.limits import PageLimit
from services.http.problems import Problem
from services.projector.report_view import VALUE_EVENTS
from services.reports.export import (
    CSV_RESPONSES,
    TABLE_RESPONSES,
    XLSX_RESPONSES,
    TooManyRows,
    csv_response,
    xlsx_response,
)
from services.reports.ministry_api import Format, MinistryReader, RollupParameters

Reader = Annotated[Principal, Depends(require_roles(*Role))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
Pool = ConnectionPool[psycopg.Connection[TupleRow]]

MAX_WAIT_MS = 10_000
# An event's time is taken before its commit; commits wait at most the lock timeout (5 s) plus the
# request's own work. Events more than this apart in time are in the same order in the log.
COMMIT_SKEW = "30 seconds"
EXPORT_COLUMNS = (
    "position",
    "occurred_at",
    "event_type",
    "event_id",
    "agency",
    "period",
    "indicator",
    "previous_value",
    "value",
    "actor",
    "role",
    "reason",
)


def _text_params(**values: str | list[str] | None) -> None:
    """PostgreSQL text cannot hold NUL: such a parameter is a 422, never a database error."""
    for name, value in values.items():
        items = value if isinstance(value, list) else [value]
        if any(item is not None and "\x00" in item for item in items):
            raise Problem(422, "invalid-parameter", "Invalid parameter", f"{name} contains a NUL character")


def _pool(request: Request) -> Pool:
    pool: Pool = request.app.state.pool
    return pool


def _event_json(canonical: bytes) -> dict[str, Any]:
    event: dict[str, Any] = orjson.loads(canonical)
    return event


class TrailFilter:
    """The audit trail's filters, as query parameters (shared by the JSON page and the exports)."""

    def __init__(
        self,
        agency: Annotated[str | None, Query(max_length=100)] = None,
        period: Annotated[str | None, Query(max_length=20)] = None,
        indicator: Annotated[str | None, Query(max_length=100)] = None,
        actor: Annotated[str | None, Query(max_length=200)] = None,
        event_type: Annotated[list[str] | None, Query(max_length=50)] = None,
        since: Annotated[datetime | None, Query(description="occurred at or after (ISO 8601 with zone)")] = None,
        until: Annotated[datetime | None, Query(description="occurred before (ISO 8601 with zone)")] = None,
    ) -> None:
        self.agency = agency
        self.period = period
        self.indicator = indicator
        self.actor = actor
        self.event_type = event_type
        self.since = since
        self.until = until

    def check_access(self, principal: Principal) -> None:
        """Agency reporters read only their own agency's trail, and must say so."""
        if principal.role is Role.AGENCY_REPORTER and self.agency != principal.agency:
            raise Problem(403, "wrong-agency", "Forbidden", "an agency token reads only its own agency: pass agency=")

    def where(self, after: int) -> tuple[str, list[Any]]:
        _text_params(
            agency=self.agency,
            period=self.period,
            indicator=self.indicator,
            actor=self.actor,
            event_type=self.event_type,
        )
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise Problem(422, "invalid-instant", "Invalid instant", f"{name} needs a time zone (e.g. Z)")
        clauses = ["position > %s"]
        params: list[Any] = [after]
        for column in ("agency", "period", "indicator", "actor"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(value)
        if self.event_type:
            clauses.append("event_type = ANY(%s)")
            params.append(self.event_type)
        if self.since is not None:
            clauses.append("occurred_at >= %s")
            params.append(self.since)
        if self.until is not None:
            clauses.append("occurred_at < %s")
            params.append(self.until)
        return " AND ".join(clauses), params


Filters = Annotated[TrailFilter, Depends()]


def _page(pool: Pool, filters: TrailFilter, after: int, limit: int) -> list[tuple[int, bytes]]:
    where, params = filters.where(after)
    with pool.connection() as conn:
        rows = conn.execute(
            f"SELECT position, canonical FROM rm_audit_trail WHERE {where} ORDER BY position LIMIT %s",
            [*params, limit],
        ).fetchall()
    return [(int(p), bytes(c)) for p, c in rows]


def _export_rows(pool: Pool, filters: TrailFilter) -> Iterator[list[Any]]:
    after = 0
    while page := _page(pool, filters, after, 5000):
        for position, canonical in page:
            e = _event_json(canonical)
            yield [
                position,
                e["occurred_at"],
                e["event_type"],
                e["event_id"],
                e["agency"],
                e["period"],
                e["indicator"],
                e["previous_value"],
                e["value"],
                e["actor"],
                e["role"],
                e["reason"],
            ]
        after = page[-1][0]


def audit_watermark(conn: psycopg.Connection[TupleRow], topic: str) -> int:
    """A position up to which the audit trail holds every event of the log.

    Per partition: if the audit trail applied everything the relay published there, the partition
    is complete up to the relay's cursor; otherwise up to what it applied.
    """
    relay: dict[int, int] = {
        int(p): int(pos)
        for p, pos in conn.execute("SELECT partition, position FROM relay_positions WHERE topic = %s", (topic,))
    }
    applied: dict[int, int] = {
        int(p): int(pos)
        for p, pos in conn.execute(
            "SELECT partition, position FROM projector_positions WHERE topic = %s AND projection = 'audit_trail'",
            (topic,),
        )
    }
    watermark = int(relay.pop(-1, 0))
    for partition, published in relay.items():
        done = int(applied.get(partition, 0))
        if done < int(published):
            watermark = min(watermark, done)
    return watermark


def _checkpoint_row(conn: psycopg.Connection[TupleRow], sql: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT id, note, requested_by FROM tlog_checkpoints {sql}", params).fetchone()
    if row is None:
        return None
    return _checkpoint_json(int(row[0]), str(row[1]), row[2])


def _checkpoint_json(checkpoint_id: int, note: str, requested_by: str | None) -> dict[str, Any]:
    return {"id": checkpoint_id, **SignedCheckpoint.parse_note(note).to_json(), "requested": requested_by is not None}


def _b64_list(hashes: list[bytes]) -> list[str]:
    return [b64(h) for h in hashes]


class AsOfQuery:
    """When, for time travel: a past global position or a past instant (exactly one)."""

    def __init__(
        self,
        position: Annotated[int | None, Query(ge=0, description="a past global position")] = None,
        at: Annotated[datetime | None, Query(description="a past instant (ISO 8601 with zone)")] = None,
        wait_ms: Annotated[int, Query(ge=0, le=MAX_WAIT_MS)] = 5000,
    ) -> None:
        self.position = position
        self.at = at
        self.wait_ms = wait_ms

    def check(self) -> None:
        if (self.position is None) == (self.at is None):
            raise Problem(422, "as-of-required", "Say when", "pass exactly one of position= or at=")
        if self.at is not None and self.at.tzinfo is None:
            raise Problem(422, "invalid-instant", "Invalid instant", "at needs a time zone (e.g. Z)")

    def as_of(self, target: int) -> dict[str, Any]:
        return {"position": target, "at": self.at}


AsOf = Annotated[AsOfQuery, Depends()]


def log_prefix(conn: psycopg.Connection[TupleRow], topic: str, when: AsOfQuery) -> int:
    """The last position of the log prefix `when` names, once the audit trail holds all of it.

    Waits up to `when.wait_ms` for the audit trail to apply the log that far; 409 not-yet-visible otherwise.
    """
    deadline = time.monotonic() + when.wait_ms / 1000
    while True:
        watermark = audit_watermark(conn, topic)
        target = when.position if when.position is not None else _instant_position(conn, when.at, watermark)
        if target <= watermark:
            return target
        if time.monotonic() >= deadline:
            raise Problem(
                409,
                "not-yet-visible",
                "Not yet visible",
                f"the audit trail holds the log up to position {watermark}, not {target} yet; retry",
                headers={"Retry-After": "1"},
                position=watermark,
            )
        time.sleep(0.02)  # a server-side poll of the read model, bounded by wait_ms


def _instant_position(conn: psycopg.Connection[TupleRow], at: datetime | None, watermark: int) -> int:
    row = conn.execute(
        "SELECT min(position) FROM rm_audit_trail WHERE occurred_at > %(at)s AND occurred_at <="
        f" (SELECT min(occurred_at) FROM rm_audit_trail WHERE occurred_at > %(at)s) + interval '{COMMIT_SKEW}'",
        {"at": at},
    ).fetchone()
    first_after = row[0] if row else None
    return watermark if first_after is None else int(first_after) - 1


def _trail_events(
    conn: psycopg.Connection[TupleRow], target: int, types: Iterable[str], where: str = "true", *params: Any
) -> list[IntegrationEvent]:
    """The audit trail's events of `types` up to position `target` (and `where`), in position order."""
    rows = conn.execute(
        f"SELECT canonical FROM rm_audit_trail WHERE event_type = ANY(%s) AND position <= %s AND {where}"
        " ORDER BY position",
        (sorted(types), target, *params),
    ).fetchall()
    return [IntegrationEvent.from_bytes(bytes(r[0])) for r in rows]


def audit_router(settings: Settings) -> APIRouter:
    router = APIRouter(tags=["audit"])

    @router.get("/audit/events")
    def audit_events(
        request: Request,
        principal: Reader,
        filters: Filters,
        limit: PageLimit,  # services/http/limits.py: at most MAX_PAGE_SIZE
        after: Annotated[int, Query(ge=0, description="keyset: the last position of the previous page")] = 0,
    ) -> dict[str, Any]:
        """Every event of the log (submissions, catalogue, templates, agencies), in global order."""
        filters.check_access(principal)
        page = _page(_pool(request), filters, after, limit)
        return {
            "events": [_event_json(c) for _, c in page],
            "next_after": page[-1][0] if len(page) == limit else None,
        }

    @router.get("/audit/events.csv", response_class=Response, responses=CSV_RESPONSES)
    def audit_events_csv(request: Request, principal: Reader, filters: Filters) -> Response:
        """The filtered audit trail as CSV (UTF-8), every matching event."""
        filters.check_access(principal)
        filters.where(0)  # refuse bad filters before the stream starts
        return csv_response(EXPORT_COLUMNS, _export_rows(_pool(request), filters), "audit-trail.csv")

    @router.get("/audit/events.xlsx", response_class=Response, responses=XLSX_RESPONSES)
    def audit_events_xlsx(request: Request, principal: Reader, filters: Filters) -> Response:
        """The filtered audit trail as an Excel workbook."""
        filters.check_access(principal)
        try:
            return xlsx_response(EXPORT_COLUMNS, _export_rows(_pool(request), filters), "audit-trail.xlsx", "audit")
        except TooManyRows as error:
            raise Problem(413, "too-many-rows", "Too many rows", f"{error}; narrow the filters or use CSV") from None

    @router.get("/agencies/{agency}/periods/{period}/report/as-of", tags=["reports"])
    def report_as_of_endpoint(
        agency: str, period: str, request: Request, principal: Reader, when: AsOf
    ) -> dict[str, Any]:
        """The per-agency report view as it was at a past position or instant, folded from the log."""
        require_agency_access(principal, agency, write=False)
        _text_params(agency=agency, period=period)
        when.check()
        with _pool(request).connection() as conn:
            target = log_prefix(conn, settings.kafka_topic, when)
            events = _trail_events(conn, target, VALUE_EVENTS, "agency = %s AND period = %s", agency, period)
            last = conn.execute(
                "SELECT coalesce(max(position), 0) FROM rm_audit_trail WHERE agency = %s AND position <= %s",
                (agency, target),
            ).fetchone()
        view = report_as_of(agency, period, events, int(last[0]) if last else 0)
        view["as_of"] = when.as_of(target)
        return view

    @router.get("/rollups/as-of", tags=["roll-ups"], response_model=None, responses=TABLE_RESPONSES)
    def rollups_as_of_endpoint(
        request: Request, principal: MinistryReader, when: AsOf, query: RollupParameters, fmt: Format = "json"
    ) -> dict[str, Any] | Response:
        """The roll-ups (as `/rollups`, same parameters) as they were at a past position or instant, folded
        from the log: the registry, catalogue and templates, and the value events up to that point."""
        periods = query.periods()
        when.check()
        with _pool(request).connection() as conn:
            target = log_prefix(conn, settings.kafka_topic, when)
            ref = reference_as_of(_trail_events(conn, target, REFERENCE_EVENTS))
            codes = query.indicators(ref)  # known then: an indicator defined later is a 404, as it was
            scopes = query.scopes(ref)
            months = sorted({m for p in periods for m in months_of(p.code)})
            where = "indicator = ANY(%s) AND period = ANY(%s)"
            values = _trail_events(conn, target, VALUE_EVENTS, where, codes, months)
            rows = figures_as_of(ref, values, codes, periods, scopes)
        # `position`: the live answer's is what its read models reflected; here it is the prefix folded.
        return query.respond(fmt, {"position": target, "as_of": when.as_of(target)}, periods, scopes, rows)

    # ---- the transparency log ----------------------------------------------

    @router.get("/audit/public-key")
    def public_key(request: Request, principal: Reader) -> dict[str, Any]:
        """The Ed25519 keys that sign checkpoints (the newest first), as raw base64 and as verifier keys."""
        with _pool(request).connection() as conn:
            rows = conn.execute(
                "SELECT origin, public_key, created_at FROM tlog_keys ORDER BY created_at DESC"
            ).fetchall()
        keys = []
        for origin, raw, created_at in rows:
            key = VerifierKey(str(origin), bytes(raw))
            keys.append(
                {
                    "origin": key.name,
                    "algorithm": "Ed25519",
                    "key_id": key.key_id.hex(),
                    "public_key": b64(key.public_key),
                    "vkey": key.vkey(),
                    "created_at": created_at,
                }
            )
        if not keys:
            raise Problem(404, "not-found", "No key yet", "the checkpointer has not started yet")
        return {"keys": keys}

    @router.get("/audit/checkpoints")
    def list_checkpoints(
        request: Request,
        principal: Reader,
        limit: PageLimit,  # services/http/limits.py: at most MAX_PAGE_SIZE
        after_id: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        """Signed checkpoints in the order they were made (keyset on id)."""
        with _pool(request).connection() as conn:
            rows = conn.execute(
                "SELECT id, note, requested_by FROM tlog_checkpoints WHERE id > %s ORDER BY id LIMIT %s",
                (after_id, limit),
            ).fetchall()
        items = [_checkpoint_json(int(i), str(n), r) for i, n, r in rows]
        return {"checkpoints": items, "next_after_id": items[-1]["id"] if len(items) == limit else None}

    @router.get("/audit/checkpoints/latest")
    def latest_checkpoint(request: Request, principal: Reader) -> dict[str, Any]:
        with _pool(request).connection() as conn:
            found = _checkpoint_row(conn, "ORDER BY id DESC LIMIT 1", ())
        if found is None:
            raise Problem(404, "not-found", "No checkpoint yet", "no checkpoint has been signed yet")
        return found

    @router.post(
        "/audit/checkpoints",
        status_code=201,
        responses={
            202: {
                "description": "requested, not signed within wait_ms: poll /audit/checkpoints/latest",
                "content": {"application/json": {"schema": {"type": "object"}}},
                "headers": {"Retry-After": {"schema": {"type": "integer"}}},
            }
        },
    )
    def request_checkpoint(
        request: Request,
        principal: Admin,
        wait_ms: Annotated[int, Query(ge=0, le=MAX_WAIT_MS)] = 2000,
    ) -> ORJSONResponse:
        """Ask for a checkpoint now, covering every event stored so far; waits for the checkpointer."""
        pool = _pool(request)
        with pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO tlog_checkpoint_requests (requested_by) VALUES (%s) RETURNING id", (principal.subject,)
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
                    return ORJSONResponse(_checkpoint_json(int(found[0]), str(found[1]), found[2]), status_code=201)
                if time.monotonic() >= deadline:
                    return ORJSONResponse(
                        {"request_id": request_id, "status": "pending"},
                        status_code=202,
                        headers={"Retry-After": "1"},
                    )
                time.sleep(0.02)

    @router.get("/audit/proofs/inclusion")
    def inclusion(
        request: Request,
        principal: Reader,
        position: Annotated[int | None, Query(ge=1)] = None,
        event_id: Annotated[UUID | None, Query()] = None,
        tree_size: Annotated[
            int | None, Query(ge=1, description="a signed checkpoint's size (default: latest)")
        ] = None,
    ) -> dict[str, Any]:
        """Proof that an event is leaf i of the tree of a signed checkpoint (RFC 9162 inclusion proof)."""
        if (position is None) == (event_id is None):
            raise Problem(422, "event-required", "Which event?", "pass exactly one of position= or event_id=")
        with _pool(request).connection() as conn:
            column, value = ("position", position) if position is not None else ("event_id", event_id)
            leaf = conn.execute(
                f"SELECT leaf_index, position, leaf_hash FROM tlog_leaves WHERE {column} = %s", (value,)
            ).fetchone()
            if leaf is None:
                raise Problem(404, "not-found", "Not in the log yet", f"no leaf for {column} {value}")
            index, leaf_position, stored_hash = int(leaf[0]), int(leaf[1]), bytes(leaf[2])
            trail = conn.execute(
                "SELECT canonical, agency FROM rm_audit_trail WHERE position = %s", (leaf_position,)
            ).fetchone()
            if principal.role is Role.AGENCY_REPORTER and (trail is None or trail[1] != principal.agency):
                raise Problem(403, "wrong-agency", "Forbidden", "an agency token proves only its own agency's events")
            if tree_size is None:
                checkpoint = _checkpoint_row(conn, "WHERE tree_size > %s ORDER BY id DESC LIMIT 1", (index,))
            else:
                checkpoint = _checkpoint_row(conn, "WHERE tree_size = %s ORDER BY id DESC LIMIT 1", (tree_size,))
            if checkpoint is None:
                raise Problem(
                    409, "not-yet-checkpointed", "No checkpoint covers it", f"no signed checkpoint covers leaf {index}"
                )
            size = int(checkpoint["tree_size"])
            if index >= size:
                raise Problem(422, "not-covered", "Not covered", f"leaf {index} is not in a tree of size {size}")
            try:
                proof = inclusion_proof(conn, index, size)
            except MissingNode as error:
                raise Problem(409, "inconsistent-log", "Inconsistent log", str(error)) from None
        canonical = bytes(trail[0]) if trail is not None else None
        leaf_h = leaf_hash(canonical) if canonical is not None else stored_hash
        root = SignedCheckpoint.parse_note(checkpoint["note"]).checkpoint.root_hash
        if leaf_h != stored_hash or not verify_inclusion(leaf_h, index, size, proof, root):
            raise Problem(
                409,
                "inconsistent-log",
                "Inconsistent log",
                f"leaf {index} (position {leaf_position}) does not verify against the signed checkpoint of size {size}",
            )
        return {
            "leaf_index": index,
            "tree_size": size,
            "leaf_hash": b64(leaf_h),
            "proof": _b64_list(proof),
            "event": _event_json(canonical) if canonical is not None else None,
            "canonical": b64(canonical) if canonical is not None else None,
            "checkpoint": checkpoint,
        }

    @router.get("/audit/proofs/consistency")
    def consistency(
        request: Request,
        principal: Reader,
        first: Annotated[int, Query(ge=1, description="the older signed checkpoint's size")],
        second: Annotated[int, Query(ge=1, description="the newer signed checkpoint's size")],
    ) -> dict[str, Any]:
        """Proof that the tree of checkpoint `second` extends that of checkpoint `first` (RFC 9162)."""
        if first > second:
            raise Problem(422, "invalid-sizes", "Invalid sizes", "first must not exceed second")
        with _pool(request).connection() as conn:
            old = _checkpoint_row(conn, "WHERE tree_size = %s ORDER BY id DESC LIMIT 1", (first,))
            new = _checkpoint_row(conn, "WHERE tree_size = %s ORDER BY id DESC LIMIT 1", (second,))
            if old is None or new is None:
                raise Problem(404, "not-found", "No such checkpoint", "both sizes must be sizes of signed checkpoints")
            try:
                proof = consistency_proof(conn, first, second)
            except MissingNode as error:
                raise Problem(409, "inconsistent-log", "Inconsistent log", str(error)) from None
        old_root = SignedCheckpoint.parse_note(old["note"]).checkpoint.root_hash
        new_root = SignedCheckpoint.parse_note(new["note"]).checkpoint.root_hash
        if not verify_consistency(first, second, old_root, new_root, proof):
            raise Problem(
                409, "inconsistent-log", "Inconsistent log", f"checkpoint {second} is not consistent with {first}"
            )
        return {"first": old, "second": new, "proof": _b64_list(proof)}

    return router
