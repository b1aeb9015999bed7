"""Handlers of the agency registry (admin role): register, rename, close or merge, assign a template.

Every change is an event of the agency aggregate with the date it takes effect.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from domain.agencies import Agency, agency_id
from domain.errors import InvalidAgencyChange, InvalidReference, InvalidTransition, NotFound
from domain.identity import Principal
from services.ingest.application.commands import (
    AssignElectronicCode,
    AssignTemplate,
    CloseAgency,
    RegisterAgency,
    RenameAgency,
)
from services.ingest.application.execute import execute
from services.ingest.application.idempotency import Idempotency
from services.ingest.application.outcomes import AgencyChanged, Replayed
from services.ingest.application.ports import agency_of
from services.ingest.application.reference import get
from services.ingest.application.write_side import WriteSide


def _check_template(ws: WriteSide, code: str) -> None:
    try:
        ws.reference.template(code)
    except NotFound:
        raise InvalidReference(f"template {code} does not exist") from None


def _other_agency(ws: WriteSide, code: str, role: str) -> Agency:
    try:
        return ws.reference.agency(code)
    except NotFound:
        raise InvalidReference(f"{role} {code} does not exist") from None


def _agency(ws: WriteSide, code: str) -> Agency:
    return get(ws.store, agency_id(code), Agency, f"agency {code}")


def _give_electronic_code(ws: WriteSide, agency: Agency, electronic_code: str, principal: Principal) -> bool:
    """Assign the code unless another agency holds it: the national feed names agencies by it."""
    holder = agency_of(ws.electronic_codes.codes(), electronic_code)
    if holder is not None and holder != agency.code:
        raise InvalidAgencyChange(f"{electronic_code} is already the electronic identifier code of {holder}")
    return agency.assign_electronic_code(electronic_code, principal.subject, principal.role)


def _changed(agency: Agency, _: object, positions: Sequence[int]) -> AgencyChanged:
    return AgencyChanged(agency.describe(), positions=tuple(positions))


def register_agency(
    ws: WriteSide, principal: Principal, command: RegisterAgency, idempotency: Idempotency | None = None
) -> AgencyChanged | Replayed:
    """Register an agency; for one already registered, apply its new renames, template and end."""

    def load() -> Agency:
        if command.template:
            _check_template(ws, command.template)
        if command.parent:
            _other_agency(ws, command.parent, "parent")
        if command.merged_into and not command.effective_to:
            raise InvalidAgencyChange("merged_into needs effective_to, the last day before the merge")
        try:
            return _agency(ws, command.code)
        except NotFound:
            return Agency.register(
                code=command.code,
                name_vi=command.name_vi,
                name_en=command.name_en,
                kind=command.kind,
                parent=command.parent,
                region=command.region,
                template=command.template,
                effective_from=command.effective_from,
                actor=principal.subject,
                role=principal.role,
            )

    def change(agency: Agency) -> None:
        for rename in command.renames:
            if rename.effective_from > agency.names[-1].effective_from:
                agency.rename(rename.effective_from, rename.name_vi, rename.name_en, principal.subject, principal.role)
        if command.template:
            agency.assign_template(command.template, principal.subject, principal.role)
        if command.electronic_code:
            _give_electronic_code(ws, agency, command.electronic_code, principal)
        if command.effective_to and agency.effective_to is None:
            if command.merged_into:
                successor = _other_agency(ws, command.merged_into, "successor")
                agency.merge_into(successor, command.effective_to, principal.subject, principal.role)
            else:
                agency.close(command.effective_to, None, principal.subject, principal.role)

    return execute(ws.store, load, change, _changed, idempotency=idempotency)


def _change_agency(
    ws: WriteSide,
    code: str,
    change: Callable[[Agency], object],
    idempotency: Idempotency | None,
    check: Callable[[], object] = lambda: None,
) -> AgencyChanged | Replayed:
    """`check` validates what the request names besides the agency, before the agency is read."""

    def load() -> Agency:
        check()
        return _agency(ws, code)

    return execute(ws.store, load, change, _changed, idempotency=idempotency)


def rename_agency(
    ws: WriteSide, principal: Principal, command: RenameAgency, idempotency: Idempotency | None = None
) -> AgencyChanged | Replayed:
    """A new name from a date; earlier periods keep the names they were reported under."""
    return _change_agency(
        ws,
        command.code,
        lambda agency: agency.rename(
            command.effective_from, command.name_vi, command.name_en, principal.subject, principal.role
        ),
        idempotency,
    )


def close_agency(
    ws: WriteSide, principal: Principal, command: CloseAgency, idempotency: Idempotency | None = None
) -> AgencyChanged | Replayed:
    """The agency's last day; with a successor, a merge (the successor reports from the next day)."""

    def successor() -> Agency | None:
        return None if command.successor is None else _other_agency(ws, command.successor, "successor")

    def change(agency: Agency) -> None:
        heir = successor()
        if heir is None:
            agency.close(command.effective_to, None, principal.subject, principal.role)
        else:
            agency.merge_into(heir, command.effective_to, principal.subject, principal.role)

    return _change_agency(ws, command.code, change, idempotency, check=successor)


def assign_template(
    ws: WriteSide, principal: Principal, command: AssignTemplate, idempotency: Idempotency | None = None
) -> AgencyChanged | Replayed:
    """The template the agency fills for periods not opened yet (opened ones keep theirs)."""

    def change(agency: Agency) -> bool:
        if agency.effective_to is not None and agency.effective_to < ws.clock.today():
            raise InvalidTransition(f"agency {command.code} ended on {agency.effective_to}")
        return agency.assign_template(command.template, principal.subject, principal.role)

    return _change_agency(ws, command.code, change, idempotency, check=lambda: _check_template(ws, command.template))


def assign_electronic_code(
    ws: WriteSide, principal: Principal, command: AssignElectronicCode, idempotency: Idempotency | None = None
) -> AgencyChanged | Replayed:
    """The agency's electronic identifier code (QCVN 102:2016), unique among agencies."""
    return _change_agency(
        ws,
        command.code,
        lambda agency: _give_electronic_code(ws, agency, command.electronic_code, principal),
        idempotency,
    )
