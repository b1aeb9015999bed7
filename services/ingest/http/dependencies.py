"""What the write API's routes share: the write side, the Idempotency-Key and If-Match headers, answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel

from domain.identity import Principal
from services.ingest.application.idempotency import Idempotency
from services.ingest.application.outcomes import Outcome
from services.ingest.application.write_side import WriteSide


# The dependencies that only look something up are coroutines: FastAPI runs a plain function in
# its thread pool, a hand-off per dependency and request.
async def _write_side(request: Request) -> WriteSide:
    write_side: WriteSide = request.app.state.write_side
    return write_side


Write = Annotated[WriteSide, Depends(_write_side)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="1 to 200 printable characters, one per request: a retry with it gets the first answer again",
    ),
]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="the submission version the change is based on")]


def idempotency(principal: Principal, key: str | None, request: Request, body: BaseModel) -> Idempotency | None:
    """The request's Idempotency-Key, bound to its method, path and (parsed) body."""
    if key is None:
        return None
    return Idempotency.of(principal.subject, key, request.method, request.url.path, body.model_dump(mode="json"))


@dataclass(frozen=True)
class WriteCall:
    """What a write route takes besides its path, body and principal: the write side and the Idempotency-Key."""

    write: WriteSide
    request: Request
    key: str | None

    def idempotency(self, principal: Principal, body: BaseModel) -> Idempotency | None:
        return idempotency(principal, self.key, self.request, body)


async def _write_call(request: Request, write: Write, idempotency_key: IdempotencyKey = None) -> WriteCall:
    return WriteCall(write, request, idempotency_key)


Writing = Annotated[WriteCall, Depends(_write_call)]


def answer(outcome: Outcome, status_code: int = 200) -> Response:
    """The outcome's body, byte for byte what a retry with the same Idempotency-Key gets (a new token's
    secret apart: shown in the first answer only)."""
    return Response(outcome.response_body(), status_code=status_code, media_type="application/json")
