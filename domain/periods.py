"""Reporting periods, their data cut-off windows, and the deadlines of a reporting regime.

A period is a month, quarter, half-year or year, written as a canonical code:
``2025-03`` (month), ``2025Q1`` (quarter), ``2025S1`` (half-year), ``2025`` (year).

Cut-off windows follow Decree 09/2019/ND-CP: a period's data runs from the 15th
of the month before its first month to the 14th of its last month, so a monthly
report for March covers 15 Feb - 14 Mar, and January's starts on 15 December of
the previous year (as do Q1's, S1's and the year's).

Deadlines are data of a reporting regime (`ReportingRegime`, loadable from JSON),
not constants in code; `CIRCULAR_02_2023` holds the defaults of Circular
02/2023/TT-BTTTT. All dates are calendar dates (`datetime.date`) **in Vietnam
time**: the caller converts "now" to a Vietnamese date before asking whether a
report is late, so lateness never depends on the server's time zone. Passing a
`datetime` is refused for that reason.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Protocol
from zoneinfo import ZoneInfo

MIN_YEAR = 2000
MAX_YEAR = 2100

# Deadlines and cut-off windows are calendar dates in Vietnam, whatever the server's time zone.
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


class Clock(Protocol):
    """What both sides read today from (the system clock, or a fixed day in tests and the demo)."""

    def today(self) -> date:
        """Today's calendar date in Vietnam (deadlines and cut-off windows are Vietnamese dates)."""
        ...


# Decree 09/2019/ND-CP: a window opens on the 15th of the month before the
# period and closes on the 14th of the period's last month.
CUTOFF_START_DAY = 15
CUTOFF_END_DAY = 14


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    HALF_YEAR = "half_year"
    YEAR = "year"

    @property
    def length_in_months(self) -> int:
        """How many calendar months a period of this kind is made of."""
        return _LENGTH[self]

    @property
    def count_per_year(self) -> int:
        """How many periods of this kind a year has (the largest valid `number`)."""
        return 12 // _LENGTH[self]


_LENGTH: dict[PeriodKind, int] = {
    PeriodKind.MONTH: 1,
    PeriodKind.QUARTER: 3,
    PeriodKind.HALF_YEAR: 6,
    PeriodKind.YEAR: 12,
}

_NUMBER_NAME: dict[PeriodKind, str] = {
    PeriodKind.MONTH: "month",
    PeriodKind.QUARTER: "quarter",
    PeriodKind.HALF_YEAR: "half-year",
    PeriodKind.YEAR: "year number",
}

# [0-9], not \d: \d also matches non-ASCII digits such as "٢٠٢٤". fullmatch,
# not "$": "$" would accept a trailing newline.
_CODE = re.compile(r"(?P<year>[0-9]{4})(?:-(?P<month>[0-9]{2})|Q(?P<quarter>[0-9])|S(?P<half>[0-9]))?")
_FORMS = "expected YYYY-MM (month), YYYYQn (quarter), YYYYSn (half-year) or YYYY (year)"


class InvalidPeriod(ValueError):
    """A period code or value that is not a valid reporting period."""


class InvalidRegime(ValueError):
    """A reporting regime or deadline rule that is malformed."""


def _shown(text: str) -> str:
    # Error messages echo the input, but never an unbounded amount of it.
    return repr(text if len(text) <= 32 else text[:32] + "…")


def _is_int(value: object) -> bool:
    # bool is a subclass of int: True must not pass for 1.
    return isinstance(value, int) and not isinstance(value, bool)


def _problem(kind: PeriodKind, year: object, number: object) -> str | None:
    """Why (kind, year, number) is not a period, or None when it is one."""
    # bool is a subclass of int: True must not pass for 1.
    if not isinstance(year, int) or isinstance(year, bool):
        return f"year must be an integer, not {type(year).__name__}"
    if not MIN_YEAR <= year <= MAX_YEAR:
        return f"year must be {MIN_YEAR}..{MAX_YEAR}"
    if not isinstance(number, int) or isinstance(number, bool):
        return f"number must be an integer, not {type(number).__name__}"
    last = kind.count_per_year
    if not 1 <= number <= last:
        if kind is PeriodKind.YEAR:
            return "a year period's number is always 1"
        return f"{_NUMBER_NAME[kind]} must be 1..{last}"
    return None


def _month_index(year: int, month: int) -> int:
    """Months since year 0, so month arithmetic across years is plain addition."""
    return year * 12 + month - 1


def _from_index(index: int) -> tuple[int, int]:
    year, month0 = divmod(index, 12)
    return year, month0 + 1


def _require_date(value: object, name: str) -> None:
    # datetime is a subclass of date; a datetime's calendar day depends on its
    # time zone, and lateness is decided on the Vietnamese calendar day.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{name} must be a datetime.date in Vietnam time, not {type(value).__name__}")


@dataclass(frozen=True, order=True)
class Period:
    """A reporting period. Ordering is chronological among periods of one kind.

    `number` is the month (1-12), quarter (1-4) or half-year (1-2); always 1 for
    a year. Periods of different kinds sort by kind first (a deterministic but
    not chronological order); compare windows to order them in time.
    """

    kind: PeriodKind
    year: int
    number: int

    def __post_init__(self) -> None:
        kind: object = self.kind
        if not isinstance(kind, PeriodKind):
            # Accept the plain string ("month") too, but store the enum member.
            if not isinstance(kind, str) or kind not in PeriodKind.__members__.values():
                raise InvalidPeriod(f"unknown period kind {kind!r}")
            object.__setattr__(self, "kind", PeriodKind(kind))
        problem = _problem(self.kind, self.year, self.number)
        if problem is not None:
            raise InvalidPeriod(f"invalid {self.kind} period ({self.year}, {self.number}): {problem}")

    # ---- construction -------------------------------------------------------

    @classmethod
    def parse(cls, code: str) -> Period:
        """The period named by a canonical code; anything else is `InvalidPeriod`."""
        if not isinstance(code, str):
            raise InvalidPeriod(f"a period code is a string, not {type(code).__name__}")
        match = _CODE.fullmatch(code)
        if match is None:
            raise InvalidPeriod(f"invalid period code {_shown(code)}: {_FORMS}")
        year = int(match["year"])
        if match["month"] is not None:
            kind, number = PeriodKind.MONTH, int(match["month"])
        elif match["quarter"] is not None:
            kind, number = PeriodKind.QUARTER, int(match["quarter"])
        elif match["half"] is not None:
            kind, number = PeriodKind.HALF_YEAR, int(match["half"])
        else:
            kind, number = PeriodKind.YEAR, 1
        problem = _problem(kind, year, number)
        if problem is not None:
            raise InvalidPeriod(f"invalid period code {_shown(code)}: {problem}")
        return cls(kind, year, number)

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(PeriodKind.MONTH, year, month)

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        return cls(PeriodKind.QUARTER, year, quarter)

    @classmethod
    def half_year(cls, year: int, half: int) -> Period:
        return cls(PeriodKind.HALF_YEAR, year, half)

    @classmethod
    def whole_year(cls, year: int) -> Period:
        # Not `year`: that name is the dataclass field.
        return cls(PeriodKind.YEAR, year, 1)

    # ---- codes --------------------------------------------------------------

    @property
    def code(self) -> str:
        """The canonical code: 2025-03, 2025Q1, 2025S1 or 2025."""
        if self.kind is PeriodKind.MONTH:
            return f"{self.year:04d}-{self.number:02d}"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.year:04d}Q{self.number}"
        if self.kind is PeriodKind.HALF_YEAR:
            return f"{self.year:04d}S{self.number}"
        return f"{self.year:04d}"

    def __str__(self) -> str:
        return self.code

    def __repr__(self) -> str:
        return f"Period.parse({self.code!r})"

    # ---- structure ----------------------------------------------------------

    def _first_month_index(self) -> int:
        length = self.kind.length_in_months
        return _month_index(self.year, (self.number - 1) * length + 1)

    def _last_month_index(self) -> int:
        return self._first_month_index() + self.kind.length_in_months - 1

    def months(self) -> tuple[Period, ...]:
        """The monthly periods this period is made of, in order."""
        first = (self.number - 1) * self.kind.length_in_months + 1
        return tuple(Period.month(self.year, m) for m in range(first, first + self.kind.length_in_months))

    def contains(self, other: Period) -> bool:
        """Whether every month of `other` is a month of this period (a period contains itself)."""
        return (
            self._first_month_index() <= other._first_month_index()
            and other._last_month_index() <= self._last_month_index()
        )

    def containing(self, kind: PeriodKind) -> Period:
        """The period of `kind` this period lies in (the quarter of a month, the year of a half...)."""
        kind = PeriodKind(kind)
        number = (self.number - 1) * self.kind.length_in_months // kind.length_in_months + 1
        candidate = Period(kind, self.year, number)
        if not candidate.contains(self):
            # Only the same or a coarser kind can hold a period: a quarter is in
            # no single month, a half-year in no single quarter.
            raise InvalidPeriod(f"{self} ({self.kind}) does not lie within a single {kind} period")
        return candidate

    def next(self) -> Period:
        """The following period of the same kind (across years)."""
        if self.number < self.kind.count_per_year:
            return Period(self.kind, self.year, self.number + 1)
        return Period(self.kind, self.year + 1, 1)

    def previous(self) -> Period:
        """The preceding period of the same kind (across years)."""
        if self.number > 1:
            return Period(self.kind, self.year, self.number - 1)
        return Period(self.kind, self.year - 1, self.kind.count_per_year)

    # ---- cut-off window -----------------------------------------------------

    def cutoff_window(self) -> tuple[date, date]:
        """First and last day (inclusive) of the data this period covers (Decree 09/2019/ND-CP)."""
        return _cutoff_window(self)

    def contains_date(self, day: date) -> bool:
        """Whether `day` (a date in Vietnam time) lies in this period's cut-off window."""
        _require_date(day, "day")
        start, end = self.cutoff_window()
        return start <= day <= end


@lru_cache(maxsize=4096)
def _cutoff_window(period: Period) -> tuple[date, date]:
    # Asked once per agency and period by the boards (10,000 agencies): computed once per period.
    start_year, start_month = _from_index(period._first_month_index() - 1)
    end_year, end_month = _from_index(period._last_month_index())
    return date(start_year, start_month, CUTOFF_START_DAY), date(end_year, end_month, CUTOFF_END_DAY)


def vietnam_date(instant: datetime) -> date:
    """The calendar date in Vietnam at `instant` (an aware datetime): the day lateness is judged on."""
    if instant.tzinfo is None:
        raise TypeError("an instant is an aware datetime; a naive one names no day in Vietnam")
    return instant.astimezone(VIETNAM).date()


def period_for_date(day: date, kind: PeriodKind) -> Period:
    """The period of `kind` whose cut-off window contains `day` (a date in Vietnam time).

    From the 15th on, a date belongs to the next month's window: 20 Dec 2024
    is in 2025-01, 2025Q1, 2025S1 and 2025.
    """
    _require_date(day, "day")
    index = _month_index(day.year, day.month)
    if day.day >= CUTOFF_START_DAY:
        index += 1
    year, month = _from_index(index)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidPeriod(f"{day.isoformat()} falls outside the supported years {MIN_YEAR}..{MAX_YEAR}")
    return Period.month(year, month).containing(kind)


# ---- deadlines ---------------------------------------------------------------


MAX_DEADLINE_MONTH = 24


@dataclass(frozen=True)
class DeadlineRule:
    """A deadline relative to a period: day `day` of the period's `month`-th month.

    `month` counts calendar months from the period's first month (1 = its first
    month) and defaults to the period's last month. So one rule shape covers:

    - months: ``{"day": 15}`` = the 15th of the reporting month;
    - quarters: ``{"day": 6}`` = the 6th of the quarter's last month;
    - half-years: ``{"month": 6, "day": 6}`` = 6 June for S1 (6 December for S2);
    - years: ``{"month": 11, "day": 25}`` = 25 November of the period's year.

    `month` may exceed the period's length to put the deadline after the period
    (``{"month": 2, "day": 20}`` on months = the 20th of the following month).
    A `day` past the end of its month means that month's last day (31 -> 30 June).
    """

    day: int
    month: int | None = None

    def __post_init__(self) -> None:
        if not _is_int(self.day) or not 1 <= self.day <= 31:
            raise InvalidRegime(f"deadline day must be an integer 1..31, not {self.day!r}")
        if self.month is not None and (not _is_int(self.month) or not 1 <= self.month <= MAX_DEADLINE_MONTH):
            raise InvalidRegime(f"deadline month must be an integer 1..{MAX_DEADLINE_MONTH}, not {self.month!r}")

    def resolve(self, period: Period) -> date:
        """The calendar date of this deadline for `period`."""
        offset = (self.month if self.month is not None else period.kind.length_in_months) - 1
        year, month = _from_index(period._first_month_index() + offset)
        return date(year, month, min(self.day, calendar.monthrange(year, month)[1]))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeadlineRule:
        """Load ``{"day": N}`` or ``{"month": M, "day": N}``; unknown keys are refused."""
        if not isinstance(data, Mapping):
            raise InvalidRegime(f"a deadline rule is an object, not {type(data).__name__}")
        unknown = set(data) - {"day", "month"}
        if unknown:
            raise InvalidRegime(f"unknown deadline rule field(s): {', '.join(sorted(map(str, unknown)))}")
        if "day" not in data:
            raise InvalidRegime("a deadline rule needs a day")
        return cls(day=data["day"], month=data.get("month"))

    def to_dict(self) -> dict[str, int]:
        if self.month is None:
            return {"day": self.day}
        return {"month": self.month, "day": self.day}


def _nfc(text: str) -> str:
    # Vietnamese names are stored NFC-normalised so equal names compare equal.
    return unicodedata.normalize("NFC", text)


@dataclass(frozen=True)
class ReportingRegime:
    """A reporting regime's deadlines, one rule per period kind it reports on.

    `name` is the official (Vietnamese) name; `name_en` an optional English one.
    Dates passed in and returned are calendar dates in Vietnam time.
    """

    code: str
    name: str
    # Read-only after construction; excluded from the hash because a mapping is
    # unhashable (equal regimes still hash equal: code and names decide).
    deadlines: Mapping[PeriodKind, DeadlineRule] = field(hash=False)
    name_en: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not self.code.strip():
            raise InvalidRegime("a reporting regime needs a code")
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidRegime(f"reporting regime {self.code} needs a name")
        if self.name_en is not None and not isinstance(self.name_en, str):
            raise InvalidRegime(f"reporting regime {self.code}: name_en must be a string")
        object.__setattr__(self, "name", _nfc(self.name))
        if self.name_en is not None:
            object.__setattr__(self, "name_en", _nfc(self.name_en))
        if not isinstance(self.deadlines, Mapping) or not self.deadlines:
            raise InvalidRegime(f"reporting regime {self.code} sets no deadlines")
        rules: dict[PeriodKind, DeadlineRule] = {}
        for kind, rule in self.deadlines.items():
            try:
                period_kind = PeriodKind(kind)
            except ValueError:
                raise InvalidRegime(f"reporting regime {self.code}: unknown period kind {kind!r}") from None
            if not isinstance(rule, DeadlineRule):
                raise InvalidRegime(f"reporting regime {self.code}: the {kind} deadline is not a DeadlineRule")
            rules[period_kind] = rule
        # Copy, then freeze: the caller's dict must not change a regime later.
        object.__setattr__(self, "deadlines", MappingProxyType(rules))

    def rule(self, kind: PeriodKind) -> DeadlineRule:
        try:
            return self.deadlines[kind]
        except KeyError:
            raise InvalidPeriod(f"reporting regime {self.code} has no {kind} reports") from None

    def deadline(self, period: Period) -> date:
        """The last day on which the report for `period` is on time."""
        return self.rule(period.kind).resolve(period)

    def is_late(self, period: Period, submitted_on: date) -> bool:
        """Whether a report submitted on `submitted_on` (Vietnam date) missed its deadline."""
        _require_date(submitted_on, "submitted_on")
        return submitted_on > self.deadline(period)

    def days_late(self, period: Period, submitted_on: date) -> int:
        """Calendar days past the deadline; 0 when on time."""
        _require_date(submitted_on, "submitted_on")
        return max(0, (submitted_on - self.deadline(period)).days)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReportingRegime:
        """Load a regime as stored in JSON (the shape of infra/seed/regime.json).

        Keys: ``code``, ``name_vi`` (or ``name``), optional ``name_en``, and
        ``deadlines``: period kind -> deadline rule.
        """
        if not isinstance(data, Mapping):
            raise InvalidRegime(f"a reporting regime is an object, not {type(data).__name__}")
        unknown = set(data) - {"code", "name", "name_vi", "name_en", "deadlines"}
        if unknown:
            raise InvalidRegime(f"unknown reporting regime field(s): {', '.join(sorted(map(str, unknown)))}")
        if ("name" in data) == ("name_vi" in data):
            raise InvalidRegime("a reporting regime needs exactly one of name_vi or name")
        deadlines = data.get("deadlines")
        if not isinstance(deadlines, Mapping):
            raise InvalidRegime("a reporting regime needs deadlines: an object of period kind -> rule")
        rules: dict[PeriodKind, DeadlineRule] = {}
        for kind, rule in deadlines.items():
            try:
                period_kind = PeriodKind(kind)
            except ValueError:
                raise InvalidRegime(f"unknown period kind {kind!r} in deadlines") from None
            rules[period_kind] = DeadlineRule.from_dict(rule)
        name = data["name"] if "name" in data else data["name_vi"]
        return cls(code=data.get("code", ""), name=name, deadlines=rules, name_en=data.get("name_en"))

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape `from_dict` reads; kinds in the order month, quarter, half-year, year."""
        result: dict[str, Any] = {"code": self.code, "name_vi": self.name}
        if self.name_en is not None:
            result["name_en"] = self.name_en
        result["deadlines"] = {
            str(kind): self.deadlines[kind].to_dict() for kind in PeriodKind if kind in self.deadlines
        }
        return result


CIRCULAR_02_2023 = ReportingRegime(
    code="TT02-2023",
    name="Chế độ báo cáo định kỳ ngành Thông tin và Truyền thông theo Thông tư số 02/2023/TT-BTTTT",
    name_en="Periodic reporting regime of the information and communications sector under Circular 02/2023/TT-BTTTT",
    deadlines={
        PeriodKind.MONTH: DeadlineRule(day=15),  # the 15th of the reporting month
        PeriodKind.QUARTER: DeadlineRule(day=6),  # the 6th of the quarter's last month
        PeriodKind.HALF_YEAR: DeadlineRule(day=6, month=6),  # 6 June (S1)
        PeriodKind.YEAR: DeadlineRule(day=25, month=11),  # 25 November
    },
)
"""Circular 02/2023/TT-BTTTT defaults; the same data as infra/seed/regime.json."""
