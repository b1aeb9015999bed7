"""Sign-in, sign-out, the language switch and the person's own account page.

Messages never say whether a username exists: a wrong password and an unknown name get the same
answer, after the same work (see `infra.passwords.verify_password`).
"""

from __future__ import annotations

import secrets
from math import ceil
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from services.ingest.application.access import Person, SignInRefused, SignInThrottled, sign_in
from services.web.i18n import LANGUAGE_COOKIE, Language, nfc
from services.web.navigation import NavEntry
from services.web.people import load_person, signed_in
from services.web.security import SESSION_COOKIE, SIGNIN_CSRF_COOKIE, CsrfRefused, new_token
from services.web.templating import gettext, render
from services.web.web_side import WebSide, web_side

router = APIRouter(tags=["pages"], include_in_schema=False)
NAV: tuple[NavEntry, ...] = ()

SignedIn = Annotated[Person, Depends(signed_in)]
Web = Annotated[WebSide, Depends(web_side)]


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (never another host)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _sign_in_page(
    request: Request, *, next_url: str, username: str = "", error: str = "", notice: str = "", status_code: int = 200
) -> Response:
    token = new_token()
    response = render(
        request,
        "sign_in.html",
        {"next": next_url, "username": username, "error": error, "notice": notice, "signin_csrf": token},
        status_code=status_code,
    )
    # Double-submit: before sign-in there is no session to hold the form's token.
    response.set_cookie(
        SIGNIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path="/sign-in"
    )
    return response


@router.get("/sign-in")
async def sign_in_form(
    request: Request,
    next: str = "/",
    signed_out: bool = False,
) -> Response:
    if await load_person(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    notice = gettext(request, "You have signed out.") if signed_out else ""
    return _sign_in_page(request, next_url=safe_next(next), notice=notice)


@router.post("/sign-in")
async def sign_in_submit(
    request: Request,
    web: Web,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    expected = request.cookies.get(SIGNIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, csrf_token):
        raise CsrfRefused("the sign-in form has expired: reload the page and try again")
    name = nfc(username).strip()
    client = request.client.host if request.client else "unknown"
    try:
        person = sign_in(web.write, name, password, client)
    except SignInThrottled as error:
        message = gettext(request, "Too many failed attempts. Try again in %(minutes)s minute(s).") % {
            "minutes": max(1, ceil(error.wait_seconds / 60))
        }
        return _sign_in_page(request, next_url=safe_next(next), username=name, error=message, status_code=429)
    except SignInRefused:
        message = gettext(request, "The username or the password is wrong.")
        return _sign_in_page(request, next_url=safe_next(next), username=name, error=message, status_code=401)
    secret, _session = web.sessions.open(person.username, idle=web.session_idle, lifetime=web.session_lifetime)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="lax", secure=_secure(request), path="/")
    response.delete_cookie(SIGNIN_CSRF_COOKIE, path="/sign-in")
    return response


@router.post("/sign-out")
async def sign_out(request: Request, web: Web) -> Response:
    person = await load_person(request)  # checks the form's token when signed in
    secret = request.cookies.get(SESSION_COOKIE, "")
    if person is not None and secret:
        web.sessions.end(secret)
    response = RedirectResponse("/sign-in?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/language")
async def choose_language(
    request: Request,
    lang: Annotated[str, Form(max_length=5)] = "vi",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Switch the pages' language: a preference cookie (signed-in people's posts carry the CSRF token)."""
    await load_person(request)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        LANGUAGE_COOKIE, Language.choose(lang).value, max_age=365 * 86400, samesite="lax", secure=_secure(request)
    )
    return response
