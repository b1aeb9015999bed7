"""The data-entry form as the template lays it out: groups of rows, each cell's text, help and messages.

Everything a person reads is composed here, in their language, from what the write side checked
(`services.ingest.application.sheet`) and what the read models hold (last month, the same month last
year, the history); the template only places it and the script only moves the focus and saves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from babel.numbers import get_decimal_symbol, get_group_symbol, get_minus_sign_symbol

from domain.catalogue import Indicator
from domain.outliers import RATIO, Z_SCORE, OutlierWarning
from domain.rules import RuleOutcome, Severity
from domain.submission import CurrentValue
from domain.templates import Form
from domain.values import MAX_DIGITS, MAX_TEXT_LENGTH, Aggregation, InvalidValue, Value, ValueType, value_from_json
from services.ingest.application.sheet import CellCheck, EntrySheet
from services.web.entry_input import FALSE, TRUE, Unreadable, input_text
from services.web.i18n import Formats, Language
from services.web.labels import GROUPS

Gettext = Callable[[str], str]

KINDS: dict[ValueType, str] = {
    ValueType.INTEGER: "Whole number",
    ValueType.DECIMAL: "Number",
    ValueType.PERCENTAGE: "Percentage",
    ValueType.BOOLEAN: "Yes or no",
    ValueType.TEXT: "Text",
}
# What a figure is over time tells a clerk what to enter: a stock at the end of the period or a flow.
OVER_TIME: dict[Aggregation, str] = {
    Aggregation.LAST: "the figure at the end of the period",
    Aggregation.SUM: "what happened during the period",
    Aggregation.AVERAGE: "the average over the period",
    Aggregation.MAX: "the highest during the period",
    Aggregation.MIN: "the lowest during the period",
}
OPERATORS = {"<=": "≤", "<": "<", ">=": "≥", ">": ">", "==": "=", "!=": "≠"}
NEGATED = {"<=": ">", "<": ">=", ">=": "<", ">": "<=", "==": "!=", "!=": "=="}


@dataclass(frozen=True)
class Message:
    level: str  # "error" (the value is refused or breaks a rule of severity error), "warning", "note"
    text: str


def dom_id(code: str) -> str:
    """An indicator code as an element id that CSS selectors take as is (codes hold dots)."""
    return "".join(c if c.isascii() and (c.isalnum() or c == "_") else f"-{ord(c):x}" for c in code)


@dataclass(frozen=True)
class CellView:
    code: str
    name: str
    unit: str
    help: str
    rules: tuple[str, ...]  # the cross-indicator rules naming it, as sentences
    required: bool
    kind: str  # "number", "text" or "choice"
    value_text: str  # what the input holds
    display: str  # the value as read
    previous: str  # last month's value
    last_year: str  # the same month last year
    messages: tuple[Message, ...]
    revisions: int = 0
    dom: str = ""  # the code as an element id (`dom_id`)
    quoted: str = ""  # the code in a URL

    @property
    def invalid(self) -> bool:
        return any(m.level == "error" for m in self.messages)


@dataclass(frozen=True)
class GroupView:
    key: str
    label: str
    cells: list[CellView] = field(default_factory=list)


class Texts:
    """The sentences of the form in one language."""

    def __init__(self, language: Language, gettext: Gettext) -> None:
        self.language = language
        self._ = gettext
        self.formats = Formats(language)
        locale = language.babel_locale
        self._symbols = (get_decimal_symbol(locale), get_group_symbol(locale), get_minus_sign_symbol(locale))

    # ---- values ------------------------------------------------------------------

    def value(self, value: Value | None, value_type: ValueType) -> str:
        """A value as read on the page: 1.234.567 ; 12,5 ; Có."""
        if value is None:
            return ""
        if value_type is ValueType.BOOLEAN:
            return self._("Yes") if value else self._("No")
        if value_type is ValueType.TEXT:
            return str(value)
        return self.number(value if not isinstance(value, bool | str) else None)

    def stored(self, raw: Any, value_type: ValueType) -> str:
        """A value as a read model holds it (decimals as strings)."""
        if raw is None:
            return ""
        return self.value(value_from_json(value_type, raw), value_type)

    def number(self, number: int | Decimal | None) -> str:
        """A number in the language's format, every digit kept: what `Formats.number` writes, without Babel's
        per-call cost (a form shows hundreds of numbers)."""
        if number is None:
            return ""
        decimal, group, minus = self._symbols
        text = format(number, "f") if isinstance(number, Decimal) else str(number)
        negative = text.startswith("-")
        whole, _, fraction = text.lstrip("-").partition(".")
        grouped = f"{int(whole):,}".replace(",", group)
        return (
            (minus if negative and (int(whole) or fraction.strip("0")) else "")
            + grouped
            + (decimal + fraction if fraction else "")
        )

    # ---- what a cell accepts ----------------------------------------------------------

    def help(self, indicator: Indicator) -> str:
        _ = self._
        parts = [_(KINDS[indicator.value_type])]
        low, high = indicator.minimum, indicator.maximum
        if low is not None and high is not None:
            parts.append(_("from %(low)s to %(high)s") % {"low": self.number(low), "high": self.number(high)})
        elif low is not None:
            parts.append(_("at least %(low)s") % {"low": self.number(low)})
        elif high is not None:
            parts.append(_("at most %(high)s") % {"high": self.number(high)})
        over_time = OVER_TIME.get(indicator.aggregation_time)
        if over_time is not None and indicator.value_type.is_numeric:
            parts.append(_(over_time))
        if indicator.required:
            parts.append(_("required"))
        return " · ".join(parts)

    def rule(self, outcome: RuleOutcome) -> str:
        """A rule as a sentence, with the figures it compared when it was evaluated."""
        rule = outcome.rule
        text = self.rule_statement(outcome)
        if outcome.left is None or outcome.right is None:
            return text
        # A failed rule shows how the figures actually compare (24.207 > 23.416), a passed one the rule itself.
        shown = NEGATED[rule.operator] if outcome.status == "failed" else rule.operator
        figures = f"{self.number(outcome.left)} {OPERATORS[shown]} {self.number(outcome.right)}"
        return self._("%(rule)s (here %(figures)s)") % {"rule": text, "figures": figures}

    def rule_statement(self, outcome: RuleOutcome) -> str:
        rule = outcome.rule
        return rule.description_vi if self.language is Language.VI else (rule.description_en or rule.description_vi)

    def rejection(self, indicator: Indicator, error: InvalidValue) -> str:
        _ = self._
        if error.reason == "out-of-range" and indicator.minimum is not None and error.detail.startswith("below"):
            return _("The value is below the minimum %(minimum)s.") % {"minimum": self.number(indicator.minimum)}
        if error.reason == "out-of-range" and indicator.maximum is not None and error.detail.startswith("above"):
            return _("The value is above the maximum %(maximum)s.") % {"maximum": self.number(indicator.maximum)}
        if error.reason == "out-of-range":
            return _("The number is too large.")
        if error.reason == "too-precise":
            return _("Too many digits: at most %(digits)s significant digits.") % {"digits": MAX_DIGITS}
        if error.reason == "too-long":
            return _("At most %(count)s characters.") % {"count": self.number(MAX_TEXT_LENGTH)}
        if error.reason == "invalid-character":
            return _("The text holds an invisible control character: remove it.")
        if indicator.value_type is ValueType.INTEGER:
            return _("Enter a whole number, for example %(example)s.") % {"example": self.number(1234)}
        if indicator.value_type is ValueType.BOOLEAN:
            return _("Choose Yes or No.")
        return _("Enter a number, for example %(example)s.") % {"example": self.number(Decimal("12.5"))}

    def unreadable(self, problem: Unreadable) -> str:
        _ = self._
        decimal, group = (",", ".") if self.language is Language.VI else (".", ",")
        text = _("Not a number as written here: “%(decimal)s” before decimals, “%(group)s” between thousands.") % {
            "decimal": decimal,
            "group": group,
        }
        if problem.suggestions:
            text += " " + _("Did you mean %(choices)s?") % {"choices": _(" or ").join(problem.suggestions)}
        return text

    def outlier(self, warning: OutlierWarning) -> str:
        _ = self._
        text = _("Far from this agency's previous %(months)s months (median %(median)s).") % {
            "months": warning.periods,
            "median": self.number(warning.median),
        }
        if Z_SCORE in warning.tests and warning.z_score is not None and RATIO not in warning.tests:
            text = _("%(z)s standard deviations from this agency's average of its previous %(months)s months.") % {
                "z": self.number(abs(warning.z_score)),
                "months": warning.periods,
            }
        return text + " " + _("Check the value: it is saved, this is only a warning.")

    # ---- the messages of a cell ------------------------------------------------------------

    def check_messages(self, check: CellCheck) -> tuple[Message, ...]:
        """What the check of a typed value says (the value refused, the rules it breaks, an outlier)."""
        _ = self._
        if check.rejection is not None:
            return (Message("error", self.rejection(check.indicator, check.rejection)),)
        if check.value is None:
            if check.saved is not None:
                return (
                    Message("error", _("A saved value cannot be emptied: enter the right value (zero is a value).")),
                )
            return ()
        found = [self.rule_message(outcome) for outcome in check.rules]
        if check.outlier is not None:
            found.append(Message("warning", self.outlier(check.outlier)))
        if check.reason_required and not check.unchanged:
            found.append(
                Message("note", _("The report was submitted before: give the reason for corrections above the form."))
            )
        return tuple(found)

    def rule_message(self, outcome: RuleOutcome) -> Message:
        level = "error" if outcome.rule.severity is Severity.ERROR else "warning"
        return Message(level, self.rule(outcome))

    def sheet_messages(self, sheet: EntrySheet, code: str) -> tuple[Message, ...]:
        """What the page says about a stored value when it opens: the rules it breaks, an outlier."""
        found = [self.rule_message(outcome) for outcome in sheet.failures_of(code)]
        warning = sheet.warnings.get(code)
        if warning is not None:
            found.append(Message("warning", self.outlier(warning)))
        return tuple(found)


def names(form: Form, texts: Texts) -> dict[str, str]:
    """Each indicator's name in the reader's language."""
    vietnamese = texts.language is Language.VI
    return {code: i.name_vi if vietnamese else (i.name_en or i.name_vi) for code, i in form.indicators.items()}


def cell_kind(value_type: ValueType) -> str:
    if value_type is ValueType.BOOLEAN:
        return "choice"
    return "text" if value_type is ValueType.TEXT else "number"


def rules_of(form: Form) -> dict[str, list[RuleOutcome]]:
    """Per indicator, the rules of the form naming it (as unevaluated outcomes, for their sentences)."""
    found: dict[str, list[RuleOutcome]] = {}
    for rule in form.rules:
        for code in dict.fromkeys(rule.indicators):
            found.setdefault(code, []).append(RuleOutcome(rule, "skipped", None, None))
    return found


def groups(
    sheet: EntrySheet,
    texts: Texts,
    previous: Mapping[str, Any],
    last_year: Mapping[str, Any],
    revisions: Mapping[str, int],
    errors: Mapping[str, tuple[Message, ...]] | None = None,
) -> list[GroupView]:
    """The form's rows by indicator group, in form order (groups where their first indicator is); `errors`
    replace a cell's messages (a batch refused by the write side)."""
    errors = errors or {}
    by_group: dict[str, GroupView] = {}
    naming = rules_of(sheet.form)
    vietnamese = texts.language is Language.VI
    for code, indicator in sheet.form.indicators.items():
        key = str(indicator.group)
        group = by_group.get(key)
        if group is None:
            group = by_group[key] = GroupView(key, texts._(GROUPS.get(indicator.group, key)))
        current: CurrentValue | None = sheet.values.get(code)
        value = None if current is None else current.value
        group.cells.append(
            CellView(
                code=code,
                name=indicator.name_vi if vietnamese else (indicator.name_en or indicator.name_vi),
                unit="%" if indicator.value_type is ValueType.PERCENTAGE and not indicator.unit else indicator.unit,
                help=texts.help(indicator),
                rules=tuple(texts.rule_statement(o) for o in naming.get(code, ())),
                required=indicator.required,
                kind=cell_kind(indicator.value_type),
                value_text=input_text(value, indicator.value_type, texts.number),
                display=texts.value(value, indicator.value_type),
                previous=texts.stored(previous.get(code), indicator.value_type),
                last_year=texts.stored(last_year.get(code), indicator.value_type),
                messages=errors[code] if code in errors else texts.sheet_messages(sheet, code),
                revisions=revisions.get(code, 0),
                dom=dom_id(code),
                quoted=quote(code, safe=""),
            )
        )
    return list(by_group.values())


def choices(texts: Texts) -> Sequence[tuple[str, str]]:
    """The options of a yes/no cell: empty, yes, no."""
    return (("", "—"), (TRUE, texts._("Yes")), (FALSE, texts._("No")))
