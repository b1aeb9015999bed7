"""`/audit/public-key`, `/audit/checkpoints`, `/audit/proofs/*`: the transparency log (docs/AUDIT.md).

Signed checkpoints, the public key, inclusion and consistency proofs (each checked against the
signed checkpoint it refers to), and on-demand checkpoints for admins (fulfilled by the
checkpointer, which alone holds the key).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import ORJSONResponse

from domain.identity import Role
from services.http.limits import PageLimit
from services.reports.dependencies import MAX_WAIT_MS, Admin, Read, Reader

router = APIRouter(tags=["audit"])


@router.get("/audit/public-key")
def public_key(principal: Reader, read: Read) -> dict[str, Any]:
    """The Ed25519 keys that sign checkpoints (the newest first), as raw base64 and as verifier keys."""
    return {"keys": [key.to_json() for key in read.transparency.public_keys()]}


@router.get("/audit/checkpoints")
def list_checkpoints(
    principal: Reader,
    limit: PageLimit,  # services/http/limits.py: at most MAX_PAGE_SIZE
    read: Read,
    after_id: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Signed checkpoints in the order they were made (keyset on id)."""
    items = [checkpoint.to_json() for checkpoint in read.transparency.checkpoints(after_id, limit)]
    return {"checkpoints": items, "next_after_id": items[-1]["id"] if len(items) == limit else None}


@router.get("/audit/checkpoints/latest")
def latest_checkpoint(principal: Reader, read: Read) -> dict[str, Any]:
    return read.transparency.latest().to_json()


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
    principal: Admin,
    read: Read,
    wait_ms: Annotated[int, Query(ge=0, le=MAX_WAIT_MS)] = 2000,
) -> ORJSONResponse:
    """Ask for a checkpoint now, covering every event stored so far; waits for the checkpointer."""
    request = read.transparency.request_checkpoint(principal.subject, wait_ms)
    if request.checkpoint is not None:
        return ORJSONResponse(request.checkpoint.to_json(), status_code=201)
    return ORJSONResponse(
        {"request_id": request.request_id, "status": "pending"}, status_code=202, headers={"Retry-After": "1"}
    )


@router.get("/audit/proofs/inclusion")
def inclusion(
    principal: Reader,
    read: Read,
    position: Annotated[int | None, Query(ge=1)] = None,
    event_id: Annotated[UUID | None, Query()] = None,
    tree_size: Annotated[int | None, Query(ge=1, description="a signed checkpoint's size (default: latest)")] = None,
) -> dict[str, Any]:
    """Proof that an event is leaf i of the tree of a signed checkpoint (RFC 9162 inclusion proof)."""
    only_agency = principal.agency if principal.role is Role.AGENCY_REPORTER else None
    proof = read.transparency.inclusion(
        position=position, event_id=event_id, tree_size=tree_size, only_agency=only_agency
    )
    return proof.to_json()


@router.get("/audit/proofs/consistency")
def consistency(
    principal: Reader,
    read: Read,
    first: Annotated[int, Query(ge=1, description="the older signed checkpoint's size")],
    second: Annotated[int, Query(ge=1, description="the newer signed checkpoint's size")],
) -> dict[str, Any]:
    """Proof that the tree of checkpoint `second` extends that of checkpoint `first` (RFC 9162)."""
    return read.transparency.consistency(first, second).to_json()
