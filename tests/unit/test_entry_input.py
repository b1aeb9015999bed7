"""Reading what a person types into a cell in the page's language, the messages the form shows, and the
Vietnamese catalogue of the entry, review and home pages (every message id translated)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2.ext import babel_extract

from domain.catalogue import Indicator, IndicatorGroup
from domain.outliers import check_value
from domain.rules import Expression, Rule, RuleOutcome
from domain.values import Aggregation, InvalidValue, ValueType, normalize_decimal
from services.ingest.application.sheet import CellCheck
from services.web import entry_view, labels, lifecycle_view
from services.web.entry_input import Unreadable, input_text, read_input
from services.web.entry_view import Texts, dom_id
from services.web.i18n import Formats, Language, translations
from services.web.pages import entry, home, review

VI, EN = Language.VI, Language.EN
WEB = Path(__file__).resolve().parents[2] / "services" / "web"


@pytest.mark.parametrize(
    ("value_type", "text", "language", "raw"),
    [
        (ValueType.INTEGER, "1.234.567", VI, 1234567),
        (ValueType.INTEGER, "1234567", VI, 1234567),
        (ValueType.INTEGER, " 1 234 567 ", VI, 1234567),
        (ValueType.INTEGER, "1,234,567", EN, 1234567),
        (ValueType.INTEGER, "-12", VI, -12),
        (ValueType.INTEGER, "2,5", VI, "2.5"),  # a fraction: the domain refuses it as "not an integer"
        (ValueType.DECIMAL, "1.234,5", VI, "1234.5"),
        (ValueType.DECIMAL, "1234,5", VI, "1234.5"),
        (ValueType.DECIMAL, "0,1", VI, "0.1"),
        (ValueType.DECIMAL, "1,234.5", EN, "1234.5"),
        (ValueType.PERCENTAGE, "95,5 %", VI, "95.5"),
        (ValueType.PERCENTAGE, "95,5%", VI, "95.5"),
        (ValueType.BOOLEAN, "true", VI, True),
        (ValueType.BOOLEAN, "false", EN, False),
        (ValueType.TEXT, "  Số liệu ước tính  ", VI, "Số liệu ước tính"),
        (ValueType.INTEGER, "   ", VI, None),
        (ValueType.TEXT, "", VI, None),
    ],
)
def test_typed_text_is_read_in_the_pages_language(
    value_type: ValueType, text: str, language: Language, raw: object
) -> None:
    assert read_input(value_type, text, language) == raw


def test_text_typed_in_decomposed_unicode_is_normalised() -> None:
    assert read_input(ValueType.TEXT, "Ha\u0300 No\u0323\u0302i", VI) == "Hà Nội"


@pytest.mark.parametrize(
    ("text", "language", "suggestions"),
    [
        ("1.5", VI, ("15", "1,5")),  # a Vietnamese page: a point groups thousands, so 1.5 is ambiguous
        ("1,5", EN, ("15", "1.5")),
        ("12a", VI, ()),
        ("1e5", VI, ()),  # no exponents: a clerk never means one
        ("%", VI, ()),
    ],
)
def test_an_ambiguous_or_wrong_number_is_not_guessed(
    text: str, language: Language, suggestions: tuple[str, ...]
) -> None:
    with pytest.raises(Unreadable) as raised:
        read_input(ValueType.DECIMAL, text, language)
    assert raised.value.suggestions == suggestions


def test_a_yes_no_cell_takes_only_its_options() -> None:
    with pytest.raises(Unreadable):
        read_input(ValueType.BOOLEAN, "có", VI)


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from([VI, EN]))
def test_an_integer_shown_for_editing_reads_back_to_itself(number: int, language: Language) -> None:
    text = input_text(number, ValueType.INTEGER, texts(language).number)
    assert read_input(ValueType.INTEGER, text, language) == number


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False), st.sampled_from([VI, EN]))
def test_a_decimal_shown_for_editing_reads_back_to_itself(number: Decimal, language: Language) -> None:
    text = input_text(number, ValueType.DECIMAL, texts(language).number)
    raw = read_input(ValueType.DECIMAL, text, language)
    assert isinstance(raw, str)
    assert Decimal(raw) == number


@given(
    st.one_of(
        st.integers(min_value=-(10**18), max_value=10**18),
        st.decimals(min_value=-(10**12), max_value=10**12, places=6, allow_nan=False).map(normalize_decimal),
    ),
    st.sampled_from([VI, EN]),
)
def test_the_forms_numbers_are_written_as_babel_writes_them(number: int | Decimal, language: Language) -> None:
    assert texts(language).number(number) == Formats(language).number(number)


def test_element_ids_of_indicator_codes_are_css_safe_and_distinct() -> None:
    assert dom_id("POS.REVENUE") == "POS-2eREVENUE"
    assert dom_id("A_B") == "A_B"
    assert dom_id("A.B") != dom_id("A-B") != dom_id("A_2eB")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", dom_id("X:Y#Z[1]"))


# ---- the messages next to a cell -----------------------------------------------------------------------


def indicator(value_type: ValueType = ValueType.INTEGER, **bounds: Decimal) -> Indicator:
    return Indicator("T.X", "Chỉ tiêu", "Indicator", IndicatorGroup.POSTAL, "điểm", value_type,
                     Aggregation.SUM, Aggregation.SUM, **bounds)  # fmt: skip


def texts(language: Language = VI) -> Texts:
    return Texts(language, translations(language).gettext)


def test_a_refused_value_is_explained_in_vietnamese_with_its_bound() -> None:
    ind = indicator(minimum=Decimal(0), maximum=Decimal("1000000"))
    for raw, expected in ((-1, "Giá trị nhỏ hơn mức tối thiểu 0."), (2_000_000, "lớn hơn mức tối đa 1.000.000")):
        with pytest.raises(InvalidValue) as raised:
            ind.parse(raw)
        check = CellCheck(ind, None, raised.value)
        (message,) = texts().check_messages(check)
        assert message.level == "error"
        assert expected in message.text
    with pytest.raises(InvalidValue) as wrong:
        ind.parse("2.5")
    assert texts().rejection(ind, wrong.value) == "Hãy nhập số nguyên, ví dụ 1.234."
    assert texts(EN).rejection(ind, wrong.value) == "Enter a whole number, for example 1,234."


def test_a_failed_rule_shows_how_its_figures_compare() -> None:
    rule = Rule("R", "A không vượt quá B", "A cannot exceed B", Expression(("A",)), "<=", Expression(("B",)))
    failed = RuleOutcome(rule, "failed", Decimal(500), Decimal(120))
    assert texts().rule(failed) == "A không vượt quá B (hiện tại: 500 > 120)"
    assert texts(EN).rule(failed) == "A cannot exceed B (here 500 > 120)"
    assert texts().rule_message(failed).level == "error"


def test_an_outlier_is_a_warning_saying_against_what() -> None:
    warning = check_value("T.X", 1200, [12, 12, 13])
    assert warning is not None
    (message,) = texts().check_messages(CellCheck(indicator(), 1200, None, outlier=warning))
    assert message.level == "warning"
    assert message.text.startswith("Khác xa số liệu 3 tháng trước của đơn vị (trung vị 12).")


def test_an_empty_cell_after_a_saved_value_is_refused_and_a_correction_asks_for_a_reason() -> None:
    (emptied,) = texts().check_messages(CellCheck(indicator(), None, None, saved=5))
    assert emptied.level == "error"
    (note,) = texts().check_messages(CellCheck(indicator(), 6, None, saved=5, reason_required=True))
    assert note.level == "note"
    assert "lý do sửa" in note.text
    assert texts().check_messages(CellCheck(indicator(), 5, None, saved=5, unchanged=True, reason_required=True)) == ()


def test_help_says_what_to_enter() -> None:
    stock = Indicator("T.S", "Số điểm", "Points", IndicatorGroup.POSTAL, "điểm", ValueType.INTEGER, Aggregation.LAST,
                      Aggregation.SUM, minimum=Decimal(0), required=True)  # fmt: skip
    assert texts().help(stock) == "Số nguyên · tối thiểu 0 · số liệu tại thời điểm cuối kỳ · bắt buộc"
    assert texts(EN).help(stock) == "Whole number · at least 0 · the figure at the end of the period · required"


# ---- the Vietnamese catalogue --------------------------------------------------------------------------

TEMPLATES = ["entry.html", "entry_submit.html", "_entry_banner.html", "_entry_history.html", "_entry_summary.html",
             "_review_actions.html", "review.html", "review_done.html", "home.html"]  # fmt: skip
MODULES = ["entry_view.py", "lifecycle_view.py", "pages/entry.py", "pages/review.py", "pages/home.py"]
_CALL = re.compile(r'\b_\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)[,)]')


def message_ids() -> tuple[set[str], set[tuple[str, str]]]:
    """The messages of those pages: plain ones, and (singular, plural) pairs."""
    found: set[str] = set()
    plurals: set[tuple[str, str]] = set()
    for name in TEMPLATES:
        with (WEB / "templates" / name).open("rb") as handle:
            options = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}
            for _, _, message, _ in babel_extract(handle, ["_", "gettext", "ngettext"], [], options):
                # A call with keyword arguments is a tuple too; a plural has its plural form second.
                parts = (message,) if isinstance(message, str) else tuple(message)
                if len(parts) > 1 and parts[1]:
                    plurals.add((str(parts[0]), str(parts[1])))
                else:
                    found.add(str(parts[0]))
    for name in MODULES:
        for call in _CALL.finditer((WEB / name).read_text("utf-8")):
            found.add("".join(re.findall(r'"((?:[^"\\]|\\.)*)"', call.group(1))))
    tables = (labels.GROUPS, entry_view.KINDS, entry_view.OVER_TIME, labels.STATUSES,
              lifecycle_view.STEP_LABELS, labels.REGIONS, labels.KINDS,
              review.MISSING_REASON)  # fmt: skip
    for table in tables:
        found.update(table.values())
    found.update(nav.label for module in (entry, review, home) for nav in module.NAV)
    return found, plurals


def test_every_message_of_the_entry_review_and_home_pages_has_its_vietnamese_translation() -> None:
    catalogue = translations(VI)
    ids, plurals = message_ids()
    assert len(ids) > 180
    assert len(plurals) > 10
    untranslated = sorted(m for m in ids if catalogue.gettext(m) == m)
    untranslated += sorted(one for one, many in plurals if catalogue.ngettext(one, many, 2) == many)
    assert untranslated == []
    placeholders = re.compile(r"%\((\w+)\)s")
    wrong = [m for m in ids if set(placeholders.findall(m)) != set(placeholders.findall(catalogue.gettext(m)))]
    assert wrong == [], "a translation keeps every placeholder of its message"
