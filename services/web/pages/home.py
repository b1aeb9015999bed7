"""The home page: what each person does first, by role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from domain.identity import Role
from services.ingest.application.access import Person
from services.web.navigation import NavEntry
from services.web.people import signed_in
from services.web.templating import render

router = APIRouter(include_in_schema=False)
NAV = (NavEntry("Home", "/", frozenset(Role), order=0),)


@router.get("/")
async def home(request: Request, person: Annotated[Person, Depends(signed_in)]) -> Response:
    return render(request, "home.html", {"person": person})
