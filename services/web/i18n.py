"""Language and formats of the pages: Vietnamese by default, English on request.

Message ids are English; the Vietnamese catalogue (`locale/vi/LC_MESSAGES/*.po`, one file per area
of the app, merged at start) translates them. Numbers and dates follow the page's locale
(Vietnamese: 1.234.567,5 and 15/12/2026). Text typed into a page is NFC-normalised on the way in.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache
from importlib import resources

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

from domain.periods import VIETNAM, Period, PeriodKind

LANGUAGE_COOKIE = "lang"


class Language(StrEnum):
    VI = "vi"
    EN = "en"

    @property
    def babel_locale(self) -> str:
        return "vi_VN" if self is Language.VI else "en_GB"

    @classmethod
    def choose(cls, cookie: str | None) -> Language:
        """The language a page is shown in: the reader's choice, else Vietnamese."""
        try:
            return cls(cookie or cls.VI)
        except ValueError:
            return cls.VI


@cache
def translations(language: Language) -> Translations:
    """Every catalogue of the language, merged (English needs none: ids are English)."""
    merged = Translations()
    if language is Language.EN:
        return merged
    folder = resources.files("services.web").joinpath("locale", language.value, "LC_MESSAGES")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".po"):
            with entry.open("rb") as handle:
                catalog = read_po(handle, locale=language.babel_locale)
            compiled = io.BytesIO()
            write_mo(compiled, catalog)  # compiled at start: no build step, no .mo files in the repo
            compiled.seek(0)
            merged.merge(Translations(compiled))
    return merged


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


_GROUP = {Language.VI: ".", Language.EN: ","}  # babel's group symbols of vi_VN and en_GB


@dataclass(frozen=True)
class Formats:
    """The number and date formats of one language, as the templates' filters."""

    language: Language

    def number(self, value: int | float | Decimal | str | None, places: int | None = None) -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            try:
                value = Decimal(value)
            except ArithmeticError:
                return str(value)
        if places is not None:
            pattern = "#,##0" + ("." + "0" * places if places else "")
            return format_decimal(value, format=pattern, locale=self.language.babel_locale)
        if isinstance(value, int) and not isinstance(value, bool):
            # What babel writes for an integer, a hundred times faster (boards format thousands of them).
            return f"{value:,}".replace(",", _GROUP[self.language])
        return format_decimal(value, locale=self.language.babel_locale, decimal_quantization=False)

    def percent(self, ratio: float | Decimal | None, places: int = 1) -> str:
        if ratio is None:
            return ""
        return self.number(Decimal(str(ratio)) * 100, places) + " %"

    def day(self, value: date | str | None) -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            value = date.fromisoformat(value[:10])
        return format_date(value, "dd/MM/yyyy", locale=self.language.babel_locale)

    def instant(self, value: datetime | str | None) -> str:
        """An instant in Vietnam's time: 15/12/2026 08:15."""
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return format_datetime(value.astimezone(VIETNAM), "dd/MM/yyyy HH:mm", locale=self.language.babel_locale)

    def period(self, code: str) -> str:
        """A period as people say it: "Tháng 10/2026", "Quý 3/2026", "6 tháng đầu năm 2026", "Năm 2026"."""
        period = Period.parse(code)
        vi = self.language is Language.VI
        if period.kind is PeriodKind.MONTH:
            return f"Tháng {code[5:]}/{code[:4]}" if vi else f"{code[5:]}/{code[:4]}"
        if period.kind is PeriodKind.QUARTER:
            return f"Quý {code[-1]}/{code[:4]}" if vi else f"Q{code[-1]} {code[:4]}"
        if period.kind is PeriodKind.HALF_YEAR:
            first = code.endswith("1")
            if vi:
                return f"6 tháng {'đầu' if first else 'cuối'} năm {code[:4]}"
            return f"{'First' if first else 'Second'} half of {code[:4]}"
        return f"Năm {code}" if vi else code
