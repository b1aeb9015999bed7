"""What the auditors' console shares: who may read what, the words for event types and roles, the
console's tabs, instants typed in Vietnam's time, values shown in the reader's formats.

Message ids are English; `locale/vi/LC_MESSAGES/audit.po` translates them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlencode

from babel.dates import format_datetime
from starlette.requests import Request

from domain.identity import Role
from domain.periods import VIETNAM, InvalidPeriod, Period
from infra.integration_events import ACCESS_EVENTS, LIFECYCLE_EVENTS, VALUE_EVENTS, EventType
from services.ingest.application.access import Person
from services.readmodels.reference.snapshot import Reference
from services.web.i18n import Formats, Language, nfc
from services.web.navigation import NavItem
from services.web.people import PageForbidden
from services.web.templating import gettext, language_of

# The trail, proofs and checkpoints: every role (a clerk reads only their own agency's events);
# roll-ups across agencies: the ministry's roles, as the reports API admits them.
AUDIT_READERS = frozenset(Role)
MINISTRY_READERS = frozenset({Role.MINISTRY_REVIEWER, Role.AUDITOR, Role.ADMIN})

EVENT_LABELS: dict[str, str] = {
    EventType.SUBMISSION_OPENED: "Report opened",
    EventType.VALUE_SUBMITTED: "Value entered",
    EventType.VALUE_CORRECTED: "Value corrected",
    EventType.REPORT_SUBMITTED: "Report submitted",
    EventType.REPORT_APPROVED: "Report approved",
    EventType.REPORT_RETURNED: "Report returned for revision",
    EventType.REPORT_REOPENED: "Report reopened",
    EventType.REPORT_RECALLED: "Report recalled",
    EventType.CATALOGUE_CREATED: "Indicator catalogue created",
    EventType.INDICATOR_DEFINED: "Indicator defined",
    EventType.RULE_DEFINED: "Validation rule defined",
    EventType.TEMPLATE_CREATED: "Report form created",
    EventType.TEMPLATE_VERSION_PUBLISHED: "Report form version published",
    EventType.AGENCY_REGISTERED: "Agency registered",
    EventType.AGENCY_TEMPLATE_ASSIGNED: "Report form assigned to an agency",
    EventType.AGENCY_RENAMED: "Agency renamed",
    EventType.AGENCY_CLOSED: "Agency closed",
    EventType.AGENCY_ELECTRONIC_CODE_ASSIGNED: "Electronic identifier code assigned",
    EventType.REPORT_DEFINITION_CREATED: "Report type defined",
    EventType.REPORT_DEFINITION_REVISED: "Report type revised",
    EventType.ACCOUNT_CREATED: "Account created",
    EventType.ACCOUNT_ROLE_GRANTED: "Role granted",
    EventType.ACCOUNT_ROLE_WITHDRAWN: "Role withdrawn",
    EventType.ACCOUNT_RENAMED: "Account renamed",
    EventType.ACCOUNT_DISABLED: "Account disabled",
    EventType.ACCOUNT_ENABLED: "Account enabled",
    EventType.ACCOUNT_PASSWORD_SET: "Password set",
    EventType.ACCOUNT_SIGNED_OUT_EVERYWHERE: "Signed out everywhere",
    EventType.TOKEN_ISSUED: "API token issued",
    EventType.TOKEN_REVOKED: "API token revoked",
}


def _in_order(kinds: frozenset[EventType]) -> tuple[EventType, ...]:
    return tuple(kind for kind in EventType if kind in kinds)


# The event-type filter, in groups an auditor thinks in (the published contract's own sets).
EVENT_GROUPS: tuple[tuple[str, tuple[EventType, ...]], ...] = (
    ("Values", _in_order(VALUE_EVENTS)),
    ("Report lifecycle", _in_order(LIFECYCLE_EVENTS)),
    (
        "Catalogue, forms and agencies",
        _in_order(frozenset(EventType) - VALUE_EVENTS - LIFECYCLE_EVENTS - ACCESS_EVENTS),
    ),
    ("Access", _in_order(ACCESS_EVENTS)),
)


@dataclass(frozen=True)
class Tab:
    label: str
    href: str
    roles: frozenset[Role]


TABS = (
    Tab("Overview", "/audit", AUDIT_READERS),
    Tab("Audit trail", "/audit/events", AUDIT_READERS),
    Tab("Report as of a moment", "/audit/as-of/report", AUDIT_READERS),
    Tab("Roll-up as of a moment", "/audit/as-of/rollups", MINISTRY_READERS),
    Tab("Signed checkpoints", "/audit/checkpoints", AUDIT_READERS),
)


def tabs(request: Request, person: Person) -> list[NavItem]:
    """The console's own menu, the pages the person may open (the current one marked)."""
    path = request.url.path
    return [
        NavItem(gettext(request, tab.label), tab.href, path == tab.href)
        for tab in TABS
        if tab.roles & person.principal.roles
    ]


def label(request: Request, labels: Mapping[str, str], code: str | None) -> str:
    """A code in words (the code itself when it has none)."""
    if code is None:
        return ""
    found = labels.get(code)
    return gettext(request, found) if found else code


def only_agency(person: Person) -> str | None:
    """The one agency a clerk reads; None for the ministry's roles (they read every agency)."""
    return person.agency if person.principal.role is Role.AGENCY_REPORTER else None


def require_agency(person: Person, agency: str | None) -> None:
    own = only_agency(person)
    if own is not None and agency != own:
        raise PageForbidden("your account reads only your own agency's data")


# ---- what a form holds --------------------------------------------------------------------------


class Fields:
    """A form's values as typed (NFC, trimmed) and the error of each field that is wrong."""

    def __init__(self, values: Mapping[str, str | None]) -> None:
        self.values = {name: nfc(value or "").strip() for name, value in values.items()}
        self.errors: dict[str, str] = {}

    def __getitem__(self, name: str) -> str:
        return self.values.get(name, "")

    def refuse(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    @property
    def valid(self) -> bool:
        return not self.errors

    def text(self, name: str, request: Request) -> str | None:
        """A free-text field: None when empty; PostgreSQL text cannot hold NUL, so such text is refused."""
        value = self[name]
        if "\x00" in value:
            self.refuse(name, gettext(request, "This field holds a character that is not allowed."))
            return None
        return value or None

    def period(self, name: str, request: Request, *, required: bool = False) -> Period | None:
        value = self[name]
        if not value:
            if required:
                self.refuse(name, gettext(request, "Choose a period."))
            return None
        try:
            return Period.parse(value.upper())  # 2026q3 is 2026Q3
        except InvalidPeriod:
            self.refuse(name, gettext(request, "Write a period as 2026-10 (month), 2026Q3, 2026S1 or 2026."))
            return None

    def instant(self, name: str, request: Request) -> datetime | None:
        value = self[name]
        if not value:
            return None
        parsed = parse_local_instant(value)
        if parsed is None:
            self.refuse(name, gettext(request, "Write a date and time as 15/10/2026 08:30."))
        return parsed

    def position(self, name: str, request: Request) -> int | None:
        value = self[name].replace(".", "").replace(",", "").replace(" ", "")
        if not value:
            return None
        if not value.isdigit() or len(value) > 18:
            self.refuse(name, gettext(request, "A position in the log is a whole number, 0 or more."))
            return None
        return int(value)


def parse_local_instant(text: str) -> datetime | None:
    """An instant typed in Vietnam's time (a datetime-local input: 2026-10-15T08:30[:05]), or one with
    its own zone (ISO 8601); None if it is neither."""
    text = text.strip().replace(" ", "T", 1)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for pattern in ("%d/%m/%YT%H:%M:%S", "%d/%m/%YT%H:%M"):
            try:
                parsed = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
        else:
            return None
    return parsed.replace(tzinfo=VIETNAM) if parsed.tzinfo is None else parsed


def local_input(instant: datetime | None) -> str:
    """The value of a datetime-local input for an instant, in Vietnam's time, to the second."""
    if instant is None:
        return ""
    return instant.astimezone(VIETNAM).replace(tzinfo=None, microsecond=0).isoformat()


def precise_instant(language: Language, instant: datetime) -> str:
    """An instant to the second, in Vietnam's time: 15/10/2026 08:30:05 (the trail's precision)."""
    return format_datetime(instant.astimezone(VIETNAM), "dd/MM/yyyy HH:mm:ss", locale=language.babel_locale)


def value_text(request: Request, value: object) -> str:
    """A reported value in the reader's formats: numbers grouped, yes/no in words, none as a dash."""
    formats = Formats(language_of(request))
    if value is None:
        return "—"
    if isinstance(value, bool):
        return gettext(request, "yes") if value else gettext(request, "no")
    if isinstance(value, int | float | Decimal):
        return formats.number(value)
    if isinstance(value, str):
        try:
            number = Decimal(value)  # decimal values travel as text ("12.50")
        except ArithmeticError:
            return value
        if not number.is_finite():
            return value
        exponent = number.as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return formats.number(number, places)  # as entered: "12.50" keeps its two places
    return str(value)


def period_label(request: Request, code: str | None) -> str:
    """A period as people say it ("Tháng 10/2026"); a code that is no period as it is."""
    if not code:
        return ""
    try:
        return Formats(language_of(request)).period(code)
    except InvalidPeriod:
        return code


def indicator_name(request: Request, ref: Reference, code: str | None) -> str:
    info = ref.indicators.get(code) if code else None
    if info is None:
        return ""
    return info.name_en if language_of(request) is Language.EN else info.name_vi


def agency_name(request: Request, ref: Reference, code: str | None, period: str | None = None) -> str:
    info = ref.agencies.get(code) if code else None
    if info is None:
        return ""
    if period:
        try:
            return info.name_in(Period.parse(period))
        except InvalidPeriod:
            pass
    return info.name_en if language_of(request) is Language.EN else info.name_vi


def agency_choices(request: Request, ref: Reference, person: Person) -> list[tuple[str, str]]:
    """(code, name) of the agencies the person may choose, in code order."""
    own = only_agency(person)
    codes = [own] if own is not None else sorted(ref.agencies)
    return [(code, agency_name(request, ref, code)) for code in codes if code in ref.agencies]


def query(params: Mapping[str, str | int | Sequence[str] | None]) -> str:
    """A query string of the non-empty parameters (repeated for lists), with a leading '?' if any."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None or value == "":
            continue
        if isinstance(value, str | int):
            pairs.append((name, str(value)))
        else:
            pairs.extend((name, item) for item in value)
    return "?" + urlencode(pairs) if pairs else ""
