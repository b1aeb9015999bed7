"""The write API (FastAPI): thin handlers that turn requests into commands."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import ORJSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from domain.catalogue import Indicator
from domain.identity import Principal, Role
from domain.periods import InvalidPeriod, Period
from domain.rules import Rule
from infra.settings import Settings
from services.http.auth import declare_roles, require_agency_access, require_roles
from services.http.health import add_health_routes
from services.http.limits import install_limits
from services.http.problems import Problem, install_problem_handlers, problem_responses
from services.ingest.admin_api import router as admin_router
from services.ingest.bootstrap import ingest_service
from services.ingest.commands import CommandResult, Idempotency, IngestService, InvalidPeriodError
from services.ingest.idempotency import check_key, fingerprint
from services.ingest.report_definitions_api import router as report_definitions_router
from services.ingest.tokens_api import router as tokens_router

JsonScalar = bool | int | float | str | None


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
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=2000)


Number = int | float | str


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


class RenameIn(BaseModel):
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
    renames: list[RenameIn] = Field(default_factory=list, max_length=100)


AgencyReporter = Annotated[Principal, Depends(require_roles(Role.AGENCY_REPORTER))]
Reviewer = Annotated[Principal, Depends(require_roles(Role.MINISTRY_REVIEWER))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
Reader = Annotated[Principal, Depends(require_roles(*Role))]


def _service(request: Request) -> IngestService:
    return request.app.state.service  # type: ignore[no-any-return]


Service = Annotated[IngestService, Depends(_service)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="the submission version the change is based on")]


def _idempotency(principal: Principal, key: str | None, request: Request, body: BaseModel) -> Idempotency | None:
    if key is None:
        return None
    fp = fingerprint(request.method, request.url.path, body.model_dump(mode="json"))
    return Idempotency(principal.subject, check_key(key), fp)


def _expected_version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    text = if_match.strip().strip('"').removeprefix("W/").strip('"')
    if not text.isdigit():
        raise Problem(400, "invalid-if-match", "Invalid If-Match", 'If-Match holds the submission version, e.g. "12"')
    return int(text)


def _respond(result: CommandResult) -> Response:
    return Response(result.body, status_code=result.status_code, media_type="application/json")


def create_app(settings: Settings) -> FastAPI:
    """The composition root of the ingest service."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with ingest_service(settings) as service:
            app.state.service = service
            app.state.pool = service.idempotency.pool
            yield

    app = FastAPI(
        title="Reporting ingest API",
        version="1",
        lifespan=lifespan,
        default_response_class=ORJSONResponse,
        responses=problem_responses(),
    )
    install_limits(app, settings)
    declare_roles(app)
    install_problem_handlers(app)

    def ping_database() -> None:
        with app.state.pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")

    add_health_routes(app, {"postgres": ping_database})
    app.include_router(report_definitions_router)
    app.include_router(tokens_router)
    app.include_router(admin_router)  # issue 3: rename, close or merge an agency, assign its template

    @app.post("/agencies/{agency}/periods/{period}/values", tags=["submissions"])
    def enter_values(
        agency: str,
        period: str,
        body: ValuesIn,
        request: Request,
        principal: AgencyReporter,
        svc: Service,
        idempotency_key: IdempotencyKey = None,
        if_match: IfMatch = None,
    ) -> Response:
        """Submit or correct indicator values; each accepted value becomes one event."""
        require_agency_access(principal, agency, write=True)
        if len(body.values) > settings.max_values_per_batch:
            raise Problem(
                413, "too-many-values", "Too many values", f"at most {settings.max_values_per_batch} values per batch"
            )
        entries = [(item.indicator, item.value) for item in body.values]
        return _respond(
            svc.enter_values(
                principal,
                agency,
                period,
                entries,
                body.reason,
                idempotency=_idempotency(principal, idempotency_key, request, body),
                expected_version=_expected_version(if_match),
            )
        )

    @app.get("/agencies/{agency}/periods/{period}/submission", tags=["submissions"])
    def read_submission(agency: str, period: str, principal: Reader, svc: Service) -> dict[str, Any]:
        """The submission as stored now (strongly consistent)."""
        require_agency_access(principal, agency, write=False)
        return svc.read_submission(agency, period)

    def lifecycle(action: str, role_dependency: Any) -> None:
        def handler(
            agency: str,
            period: str,
            request: Request,
            svc: Service,
            principal: Principal = role_dependency,
            body: ReasonIn | None = None,
            idempotency_key: IdempotencyKey = None,
            if_match: IfMatch = None,
        ) -> Response:
            if principal.role is Role.AGENCY_REPORTER:
                require_agency_access(principal, agency, write=True)
            body = body or ReasonIn()
            return _respond(
                svc.change_status(
                    principal,
                    agency,
                    period,
                    action,
                    body.reason,
                    idempotency=_idempotency(principal, idempotency_key, request, body),
                    expected_version=_expected_version(if_match),
                )
            )

        handler.__name__ = f"{action}_report"
        app.post(f"/agencies/{{agency}}/periods/{{period}}/{action}", tags=["submissions"])(handler)

    lifecycle("submit", Depends(require_roles(Role.AGENCY_REPORTER)))
    for reviewer_action in ("approve", "return", "reopen"):
        lifecycle(reviewer_action, Depends(require_roles(Role.MINISTRY_REVIEWER)))

    @app.get("/templates/{code}/form", tags=["reference"])
    def read_form(code: str, period: str, principal: Reader, svc: Service) -> dict[str, Any]:
        """The indicators and rules of a template for a period."""
        try:
            parsed = Period.parse(period)
        except InvalidPeriod as error:
            raise InvalidPeriodError(str(error)) from None
        return svc.form(code, parsed).describe()

    @app.post("/admin/catalogue", tags=["administration"])
    def define_indicators(
        body: IndicatorsIn, request: Request, principal: Admin, svc: Service, idempotency_key: IdempotencyKey = None
    ) -> Response:
        try:
            indicators = [Indicator.from_dict(item.model_dump(exclude_none=True)) for item in body.indicators]
            rules = [Rule.from_dict(item.model_dump(exclude_none=True)) for item in body.rules]
        except (KeyError, ValueError, TypeError, ArithmeticError) as error:  # ArithmeticError: Decimal("q8")
            raise Problem(422, "invalid-definition", "Invalid definition", str(error)) from None
        idempotency = _idempotency(principal, idempotency_key, request, body)
        return _respond(svc.define_indicators(principal, indicators, rules, idempotency=idempotency))

    @app.post("/admin/templates/{code}/versions", tags=["administration"], status_code=201)
    def publish_template(
        code: str,
        body: TemplateVersionIn,
        request: Request,
        principal: Admin,
        svc: Service,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        """Create a template with its first version, or publish its next version (from a month not yet open)."""
        return _respond(
            svc.publish_template(
                principal,
                code,
                body.effective_from,
                body.indicators,
                name_vi=body.name_vi,
                name_en=body.name_en,
                applies_to=body.applies_to,
                base=body.base,
                idempotency=_idempotency(principal, idempotency_key, request, body),
            )
        )

    @app.post("/admin/agencies", tags=["administration"], status_code=201)
    def register_agency(
        body: AgencyIn, request: Request, principal: Admin, svc: Service, idempotency_key: IdempotencyKey = None
    ) -> Response:
        idempotency = _idempotency(principal, idempotency_key, request, body)
        try:
            return _respond(svc.register_agency(principal, body.model_dump(), idempotency=idempotency))
        except (KeyError, ValueError, TypeError) as error:
            raise Problem(422, "invalid-agency", "Invalid agency", str(error)) from None

    return app


def app_from_env() -> FastAPI:
    """The app as configured by the environment (what `reporting` serves, one per worker)."""
    return create_app(Settings.from_env())
