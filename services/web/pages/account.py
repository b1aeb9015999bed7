"""Sign-in, sign-out, the language switch and the person's own account page.

Messages never say whether a username exists: a wrong password and an unknown name get the same
answer, after the same work (see `infra.passwords.verify_password`).
"""

from __future__ import annotations

import secrets
from math import ceil
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from services.ingest.application.access import (
    Person,
    SignInRefused,
    SignInThrottled,
    WeakPassword,
    WrongPassword,
    change_password,
    sign_in,
    sign_out_everywhere,
)
from services.ingest.application.commands import ChangePassword
from services.web.forms import FormErrors
from services.web.i18n import LANGUAGE_COOKIE, Language, nfc
from services.web.naming import agencies_of, agency_label, role_labels
from services.web.navigation import NavEntry
from services.web.people import SessionEntry, load_person, signed_in
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


ENDED = {
    "session": "Your session has ended. Sign in again.",
    "everywhere": "You have signed out everywhere: every session of yours has ended.",
}


@router.get("/sign-in")
async def sign_in_form(
    request: Request,
    next: Annotated[str, Query(max_length=2000)] = "/",
    signed_out: bool = False,
    ended: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    if await load_person(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    notice = gettext(request, "You have signed out.") if signed_out else ""
    if ended in ENDED:
        notice = gettext(request, ENDED[ended])
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
    secret, _session = web.sessions.open(
        person.username,
        idle=web.session_idle,
        lifetime=web.session_lifetime,
        client=client,
        user_agent=request.headers.get("user-agent", ""),
    )
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


# ---- the person's own account ---------------------------------------------------------------

BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
SYSTEMS = (("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iOS"), ("Windows", "Windows"), ("Mac OS X", "macOS"))


def browser_of(user_agent: str) -> str:
    """A session's browser and system as a person recognises them ("Chrome · Windows"), from its User-Agent."""
    browser = next((name for marker, name in BROWSERS if marker in user_agent), "")
    system = next((name for marker, name in SYSTEMS if marker in user_agent), "Linux" if "Linux" in user_agent else "")
    return " · ".join(part for part in (browser, system) if part) or user_agent[:60]


def _account_page(
    request: Request,
    person: Person,
    web: WebSide,
    *,
    errors: FormErrors | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Response:
    sessions: list[SessionEntry] = list(web.sessions.active(person.username, request.cookies.get(SESSION_COOKIE, "")))
    return render(
        request,
        "account.html",
        {
            "person": person,
            "agency": agency_label(request, agencies_of(web), person.agency),
            "roles": role_labels(request, sorted(person.principal.roles)),
            "sessions": [(entry, browser_of(entry.user_agent)) for entry in sessions],
            "errors": errors or FormErrors(),
            "notice": notice,
            "idle_minutes": round(web.session_idle.total_seconds() / 60, 1),
            "lifetime_hours": round(web.session_lifetime.total_seconds() / 3600, 1),
        },
        status_code=status_code,
    )


@router.get("/account")
async def account(request: Request, person: SignedIn, web: Web) -> Response:
    """Who the person is, their roles, their open sessions; changing the password, signing out everywhere."""
    return _account_page(request, person, web)


@router.post("/account/password")
async def new_password(
    request: Request,
    person: SignedIn,
    web: Web,
    current: Annotated[str, Form(max_length=1000)] = "",
    new: Annotated[str, Form(max_length=1000)] = "",
    new_again: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Change one's own password (proving the current one); every other session of the person ends."""
    errors = FormErrors()
    if not current:
        errors.add("current", gettext(request, "Give your current password."))
    if new != new_again:
        errors.add("new_again", gettext(request, "The two passwords are not the same."))
    if not errors:
        try:
            change_password(web.write, person, ChangePassword(current, new))
        except WrongPassword as error:
            errors.refusal(request, "current", error)
        except SignInThrottled as error:
            message = gettext(request, "Too many failed attempts. Try again in %(minutes)s minute(s).")
            errors.add("current", message % {"minutes": max(1, ceil(error.wait_seconds / 60))})
        except WeakPassword as error:
            errors.refusal(request, "new", error)
        else:
            web.sessions.end_all(person.username, keep=request.cookies.get(SESSION_COOKIE, ""))
            notice = gettext(request, "Your password was changed; your other sessions have ended.")
            return _account_page(request, person, web, notice=notice)
    return _account_page(request, person, web, errors=errors, status_code=422)


@router.post("/account/sign-out-everywhere")
async def everywhere(request: Request, person: SignedIn, web: Web) -> Response:
    """End every session of the person, this one too (recorded as an event: who, when)."""
    sign_out_everywhere(web.write, person)
    web.sessions.end_all(person.username)
    response = RedirectResponse("/sign-in?ended=everywhere", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
