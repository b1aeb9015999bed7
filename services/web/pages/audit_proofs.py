"""The transparency log in the browser: the signed checkpoints with the signing key's fingerprint, and
the verification of one event in the auditor's own browser.

The verification page serves only data: the event's inclusion proof and the latest checkpoint come
from this app's JSON endpoints, and `static/js/audit-verify.js` checks the RFC 6962 path and the
Ed25519 signature with `static/js/transparency.js` (WebCrypto), against the published key or one the
auditor pastes, so the auditor need not take the server's word. What each check means, in the
reader's language, is rendered here; the script only fills in which passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from domain.errors import DomainError, NotFound
from infra.integration_events import VALUE_EVENTS, EventType, IntegrationEvent
from services.audit.transparency import PublishedKey, StoredCheckpoint
from services.http.problems import from_domain_error, problem_response
from services.ingest.application.access import Person
from services.readmodels.audit_trail.queries import TrailEvent
from services.web.labels import ROLES
from services.web.navigation import NavEntry
from services.web.pages.audit_common import (
    AUDIT_READERS,
    EVENT_LABELS,
    Fields,
    agency_name,
    indicator_name,
    label,
    only_agency,
    period_label,
    precise_instant,
    require_agency,
    tabs,
    value_text,
)
from services.web.people import require
from services.web.templating import gettext, language_of, render
from services.web.web_side import WebSide, web_side

router = APIRouter(include_in_schema=False)
NAV: tuple[NavEntry, ...] = ()

CHECKPOINT_PAGE = 20
MAX_CHECKPOINT_PAGE = 200

Reader = Annotated[Person, Depends(require(*AUDIT_READERS))]
Web = Annotated[WebSide, Depends(web_side)]


def grouped(hex_text: str, size: int = 4) -> str:
    """A long hex string in groups, easier to compare by eye: "1a2b 3c4d ..."."""
    return " ".join(hex_text[i : i + size] for i in range(0, len(hex_text), size))


@dataclass(frozen=True)
class KeyView:
    name: str
    key_id: str
    fingerprint: str  # SHA-256 of the raw public key, hex in groups
    vkey: str
    created_at: str


def key_view(request: Request, key: PublishedKey) -> KeyView:
    return KeyView(
        key.key.name,
        key.key.key_id.hex(),
        grouped(key.fingerprint),
        key.key.vkey(),
        precise_instant(language_of(request), key.created_at),
    )


def published_keys(request: Request, web: WebSide) -> list[KeyView]:
    """The keys that sign checkpoints, the newest first (none before the checkpointer first ran)."""
    try:
        return [key_view(request, key) for key in web.read.transparency.public_keys()]
    except NotFound:
        return []


def latest_checkpoint(web: WebSide) -> StoredCheckpoint | None:
    try:
        return web.read.transparency.latest()
    except NotFound:
        return None


@dataclass(frozen=True)
class CheckpointRow:
    id: int
    tree_size: int
    last_position: int
    time: str
    time_iso: str
    root: str
    key_name: str
    key_id: str
    fingerprint: str  # '' when no published key has this id
    requested: bool


def checkpoint_row(request: Request, checkpoint: StoredCheckpoint, keys: dict[str, KeyView]) -> CheckpointRow:
    signed = checkpoint.signed
    key = keys.get(signed.key_id.hex())
    return CheckpointRow(
        checkpoint.id,
        checkpoint.tree_size,
        signed.checkpoint.last_position,
        precise_instant(language_of(request), signed.checkpoint.issued_at),
        signed.checkpoint.issued_at.isoformat(),
        checkpoint.to_json()["root_hash"],
        signed.key_name,
        signed.key_id.hex(),
        key.fingerprint if key is not None and key.name == signed.key_name else "",
        checkpoint.requested,
    )


@router.get("/audit/checkpoints")
def checkpoints_page(
    request: Request,
    person: Reader,
    web: Web,
    before_id: Annotated[int | None, Query(ge=1)] = None,
    after_id: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_CHECKPOINT_PAGE)] = CHECKPOINT_PAGE,
) -> Response:
    """The signed checkpoints, the newest first, a page at a time (keyset on id, both ways)."""
    log = web.read.transparency
    if after_id is not None:  # the newer page: ids above after_id, nearest first, shown newest first
        found = log.checkpoints(after_id, limit + 1)
        newer, items, older = len(found) > limit, found[:limit][::-1], True
    else:
        items, older = log.recent_checkpoints(before_id, limit)
        newer = before_id is not None
    keys = published_keys(request, web)
    by_id = {key.key_id: key for key in keys}
    size = {} if limit == CHECKPOINT_PAGE else {"limit": limit}
    paging = {
        "newest": "/audit/checkpoints" + _query(size) if newer else "",
        "newer": "/audit/checkpoints" + _query({**size, "after_id": items[0].id}) if newer and items else "",
        "older": "/audit/checkpoints" + _query({**size, "before_id": items[-1].id}) if older and items else "",
    }
    context = {
        "tabs": tabs(request, person),
        "keys": keys,
        "rows": [checkpoint_row(request, checkpoint, by_id) for checkpoint in items],
        "paging": paging,
    }
    return render(request, "audit/checkpoints.html", context)


def _query(params: dict[str, int]) -> str:
    return "?" + "&".join(f"{name}={value}" for name, value in params.items()) if params else ""


@router.get("/audit/checkpoints/{checkpoint_id}.note")
def checkpoint_note(person: Reader, web: Web, checkpoint_id: int) -> Response:
    """The signed note itself, to keep (`reporting audit verify --checkpoints` takes it)."""
    note = web.read.transparency.checkpoint(checkpoint_id).signed.note()
    return Response(
        note,
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="checkpoint-{checkpoint_id}.note"'},
    )


# ---- verification in the browser ------------------------------------------------------------


@dataclass(frozen=True)
class CheckText:
    """What one check of the verification means, in the reader's language."""

    name: str
    label: str
    passed: str
    failed: str


# Every check `transparency.js` (and `audit-verify.js`) may report, in the order they run.
CHECKS: tuple[tuple[str, str, str, str], ...] = (
    (
        "fetch",
        "Proof and checkpoint fetched",
        "The inclusion proof and the latest signed checkpoint were fetched from the server.",
        "The proof or the checkpoint could not be fetched from the server.",
    ),
    (
        "input",
        "Proof well formed",
        "The proof holds every member a check needs.",
        "The proof is incomplete or malformed.",
    ),
    (
        "verifier-key",
        "Verifier key",
        "The verifier key is a well-formed Ed25519 key and its key id is that of its key.",
        "The verifier key cannot be used.",
    ),
    (
        "note",
        "Signed checkpoint",
        "The checkpoint note is well formed.",
        "The checkpoint note is malformed.",
    ),
    (
        "key-id",
        "Key named in the checkpoint",
        "The checkpoint names this key (its name and key id).",
        "The checkpoint names another key than the verifier key.",
    ),
    (
        "signature",
        "Ed25519 signature",
        "The checkpoint's signature verifies with the verifier key.",
        "The signature does not verify: the checkpoint was altered, or another key signed it.",
    ),
    (
        "latest",
        "Latest checkpoint",
        "The proof refers to the latest signed checkpoint.",
        "The proof refers to another checkpoint than the latest one.",
    ),
    (
        "tree-size",
        "Tree size",
        "The proof is for the tree size the checkpoint signs.",
        "The proof is for another tree size than the checkpoint's.",
    ),
    (
        "leaf-index",
        "Leaf index",
        "The event's leaf lies within the signed tree.",
        "The event's leaf index lies outside the signed tree.",
    ),
    (
        "leaf-hash",
        "Event's hash",
        "SHA-256 of the event's bytes is the leaf the server names.",
        "The event's bytes do not hash to the leaf the server names.",
    ),
    (
        "inclusion",
        "RFC 6962 audit path",
        "The audit path leads from the event to the checkpoint's signed root.",
        "The audit path does not lead to the signed root: the event or the proof was altered.",
    ),
    (
        "checkpoint-fields",
        "Checkpoint fields",
        "The checkpoint's other fields agree with its signed note.",
        "The checkpoint's other fields disagree with its signed note.",
    ),
    (
        "event-json",
        "Event shown",
        "The event shown with the proof is the one proved.",
        "The event shown with the proof differs from the bytes that were proved.",
    ),
    (
        "event",
        "The event asked for",
        "The bytes proved are those of the event at this position, with this event id.",
        "The bytes proved are those of another event.",
    ),
    (
        "error",
        "Verification",
        "The verification ran to its end.",
        "The verification stopped.",
    ),
)


def check_texts(request: Request) -> list[CheckText]:
    return [CheckText(name, *(gettext(request, text) for text in texts)) for name, *texts in CHECKS]


@dataclass(frozen=True)
class EventView:
    position: int
    event_id: str
    type_label: str
    time: str
    agency: str
    period: str
    indicator: str
    value: str
    previous: str | None
    actor: str
    role: str
    reason: str
    canonical: str  # the published bytes, pretty-printed
    agency_of: str | None


def event_view(request: Request, web: WebSide, stored: TrailEvent) -> EventView:
    event = IntegrationEvent.from_bytes(stored.canonical)
    ref = web.read.reference.snapshot()
    agency = f"{event.agency} — {agency_name(request, ref, event.agency, event.period)}" if event.agency else ""
    indicator = f"{event.indicator} — {indicator_name(request, ref, event.indicator)}" if event.indicator else ""
    is_value = event.event_type in VALUE_EVENTS
    return EventView(
        event.position,
        str(event.event_id),
        label(request, EVENT_LABELS, event.event_type),
        precise_instant(language_of(request), event.occurred_at),
        agency,
        period_label(request, event.period),
        indicator,
        value_text(request, event.value) if is_value else "",
        value_text(request, event.previous_value) if event.event_type is EventType.VALUE_CORRECTED else None,
        event.actor or "",
        label(request, ROLES, event.role),
        event.reason or "",
        orjson.dumps(orjson.loads(stored.canonical), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode(),
        event.agency,
    )


@router.get("/audit/verify")
def verify_page(
    request: Request, person: Reader, web: Web, position: Annotated[str, Query(max_length=25)] = ""
) -> Response:
    fields = Fields({"position": position})
    chosen = fields.position("position", request)
    event = None
    if chosen is not None:
        stored = web.read.audit_trail.event(chosen)
        if stored is None:
            fields.refuse("position", gettext(request, "The audit trail holds no event at this position."))
        else:
            require_agency(person, stored.agency)
            event = event_view(request, web, stored)
    keys = published_keys(request, web)
    latest = latest_checkpoint(web)
    # The key that signed the latest checkpoint, else the newest published one.
    signer = next((k for k in keys if latest is not None and k.key_id == latest.signed.key_id.hex()), None)
    context = {
        "tabs": tabs(request, person),
        "fields": fields,
        "event": event,
        "key": signer or (keys[0] if keys else None),
        "latest": latest,
        "covered": event is not None
        and latest is not None
        and latest.signed.checkpoint.last_position >= event.position,
        "checks": check_texts(request),
    }
    return render(request, "audit/verify.html", context, status_code=422 if fields.errors else 200)


def _json(answer: Any) -> Response:
    return Response(orjson.dumps(answer), media_type="application/json")


@router.get("/audit/checkpoints/latest.json")
def latest_checkpoint_json(request: Request, person: Reader, web: Web) -> Response:
    """The latest signed checkpoint, as the reports API's `/audit/checkpoints/latest` answers it."""
    try:
        return _json(web.read.transparency.latest().to_json())
    except DomainError as refused:
        return problem_response(from_domain_error(refused), request.url.path)


@router.get("/audit/proofs/inclusion.json")
def inclusion_json(
    request: Request,
    person: Reader,
    web: Web,
    position: Annotated[int, Query(ge=1)],
    tree_size: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """An event's inclusion proof, as the reports API's `/audit/proofs/inclusion` answers it (a clerk: only
    their own agency's events)."""
    try:
        proof = web.read.transparency.inclusion(position=position, tree_size=tree_size, only_agency=only_agency(person))
        return _json(proof.to_json())
    except DomainError as refused:
        return problem_response(from_domain_error(refused), request.url.path)
