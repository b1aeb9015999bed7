"""Reading aggregates through the event-store port: the typed get every handler uses, and reference data.

Reference data (the catalogue, agencies, templates) is read on every command: read-only access
to the store's cached aggregates (brought up to their latest version), and forms are memoised
with the versions of the definitions they were built from (one query tells they are current).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.agencies import Agency, agency_id
from domain.catalogue import CATALOGUE_ID, Catalogue
from domain.errors import NotFound
from domain.periods import Period
from domain.templates import Form, Template, template_id
from services.ingest.application.errors import PeriodNotOpen
from services.ingest.application.ports import EventStore

A = TypeVar("A", bound=Aggregate)

MAX_FORMS = 1000


def get(store: EventStore, aggregate_id: UUID, kind: type[A], what: str, *, read_only: bool = False) -> A:
    """The current aggregate, or NotFound naming `what`; `read_only`: never change what it returns."""
    aggregate = store.get(aggregate_id, read_only=read_only)
    if not isinstance(aggregate, kind):
        raise NotFound(f"{what} not found")
    return aggregate


class Reference:
    """The catalogue, agencies, templates and forms, as the store holds them now."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._built: dict[tuple[UUID, object, int | None], _Built] = {}
        self._bases: dict[UUID, UUID | None] = {}  # each template's base, as last built
        self._lock = threading.Lock()

    def catalogue(self) -> Catalogue:
        return get(self.store, CATALOGUE_ID, Catalogue, "the catalogue", read_only=True)

    def agency(self, code: str) -> Agency:
        return get(self.store, agency_id(code), Agency, f"agency {code}", read_only=True)

    def template(self, code: str) -> Template:
        return get(self.store, template_id(code), Template, f"template {code}", read_only=True)

    def form(self, template_code: str, period: Period, version: int | None = None) -> Form:
        """The form of a template for a period (or of one of its versions): the base's indicators first.

        One query tells whether the definitions it was built from are still current (the versions of
        the template, the catalogue and the base template); only when one changed are they read.
        """
        tid = template_id(template_code)
        request = (tid, period.months()[0], version)
        built = self._built.get(request)
        ids = [tid, CATALOGUE_ID] if built is None or built.base is None else [tid, CATALOGUE_ID, built.base]
        versions = self.store.versions(ids)
        if built is not None and built.versions == tuple(versions.get(i) for i in ids):
            return built.form
        form, base_id = self._build(template_code, period, version)
        ids = [tid, CATALOGUE_ID] if base_id is None else [tid, CATALOGUE_ID, base_id]
        with self._lock:
            if len(self._built) > MAX_FORMS:
                self._built.clear()
                self._bases.clear()
            self._bases[tid] = base_id
            # The versions read before building: a change since then is seen by the next call.
            self._built[request] = _Built(form, base_id, tuple(versions.get(i) for i in ids))
        return form

    def definition_ids(self, template_code: str) -> list[UUID]:
        """The aggregates `form` checks for the template: itself, the catalogue, and its base if it had one when
        last built."""
        tid = template_id(template_code)
        base = self._bases.get(tid)
        return [tid, CATALOGUE_ID] if base is None else [tid, CATALOGUE_ID, base]

    def _build(self, template_code: str, period: Period, version: int | None) -> tuple[Form, UUID | None]:
        template = self.template(template_code)
        catalogue = self.catalogue()
        chosen = template.version_for(period) if version is None else template.version_number(version)
        if chosen is None:
            raise PeriodNotOpen(f"template {template_code} has no version in force for {period}")
        base = self.template(template.base) if template.base is not None else None
        base_version = base.version_for(period) if base is not None else None
        base_indicators = base_version.indicators if base_version is not None else ()
        return Form.build(template, chosen, catalogue, base_indicators), None if base is None else base.id


@dataclass(frozen=True)
class _Built:
    """A form, and the versions of the template, the catalogue and the base template it was built from."""

    form: Form
    base: UUID | None
    versions: tuple[int | None, ...]
