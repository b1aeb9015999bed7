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
from services.http.auth import Limits, require_agency_access, require_roles
from services.http.health import add_health_routes
from services.http.limits import BodySizeLimit
from services.http.problems import Problem, install_problem_handlers
from services.ingest.bootstrap import ingest_service
from services.ingest.commands import CommandResult, Idempotency, IngestService, InvalidPeriodError
from services.ingest.idempotency import check_key, fingerprint

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


class IndicatorsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    indicators: list[dict[str, Any]] = Field(default_factory=list)
    rules: list[dict[str, Any]] = Field(default_factory=list)


class TemplateVersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    effective_from: str
    indicators: list[str] = Field(min_length=1)
    name_vi: str = ""
    name_en: str = ""
    applies_to: str = ""
    base: str | None = None


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

    app = FastAPI(title="Reporting ingest API", version="1", lifespan=lifespan, default_response_class=ORJSONResponse)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    install_problem_handlers(app)
    app.state.limits = Limits.from_settings(settings)

    def ping_database() -> None:
        with app.state.pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")

    add_health_routes(app, {"postgres": ping_database})

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
    def define_indicators(body: IndicatorsIn, principal: Admin, svc: Service) -> Response:
        try:
            indicators = [Indicator.from_dict(item) for item in body.indicators]
            rules = [Rule.from_dict(item) for item in body.rules]
        except (KeyError, ValueError, TypeError) as error:
            raise Problem(422, "invalid-definition", "Invalid definition", str(error)) from None
        return _respond(svc.define_indicators(principal, indicators, rules))

    @app.post("/admin/templates/{code}/versions", tags=["administration"], status_code=201)
    def publish_template(code: str, body: TemplateVersionIn, principal: Admin, svc: Service) -> Response:
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
            )
        )

    @app.post("/admin/agencies", tags=["administration"], status_code=201)
    def register_agency(body: dict[str, Any], principal: Admin, svc: Service) -> Response:
        try:
            return _respond(svc.register_agency(principal, body))
        except (KeyError, ValueError, TypeError) as error:
            raise Problem(422, "invalid-agency", "Invalid agency", str(error)) from None

    return app


def app_from_env() -> FastAPI:
    """The app as configured by the environment (what `reporting` serves, one per worker)."""
    return create_app(Settings.from_env())
