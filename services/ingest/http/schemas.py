"""Request bodies of the write API. No body admits a member it does not declare (`extra="forbid"`):
a client never sets what the server sets (actor, agency, position, ...)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

JsonScalar = bool | int | float | str | None
Number = int | float | str


class ValueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    indicator: str = Field(min_length=1, max_length=100)
    value: JsonScalar = Field(description="integer, decimal (number or string), boolean or text")


class ValuesIn(BaseModel):
    """A batch of values for one agency and period; all accepted or none."""

    model_config = ConfigDict(extra="forbid")

    values: list[ValueIn] = Field(min_length=1)
    reason: str | None = Field(
        default=None, max_length=2000, description="required for corrections after a first submission"
    )


class ReasonIn(BaseModel):
    """The body of a lifecycle step (it may be empty)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(
        default=None,
        max_length=2000,
        description="why: required to recall, return or reopen; optional to submit (a note to the reviewer) or approve",
    )


class WarningOut(BaseModel):
    """An outlier warning: the value is far from the agency's own previous periods (it never blocks)."""

    indicator: str
    reason: Literal["outlier"]
    tests: list[Literal["ratio", "z-score"]]
    value: str
    median_of_history: str
    mean_of_history: str
    stdev_of_history: str
    z_score: str | None
    history_periods: int
    detail: str


class StatusOut(BaseModel):
    """A report after a lifecycle step (documentation of the answer; the answer is the stored one)."""

    agency: str
    period: str
    status: Literal["draft", "submitted", "approved", "returned", "recalled", "reopened"]
    version: int = Field(description="the submission's version: send it as If-Match to base a change on it")
    template: str
    template_version: int
    times_submitted: int
    position: int | None = Field(description="the global position of the stored event: `min_position` for reads")
    warnings: list[WarningOut] | None = Field(default=None, description="submit only: outlier warnings")


class IndicatorIn(BaseModel):
    """An indicator definition (the seed file's form: `min`/`max`, or `minimum`/`maximum`)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=100)
    name_vi: str = Field(min_length=1, max_length=500)
    name_en: str = Field(max_length=500)
    group: str = Field(max_length=100)
    unit: str = Field(max_length=100)
    value_type: str = Field(max_length=50)
    aggregation_time: str = Field(max_length=50)
    aggregation_agencies: str = Field(max_length=50)
    min: Number | None = None
    max: Number | None = None
    minimum: Number | None = None
    maximum: Number | None = None
    required: bool = False


class ExpressionIn(BaseModel):
    """One side of a rule: one indicator, a sum of indicators, or a constant."""

    model_config = ConfigDict(extra="forbid")

    indicator: str | None = Field(default=None, max_length=100)
    sum: list[str] | None = Field(default=None, max_length=500)
    constant: Number | None = None


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=100)
    description_vi: str = Field(default="", max_length=2000)
    description_en: str = Field(default="", max_length=2000)
    left: ExpressionIn
    operator: str = Field(max_length=2)
    right: ExpressionIn
    severity: str = Field(default="error", max_length=20)


class IndicatorsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    indicators: list[IndicatorIn] = Field(default_factory=list, max_length=5000)
    rules: list[RuleIn] = Field(default_factory=list, max_length=5000)


class TemplateVersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    effective_from: str
    indicators: list[str] = Field(min_length=1)
    name_vi: str = ""
    name_en: str = ""
    applies_to: str = ""
    base: str | None = None


class AgencyRenameIn(BaseModel):
    """A rename listed in an agency's registration (dates as text: a bad one is an `invalid-agency`)."""

    model_config = ConfigDict(extra="forbid")

    effective_from: str = Field(max_length=10)
    name_vi: str = Field(min_length=1, max_length=500)
    name_en: str | None = Field(default=None, max_length=500)


class AgencyIn(BaseModel):
    """Register an agency, or rename it, assign its template, close or merge it."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=100)
    name_vi: str = Field(min_length=1, max_length=500)
    name_en: str | None = Field(default=None, max_length=500)
    kind: str = Field(max_length=50)
    parent: str | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    template: str | None = Field(default=None, max_length=100)
    effective_from: str = Field(max_length=10)
    effective_to: str | None = Field(default=None, max_length=10)
    merged_into: str | None = Field(default=None, max_length=100)
    renames: list[AgencyRenameIn] = Field(default_factory=list, max_length=100)
    electronic_code: str | None = Field(default=None, max_length=100, description="QCVN 102:2016, e.g. 000.00.00.H24")


class RenameIn(BaseModel):
    """A new name from `effective_from` (after the latest name's date); earlier periods keep theirs."""

    model_config = ConfigDict(extra="forbid")

    effective_from: date
    name_vi: str = Field(min_length=1, max_length=500)
    name_en: str = Field(default="", max_length=500)


class CloseIn(BaseModel):
    """The agency's last day; with `successor`, a merge (many agencies may merge into one)."""

    model_config = ConfigDict(extra="forbid")

    effective_to: date
    successor: str | None = Field(default=None, min_length=1, max_length=100)


class ElectronicCodeIn(BaseModel):
    """The agency's electronic identifier code (QCVN 102:2016): groups of digits and capitals, dot-separated."""

    model_config = ConfigDict(extra="forbid")

    electronic_code: str = Field(min_length=1, max_length=100, examples=["000.00.00.H24"])


class TemplateIn(BaseModel):
    """The template the agency fills for periods not opened yet."""

    model_config = ConfigDict(extra="forbid")

    template: str = Field(min_length=1, max_length=100)


class ReportDefinitionIn(BaseModel):
    """A derived report: indicators, a period type and a scope. Posting an existing code revises it."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    name_vi: str = Field(min_length=1, max_length=500)
    name_en: str = Field(default="", max_length=500)
    period_kind: Literal["month", "quarter", "half_year", "year"]
    scope: Literal["agency", "region", "national"]
    indicators: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(min_length=1, max_length=500)


class TokenIn(BaseModel):
    """A system's token: `agency` for an agency reporter (and only then); `valid_until` its last day."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["agency_reporter", "ministry_reviewer", "auditor", "admin"]
    agency: str | None = Field(default=None, min_length=1, max_length=100)
    label: str = Field(min_length=1, max_length=200, description="which system holds the token")
    valid_until: date | None = Field(default=None, description="the last Vietnamese calendar day it works")
