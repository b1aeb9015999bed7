"""The administrators' pages: people (create, roles, rename, disable and enable, reset a password) and
systems' API tokens (issue, with the secret shown once; revoke).

Every change goes through the write application's handlers (`services/ingest/application/access.py`
and `tokens.py`), so each is an event in the audited log; the lists read the access read model
(`services/readmodels/access/`), and a page shown after a change waits until it shows the change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from domain.access import (
    AccountExists,
    InvalidAccount,
    InvalidToken,
    check_roles,
    check_token_role,
    clean_display_name,
    clean_label,
    clean_reason,
    clean_username,
)
from domain.errors import DomainError, NotFound
from domain.identity import Role
from services.ingest.application import access as accounts
from services.ingest.application import tokens as token_handlers
from services.ingest.application.access import Person, WeakPassword, check_password
from services.ingest.application.commands import (
    CreateAccount,
    DisableAccount,
    EnableAccount,
    IssueToken,
    RenameAccount,
    ResetPassword,
    RevokeToken,
    SetRoles,
)
from services.ingest.application.errors import IdempotencyKeyReused
from services.ingest.application.outcomes import Outcome, TokenIssued
from services.readmodels.access.queries import PersonRow, TokenRow, TokenStatus
from services.readmodels.reference.snapshot import AgencyInfo
from services.web.forms import FormErrors, form_idempotency, new_form_key, position_of, wait_visible
from services.web.i18n import nfc
from services.web.labels import ROLES
from services.web.naming import (
    MINISTRY,
    Choice,
    agencies_of,
    agency_choices,
    agency_label,
    role_choices,
    role_labels,
    who,
)
from services.web.navigation import NavEntry
from services.web.people import require
from services.web.templating import gettext, render
from services.web.web_side import WebSide, web_side

router = APIRouter(prefix="/admin", include_in_schema=False)
NAV = (
    NavEntry("People", "/admin/people", frozenset({Role.ADMIN}), order=80),
    NavEntry("API tokens", "/admin/tokens", frozenset({Role.ADMIN}), order=81),
)

Admin = Annotated[Person, Depends(require(Role.ADMIN))]
Web = Annotated[WebSide, Depends(web_side)]
Text = Annotated[str, Form(max_length=2000)]
Secret = Annotated[str, Form(max_length=1000)]
Key = Annotated[str, Form(max_length=200)]
Username = Annotated[str, Path(max_length=200)]
TokenName = Annotated[str, Path(max_length=200)]
Search = Annotated[str, Query(max_length=100)]

PAGE_SIZE = 50
CHANGE_LABELS = {
    "AccountCreated": "Account created",
    "AccountRoleGranted": "Role granted",
    "AccountRoleWithdrawn": "Role withdrawn",
    "AccountRenamed": "Display name changed",
    "AccountDisabled": "Disabled",
    "AccountEnabled": "Enabled again",
    "AccountPasswordSet": "Password set",
    "AccountSignedOutEverywhere": "Signed out everywhere",
}
TOKEN_STATUS_LABELS = {TokenStatus.ACTIVE: "Active", TokenStatus.EXPIRED: "Expired", TokenStatus.REVOKED: "Revoked"}
DONE = {
    "created": "The account was created.",
    "roles": "The roles were saved.",
    "renamed": "The display name was changed.",
    "disabled": "The account was disabled and its sessions ended.",
    "enabled": "The account was enabled again.",
    "password": "The password was reset and the person's sessions ended.",
    "revoked": "The token was revoked: it is refused from its next request on.",
    "unchanged": "Nothing changed.",
}
LATE = "The change is saved; the lists may take a moment to show it."


# ---- what the templates show ---------------------------------------------------------------


def person_view(request: Request, agencies: Mapping[str, AgencyInfo], row: PersonRow) -> dict[str, Any]:
    return {
        "row": row,
        "agency": agency_label(request, agencies, row.agency),
        "roles": role_labels(request, row.roles),
        "status": gettext(request, "Enabled" if row.enabled else "Disabled"),
        "change": gettext(request, CHANGE_LABELS.get(row.last_change, row.last_change)),
        "created_by": who(row.created_by),
        "changed_by": who(row.changed_by),
    }


def token_view(request: Request, agencies: Mapping[str, AgencyInfo], row: TokenRow) -> dict[str, Any]:
    return {
        "row": row,
        "agency": agency_label(request, agencies, row.agency),
        "role": gettext(request, ROLES[row.role]),
        "status": gettext(request, TOKEN_STATUS_LABELS[row.status]),
        "issued_by": who(row.issued_by),
        "revoked_by": who(row.revoked_by),
    }


def _done(request: Request, done: str, late: bool) -> str:
    notice = gettext(request, DONE[done]) if done in DONE else ""
    if notice and late:
        notice += " " + gettext(request, LATE)
    return notice


def _after_change(web: WebSide, outcome: Outcome, target: str, done: str) -> Response:
    """Back to a page that shows the change: once the read model has it (or says it may take a moment)."""
    late = "" if wait_visible(web.read.access, outcome) else "&late=1"
    return RedirectResponse(f"{target}?done={done}{late}", status_code=303)


def _agency_of(choice: str, errors: FormErrors, request: Request, web: WebSide) -> str | None:
    """The agency chosen in a form (None: the ministry); an error next to the field otherwise."""
    if choice == MINISTRY:
        return None
    if not choice:
        errors.add("agency", gettext(request, "Choose the agency, or the ministry."))
    elif choice not in agencies_of(web):
        errors.add("agency", gettext(request, "Choose an agency of the list."))
    return choice or None


def _roles_of(values: Sequence[str], errors: FormErrors, request: Request) -> frozenset[Role]:
    known = {role.value for role in Role}
    roles = frozenset(Role(value) for value in values if value in known)
    if not roles:
        errors.add("roles", gettext(request, "Choose at least one role."))
    return roles


def _check(errors: FormErrors, request: Request, name: str, check: Callable[[], object]) -> None:
    """Run one of the domain's own checks for one field; its refusal goes next to that field."""
    try:
        check()
    except DomainError as error:
        errors.refusal(request, name, error)


def _new_passwords(
    errors: FormErrors, request: Request, username: str, password: str, repeated: str, field: str = "password"
) -> None:
    _check(errors, request, field, lambda: check_password(password, username))
    if password != repeated and field not in errors.fields:
        errors.add(f"{field}_again", gettext(request, "The two passwords are not the same."))


def _replayed_elsewhere(errors: FormErrors, request: Request) -> None:
    errors.general = gettext(request, "This form was already sent with other values: reload the page and try again.")


# ---- people --------------------------------------------------------------------------------


@router.get("/people")
async def people(
    request: Request,
    person: Admin,
    web: Web,
    q: Search = "",
    agency: Annotated[str, Query(max_length=100)] = "",
    role: Annotated[str, Query(max_length=30)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    after: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Every person with an account: search by username or name (diacritics ignored), filter by
    agency or the ministry, role and status."""
    roles = {r.value for r in Role}
    agencies = agencies_of(web)
    enabled = {"enabled": True, "disabled": False}.get(status)
    page = web.read.access.people(
        search=q,
        agency=agency if agency and agency != MINISTRY else None,
        ministry=agency == MINISTRY,
        role=role if role in roles else None,
        enabled=enabled,
        after=after,
        limit=PAGE_SIZE,
    )
    counts = web.read.access.counts()
    return render(
        request,
        "admin_people.html",
        {
            "rows": [person_view(request, agencies, row) for row in page.rows],
            "next_after": page.next_after,
            "filters": {"q": q, "agency": agency, "role": role if role in roles else "", "status": status},
            "agencies": agency_choices(request, agencies, include_all=True),
            "roles": [Choice("", gettext(request, "All")), *role_choices(request)],
            "statuses": [
                Choice("", gettext(request, "All")),
                Choice("enabled", gettext(request, "Enabled")),
                Choice("disabled", gettext(request, "Disabled")),
            ],
            "counts": counts,
            "filtered": bool(q or agency or role or status),
            "after": after,
        },
    )


TAKEN = "This username is taken: choose another."


def _exists(web: WebSide, username: str) -> bool:
    try:
        web.read.access.person(username)
    except NotFound:
        return False
    return True


def _new_person_page(
    request: Request, web: WebSide, values: Mapping[str, Any], errors: FormErrors, status_code: int = 200
) -> Response:
    return render(
        request,
        "admin_person_new.html",
        {
            "values": values,
            "errors": errors,
            "agencies": agency_choices(request, agencies_of(web), include_all=False),
            "roles": role_choices(request),
            "form_key": values.get("form_key") or new_form_key(),
        },
        status_code=status_code,
    )


@router.get("/people/new")
async def new_person(request: Request, person: Admin, web: Web) -> Response:
    return _new_person_page(request, web, {"roles": []}, FormErrors())


@router.post("/people")
async def create_person(
    request: Request,
    person: Admin,
    web: Web,
    username: Annotated[str, Form(max_length=200)] = "",
    display_name: Text = "",
    agency: Annotated[str, Form(max_length=100)] = "",
    roles: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies form defaults
    password: Secret = "",
    password_again: Secret = "",
    form_key: Key = "",
) -> Response:
    """Create a person's account with a first password; each refusal is shown next to its field."""
    name = nfc(username).strip().lower()
    values = {"username": username, "display_name": display_name, "agency": agency, "roles": roles}
    errors = FormErrors()
    _check(errors, request, "username", lambda: clean_username(name))
    if "username" not in errors.fields and _exists(web, name):  # said with the other fields' errors
        errors.add("username", gettext(request, TAKEN))
    _check(errors, request, "display_name", lambda: clean_display_name(display_name))
    chosen_agency = _agency_of(agency, errors, request, web)
    chosen_roles = _roles_of(roles, errors, request)
    if "agency" not in errors.fields and "roles" not in errors.fields:
        _check(errors, request, "roles", lambda: check_roles(chosen_roles, chosen_agency))
    _new_passwords(errors, request, name, password, password_again)
    if not errors:
        command = CreateAccount(name, nfc(display_name), chosen_agency, chosen_roles, password)
        key = form_idempotency(person, request, form_key, values)  # never the password
        try:
            outcome = accounts.create_account(web.write, person.principal, command, idempotency=key)
        except AccountExists:
            errors.add("username", gettext(request, TAKEN))
        except WeakPassword as error:
            errors.refusal(request, "password", error)
        except InvalidAccount as error:
            errors.refusal(request, "", error)
        else:
            return _after_change(web, outcome, f"/admin/people/{name}", "created")
    return _new_person_page(request, web, {**values, "form_key": form_key}, errors, status_code=422)


def _person_page(
    request: Request,
    web: WebSide,
    me: Person,
    username: str,
    *,
    form: str = "",
    errors: FormErrors | None = None,
    values: Mapping[str, Any] | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Response:
    row = web.read.access.person(username)
    return render(
        request,
        "admin_person.html",
        {
            "person": person_view(request, agencies_of(web), row),
            "roles": role_choices(request),
            "is_me": row.username == me.username,
            "form": form,
            "errors": errors or FormErrors(),
            "values": values or {},
            "notice": notice,
            "form_key": new_form_key(),
        },
        status_code=status_code,
    )


@router.get("/people/{username}")
async def person_page(
    request: Request,
    person: Admin,
    web: Web,
    username: Username,
    done: Annotated[str, Query(max_length=20)] = "",
    late: bool = False,
) -> Response:
    return _person_page(request, web, person, username, notice=_done(request, done, late))


def _change(
    request: Request,
    web: WebSide,
    errors: FormErrors,
    run: Callable[[], Outcome],
    field: str,
    target: str,
    done: str,
    again: Callable[[FormErrors], Response],
) -> Response:
    """One change of a page: `run` if its fields passed, its refusal next to `field` and the page shown
    `again`; or on to `target`, which shows the change."""
    if not errors:
        try:
            outcome = run()
        except IdempotencyKeyReused:
            _replayed_elsewhere(errors, request)
        except DomainError as error:
            errors.refusal(request, field, error)
        else:
            return _after_change(web, outcome, target, done if position_of(outcome) is not None else "unchanged")
    return again(errors)


def _person_change(
    request: Request,
    web: WebSide,
    me: Person,
    username: str,
    form: str,
    errors: FormErrors,
    values: Mapping[str, Any],
    run: Callable[[], Outcome],
    done: str,
    field: str,
) -> Response:
    """One change of the person page (`form` names which of its forms)."""

    def again(found: FormErrors) -> Response:
        return _person_page(request, web, me, username, form=form, errors=found, values=values, status_code=422)

    return _change(request, web, errors, run, field, f"/admin/people/{username}", done, again)


@router.post("/people/{username}/roles")
async def change_roles(
    request: Request,
    person: Admin,
    web: Web,
    username: Username,
    roles: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies form defaults
    form_key: Key = "",
) -> Response:
    errors = FormErrors()
    chosen = _roles_of(roles, errors, request)
    key = form_idempotency(person, request, form_key, {"roles": sorted(roles)})
    command = SetRoles(username, chosen)
    return _person_change(
        request,
        web,
        person,
        username,
        "roles",
        errors,
        {"roles": roles},
        lambda: accounts.set_roles(web.write, person.principal, command, idempotency=key),
        "roles",
        "roles",
    )


@router.post("/people/{username}/name")
async def rename(
    request: Request, person: Admin, web: Web, username: Username, display_name: Text = "", form_key: Key = ""
) -> Response:
    errors = FormErrors()
    _check(errors, request, "display_name", lambda: clean_display_name(display_name))
    key = form_idempotency(person, request, form_key, {"display_name": display_name})
    command = RenameAccount(username, nfc(display_name))
    return _person_change(
        request,
        web,
        person,
        username,
        "name",
        errors,
        {"display_name": display_name},
        lambda: accounts.rename_account(web.write, person.principal, command, idempotency=key),
        "renamed",
        "display_name",
    )


def _reason(errors: FormErrors, request: Request, reason: str) -> str | None:
    """A required reason (it is kept in the audit trail)."""
    _check(errors, request, "reason", lambda: clean_reason(reason))
    if "reason" not in errors.fields and not nfc(reason).strip():
        errors.add("reason", gettext(request, "Give the reason: it is kept in the audit trail."))
    return nfc(reason).strip() or None


@router.post("/people/{username}/disable")
async def disable(
    request: Request, person: Admin, web: Web, username: Username, reason: Text = "", form_key: Key = ""
) -> Response:
    """Disable the account: the person can no longer sign in, and their open sessions end now."""
    errors = FormErrors()
    given = _reason(errors, request, reason)
    key = form_idempotency(person, request, form_key, {"reason": reason})

    def run() -> Outcome:
        outcome = accounts.disable_account(
            web.write, person.principal, DisableAccount(username, given), idempotency=key
        )
        web.sessions.end_all(username)
        return outcome

    return _person_change(
        request, web, person, username, "status", errors, {"reason": reason}, run, "disabled", "reason"
    )


@router.post("/people/{username}/enable")
async def enable(
    request: Request, person: Admin, web: Web, username: Username, reason: Text = "", form_key: Key = ""
) -> Response:
    errors = FormErrors()
    given = _reason(errors, request, reason)
    key = form_idempotency(person, request, form_key, {"reason": reason})
    command = EnableAccount(username, given)
    return _person_change(
        request,
        web,
        person,
        username,
        "status",
        errors,
        {"reason": reason},
        lambda: accounts.enable_account(web.write, person.principal, command, idempotency=key),
        "enabled",
        "reason",
    )


@router.post("/people/{username}/password")
async def reset_password(
    request: Request,
    person: Admin,
    web: Web,
    username: Username,
    password: Secret = "",
    password_again: Secret = "",
) -> Response:
    """Set a new password for the person (who forgot theirs, or whose account was exposed): every
    session of theirs ends."""
    errors = FormErrors()
    _new_passwords(errors, request, username, password, password_again)

    def run() -> Outcome:
        outcome = accounts.reset_password(web.write, person.principal, ResetPassword(username, password))
        web.sessions.end_all(username)
        return outcome

    return _person_change(request, web, person, username, "password", errors, {}, run, "password", "password")


# ---- API tokens ----------------------------------------------------------------------------


@router.get("/tokens")
async def tokens(
    request: Request,
    person: Admin,
    web: Web,
    q: Search = "",
    agency: Annotated[str, Query(max_length=100)] = "",
    role: Annotated[str, Query(max_length=30)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    after: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Systems' tokens (never their secrets): search by name or label, filter by agency, role, status."""
    roles = {r.value for r in Role}
    agencies = agencies_of(web)
    chosen_status = TokenStatus(status) if status in {s.value for s in TokenStatus} else None
    page = web.read.access.tokens(
        search=q,
        agency=agency if agency and agency != MINISTRY else None,
        ministry=agency == MINISTRY,
        role=role if role in roles else None,
        status=chosen_status,
        after=after,
        limit=PAGE_SIZE,
    )
    return render(
        request,
        "admin_tokens.html",
        {
            "rows": [token_view(request, agencies, row) for row in page.rows],
            "next_after": page.next_after,
            "filters": {
                "q": q,
                "agency": agency,
                "role": role if role in roles else "",
                "status": chosen_status.value if chosen_status else "",
            },
            "agencies": agency_choices(request, agencies, include_all=True),
            "roles": [Choice("", gettext(request, "All")), *role_choices(request)],
            "statuses": [
                Choice("", gettext(request, "All")),
                *(Choice(s.value, gettext(request, label)) for s, label in TOKEN_STATUS_LABELS.items()),
            ],
            "counts": web.read.access.counts(),
            "filtered": bool(q or agency or role or status),
            "after": after,
        },
    )


def _new_token_page(
    request: Request, web: WebSide, values: Mapping[str, Any], errors: FormErrors, status_code: int = 200
) -> Response:
    return render(
        request,
        "admin_token_new.html",
        {
            "values": values,
            "errors": errors,
            "agencies": agency_choices(request, agencies_of(web), include_all=False),
            "roles": [Choice("", gettext(request, "— Choose —")), *role_choices(request)],
            "form_key": values.get("form_key") or new_form_key(),
            "today": web.write.clock.today().isoformat(),
        },
        status_code=status_code,
    )


@router.get("/tokens/new")
async def new_token(request: Request, person: Admin, web: Web) -> Response:
    return _new_token_page(request, web, {}, FormErrors())


@router.post("/tokens")
async def issue_token(
    request: Request,
    person: Admin,
    web: Web,
    label: Text = "",
    role: Annotated[str, Form(max_length=30)] = "",
    agency: Annotated[str, Form(max_length=100)] = "",
    valid_until: Annotated[str, Form(max_length=20)] = "",
    form_key: Key = "",
) -> Response:
    """Issue a token for a system; the next page shows its secret, once."""
    values = {"label": label, "role": role, "agency": agency, "valid_until": valid_until}
    errors = FormErrors()
    _check(errors, request, "label", lambda: clean_label(label))
    chosen_role = Role(role) if role in {r.value for r in Role} else None
    if chosen_role is None:
        errors.add("role", gettext(request, "Choose the token's role."))
    chosen_agency = _agency_of(agency, errors, request, web)
    if chosen_role is not None and "agency" not in errors.fields:
        _check(errors, request, "role", lambda: check_token_role(chosen_role, chosen_agency))
    last_day: date | None = None
    if valid_until.strip():
        try:
            last_day = date.fromisoformat(valid_until.strip())
        except ValueError:
            errors.add("valid_until", gettext(request, "Give a date, or leave it empty for no expiry."))
        else:
            _check(errors, request, "valid_until", lambda: token_handlers.expiry_of(last_day, web.write.clock.today()))
    if not errors and chosen_role is not None:
        command = IssueToken(chosen_role, chosen_agency, nfc(label), last_day)
        try:
            outcome = token_handlers.issue_token(
                web.write, person.principal, command, idempotency=form_idempotency(person, request, form_key, values)
            )
        except IdempotencyKeyReused:
            _replayed_elsewhere(errors, request)
        except (InvalidToken, InvalidAccount) as error:
            errors.refusal(request, "", error)
        else:
            wait_visible(web.read.access, outcome)
            name = str(outcome.to_json()["subject"])
            return render(
                request,
                "admin_token_issued.html",
                {
                    "token": token_view(request, agencies_of(web), web.read.access.token(name)),
                    "secret": outcome.secret if isinstance(outcome, TokenIssued) else None,
                },
                status_code=201,
            )
    return _new_token_page(request, web, {**values, "form_key": form_key}, errors, status_code=422)


def _token_page(
    request: Request,
    web: WebSide,
    name: str,
    *,
    errors: FormErrors | None = None,
    values: Mapping[str, Any] | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "admin_token.html",
        {
            "token": token_view(request, agencies_of(web), web.read.access.token(name)),
            "errors": errors or FormErrors(),
            "values": values or {},
            "notice": notice,
            "form_key": new_form_key(),
        },
        status_code=status_code,
    )


@router.get("/tokens/{token}")
async def token_page(
    request: Request,
    person: Admin,
    web: Web,
    token: TokenName,
    done: Annotated[str, Query(max_length=20)] = "",
    late: bool = False,
) -> Response:
    return _token_page(request, web, token, notice=_done(request, done, late))


@router.post("/tokens/{token}/revoke")
async def revoke_token(
    request: Request, person: Admin, web: Web, token: TokenName, reason: Text = "", form_key: Key = ""
) -> Response:
    """Revoke a token with a reason: the services refuse it from its next request on."""
    errors = FormErrors()
    given = _reason(errors, request, reason)
    key = form_idempotency(person, request, form_key, {"reason": reason})
    command = RevokeToken(token, given)

    def again(found: FormErrors) -> Response:
        return _token_page(request, web, token, errors=found, values={"reason": reason}, status_code=422)

    return _change(
        request,
        web,
        errors,
        lambda: token_handlers.revoke_token(web.write, person.principal, command, idempotency=key),
        "reason",
        f"/admin/tokens/{token}",
        "revoked",
        again,
    )
