"""DHIS2 dataValueSets (JSON and CSV), periods, the code mapping, and the import summary."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from domain.periods import InvalidPeriod, Period
from services.interchange.dhis2 import (
    import_summary,
    period_from_dhis2,
    period_to_dhis2,
    read_dhis2_csv,
    read_dhis2_json,
    write_dhis2_csv,
    write_dhis2_json,
)
from services.interchange.mapping import CodeMapping, MappingError, UnsupportedPeriod
from services.interchange.rows import ImportCounts, Row, SourceError, SourceValue
from tests.unit.interchange_support import fixture, indicators

CATALOGUE = indicators()
MAPPING = CodeMapping.from_json(fixture("dhis2_mapping.json"))


def errors(rows: list[Row]) -> list[tuple[str, str]]:
    return [(r.location, r.code) for r in rows if isinstance(r, SourceError)]


def good(rows: list[Row]) -> list[tuple[str, str, str, str, object]]:
    return [(r.location, r.agency, r.period, r.indicator, r.value) for r in rows if isinstance(r, SourceValue)]


# ---- periods -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dhis2", "ours"),
    [("202401", "2024-01"), ("202412", "2024-12"), ("2024Q1", "2024Q1"), ("2024S2", "2024S2"), ("2024", "2024")],
)
def test_periods_convert_both_ways(dhis2: str, ours: str) -> None:
    assert period_from_dhis2(dhis2) == Period.parse(ours)
    assert period_to_dhis2(Period.parse(ours)) == dhis2


@pytest.mark.parametrize("text", ["2024W1", "20240115", "2024AprilS1", "2024Oct", "2024BiW1", "202401B", "2024-01"])
def test_other_dhis2_period_types_are_unsupported(text: str) -> None:
    with pytest.raises(UnsupportedPeriod):
        period_from_dhis2(text)


@pytest.mark.parametrize("text", ["202413", "202400", "2024Q5", "2024S3", "1999"])
def test_impossible_periods_are_invalid(text: str) -> None:
    with pytest.raises(InvalidPeriod) as caught:
        period_from_dhis2(text)
    assert not isinstance(caught.value, UnsupportedPeriod)


# ---- mapping -------------------------------------------------------------------


def test_mapping_lookups_and_default_combo() -> None:
    assert MAPPING.indicator_for("DeMobSub001", None) == "TEL.MOBILE_SUBSCRIBERS"
    assert MAPPING.indicator_for("DeMobSub001", "HllvX50cXC0") == "TEL.MOBILE_SUBSCRIBERS"
    assert MAPPING.indicator_for("DeMobSub001", "CocLetter01") is None
    assert MAPPING.indicator_for("DePostItm01", "CocParcel01") == "POS.PARCELS"
    assert MAPPING.indicator_for("DePostItm01", None) is None
    assert MAPPING.data_element_for("TEL.MOBILE_SUBSCRIBERS") == ("DeMobSub001", "HllvX50cXC0")
    assert MAPPING.data_element_for("POS.LETTERS") == ("DePostItm01", "CocLetter01")
    assert MAPPING.agency_for("OuCaoBang01") == "P04"
    assert MAPPING.org_unit_for("P01") == "OuHaNoi0001"
    assert CodeMapping.from_dict(MAPPING.to_dict()) == MAPPING


def mapping_with(**changes: object) -> dict[str, object]:
    data: dict[str, object] = json.loads(fixture("dhis2_mapping.json"))
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": "other"}, "format"),
        ({"version": 2}, "version 2"),
        ({"version": True}, "version True"),
        ({"periodType": "Weekly"}, "periodType 'Weekly'"),
        ({"dataSet": ""}, "dataSet"),
        ({"surprise": 1}, "unknown mapping field"),
        ({"orgUnits": [{"orgUnit": "A", "agency": "P01"}, {"orgUnit": "B", "agency": "P01"}]}, "P01 is mapped twice"),
        ({"orgUnits": [{"orgUnit": "A", "agency": "P 01"}]}, "not an agency code"),
        (
            {"dataElements": [{"dataElement": "X", "indicator": "A"}, {"dataElement": "Y", "indicator": "A"}]},
            "one-to-one",
        ),
        ({"dataElements": [{"dataElement": "X", "indicator": "A"}, {"dataElement": "X", "indicator": "B"}]}, "twice"),
        ({"dataElements": [{"dataElement": "X"}]}, "indicator must be"),
        ({"dataElements": [{"dataElement": "X", "indicator": "A", "coc": "Y"}]}, "unknown field"),
    ],
)
def test_bad_mappings_are_refused_with_a_reason(changes: dict[str, object], message: str) -> None:
    with pytest.raises(MappingError, match=message):
        CodeMapping.from_dict(mapping_with(**changes))


def test_mapping_that_is_not_json() -> None:
    with pytest.raises(MappingError, match="not JSON"):
        CodeMapping.from_json(b"{nope")


# ---- JSON ----------------------------------------------------------------------


def test_json_data_value_set_with_top_level_defaults() -> None:
    rows = list(read_dhis2_json(fixture("dhis2_values.json"), MAPPING, CATALOGUE))
    assert errors(rows) == []
    assert good(rows) == [
        ("dataValues[0]", "P01", "2026-10", "TEL.MOBILE_SUBSCRIBERS", 8450123),
        ("dataValues[1]", "P01", "2026-10", "TEL.REVENUE", Decimal("12345.67")),
        ("dataValues[2]", "P01", "2026-10", "TEL.HOUSEHOLDS_FIBRE_PCT", Decimal("93.5")),  # a JSON number, exactly
        ("dataValues[3]", "P01", "2026-10", "DX.HAS_APPROVED_PLAN", True),
        ("dataValues[4]", "P01", "2026-10", "DX.NOTES", "Đã triển khai nền tảng dữ liệu dùng chung"),
        ("dataValues[5]", "P01", "2026-10", "POS.LETTERS", 1200),
        ("dataValues[6]", "P01", "2026-10", "POS.PARCELS", 3400),
        ("dataValues[7]", "P04", "2026-10", "TEL.MOBILE_SUBSCRIBERS", 512000),
    ]
    assert rows[1].comment == "Số liệu ước tính của doanh nghiệp"  # type: ignore[union-attr]


def test_json_partly_invalid_keeps_good_values_and_locates_the_rest() -> None:
    rows = list(read_dhis2_json(fixture("dhis2_partly_invalid.json"), MAPPING, CATALOGUE))
    assert errors(rows) == [
        ("dataValues[1]", "unmapped-data-element"),
        ("dataValues[2]", "unmapped-org-unit"),
        ("dataValues[3]", "unsupported-period"),
        ("dataValues[4]", "out-of-range"),
        ("dataValues[5]", "wrong-type"),
        ("dataValues[6]", "ambiguous-number"),
        ("dataValues[7]", "unmapped-data-element"),
        ("dataValues[8]", "empty-value"),
        ("dataValues[9]", "duplicate-value"),
        ("dataValues[10]", "wrong-period-type"),
        ("dataValues[11]", "deleted-value"),
        ("dataValues[12]", "missing-field"),
    ]
    assert good(rows) == [
        ("dataValues[0]", "P01", "2026-10", "TEL.MOBILE_SUBSCRIBERS", 8450123),
        ("dataValues[13]", "P04", "2026-10", "TEL.REVENUE", Decimal("250.5")),
    ]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("dhis2_malformed.json", "invalid-json"),
        ("dhis2_not_a_set.json", "not-a-data-value-set"),
        ("dhis2_other_data_set.json", "wrong-data-set"),
    ],
)
def test_json_documents_refused_whole(name: str, code: str) -> None:
    rows = list(read_dhis2_json(fixture(name), MAPPING, CATALOGUE))
    assert len(rows) == 1
    assert isinstance(rows[0], SourceError)
    assert (rows[0].code, rows[0].fatal) == (code, True)


def test_json_not_utf8_and_nan() -> None:
    bad = '{"dataValues": [{"dataElement": "DeDxNotes01", "value": "Ghi chú"}]}'.encode("cp1258")
    assert errors(list(read_dhis2_json(bad, MAPPING, CATALOGUE))) == [("document", "invalid-encoding")]
    nan = (
        b'{"dataValues": [{"dataElement": "DeTelRev001", "orgUnit": "OuHaNoi0001", "period": "202610", "value": NaN}]}'
    )
    assert errors(list(read_dhis2_json(nan, MAPPING, CATALOGUE))) == [("document", "invalid-json")]


def test_lone_surrogates_from_json_escapes_never_reach_a_value_or_a_message() -> None:
    document = (
        b'{"period": "202610", "orgUnit": "OuHaNoi0001", "dataValues": ['
        b'{"dataElement": "DeDxNotes01", "value": "bad \\ud800 text"},'
        b'{"dataElement": "DeMobSub001", "value": "1", "comment": "\\udfff"},'
        b'{"dataElement": "De\\ud800", "value": "1"}]}'
    )
    rows = list(read_dhis2_json(document, MAPPING, CATALOGUE))
    assert errors(rows) == [
        ("dataValues[0]", "invalid-character"),
        ("dataValues[1]", "invalid-comment"),
        ("dataValues[2]", "unmapped-data-element"),
    ]
    for row in rows:
        assert isinstance(row, SourceError)
        row.message.encode("utf-8")  # a message can always be sent


def test_attribute_option_combo_is_checked_when_the_mapping_names_one() -> None:
    strict = CodeMapping.from_dict(mapping_with(attributeOptionCombo="AocFunder01"))
    document = {
        "period": "202610",
        "orgUnit": "OuHaNoi0001",
        "dataValues": [
            {"dataElement": "DeMobSub001", "value": "1", "attributeOptionCombo": "AocFunder01"},
            {"dataElement": "DeTelRev001", "value": "1", "attributeOptionCombo": "AocOther001"},
            {"dataElement": "DeFibrePct1", "value": "1"},
        ],
    }
    rows = list(read_dhis2_json(json.dumps(document).encode(), strict, CATALOGUE))
    assert errors(rows) == [("dataValues[1]", "unmapped-attribute-option-combo")]
    assert len(good(rows)) == 2


def test_json_round_trip() -> None:
    rows = list(read_dhis2_json(fixture("dhis2_values.json"), MAPPING, CATALOGUE))
    originals = [r for r in rows if isinstance(r, SourceValue)]
    exported = write_dhis2_json(originals, MAPPING, complete_date=date(2026, 10, 12))
    assert exported.skipped == ()
    document = json.loads(exported.content)
    assert document["dataSet"] == "VnTtttBc001"
    assert document["completeDate"] == "2026-10-12"
    assert document["dataValues"][0] == {
        "dataElement": "DeMobSub001",
        "period": "202610",
        "orgUnit": "OuHaNoi0001",
        "categoryOptionCombo": "HllvX50cXC0",
        "value": "8450123",
    }
    again = list(read_dhis2_json(exported.content, MAPPING, CATALOGUE))
    assert [(r.agency, r.period, r.indicator, r.value, r.comment) for r in again if isinstance(r, SourceValue)] == [
        (r.agency, r.period, r.indicator, r.value, r.comment) for r in originals
    ]


def test_export_skips_what_the_mapping_cannot_place() -> None:
    values = [
        SourceValue("", "P01", "2026-10", "TEL.MOBILE_SUBSCRIBERS", 1),
        SourceValue("", "P01", "2026-10", "IT.ENTERPRISES", 1),
        SourceValue("", "P96", "2026-10", "TEL.MOBILE_SUBSCRIBERS", 1),
        SourceValue("", "P01", "2026Q4", "TEL.REVENUE", Decimal(1)),
    ]
    exported = write_dhis2_json(values, MAPPING)
    assert [(e.location, e.code) for e in exported.skipped] == [
        ("P01 2026-10 IT.ENTERPRISES", "unmapped-indicator"),
        ("P96 2026-10 TEL.MOBILE_SUBSCRIBERS", "unmapped-agency"),
        ("P01 2026Q4 TEL.REVENUE", "wrong-period-type"),
    ]
    assert len(json.loads(exported.content)["dataValues"]) == 1


# ---- CSV -----------------------------------------------------------------------


def test_csv_values_and_bad_rows() -> None:
    rows = list(read_dhis2_csv(fixture("dhis2_values.csv"), MAPPING, CATALOGUE))
    assert good(rows) == [
        ("row 2", "P01", "2026-10", "TEL.MOBILE_SUBSCRIBERS", 8450123),
        ("row 3", "P01", "2026-10", "TEL.REVENUE", Decimal("12345.67")),
        ("row 4", "P01", "2026-10", "DX.HAS_APPROVED_PLAN", False),
        ("row 5", "P01", "2026-10", "POS.LETTERS", 1200),
        ("row 6", "P04", "2026-10", "TEL.MOBILE_SUBSCRIBERS", 512000),
    ]
    assert rows[1].comment == "Số liệu ước tính, chưa kiểm toán"  # type: ignore[union-attr]
    assert errors(rows) == [("row 7", "wrong-type"), ("row 8", "invalid-period")]


def test_csv_with_lastupdated_deleted_and_short_rows() -> None:
    rows = list(read_dhis2_csv(fixture("dhis2_lastupdated.csv"), MAPPING, CATALOGUE))
    assert errors(rows) == [("row 3", "deleted-value"), ("row 4", "empty-value"), ("row 5", "wrong-column-count")]
    assert [r.indicator for r in rows if isinstance(r, SourceValue)] == ["TEL.MOBILE_SUBSCRIBERS", "POS.PARCELS"]


def test_csv_wrong_header_is_refused_whole() -> None:
    rows = list(read_dhis2_csv(fixture("dhis2_wrong_header.csv"), MAPPING, CATALOGUE))
    assert errors(rows) == [("row 1", "wrong-header")]
    undecodable = list(read_dhis2_csv(b"d\xe0taelement,period\n", MAPPING, CATALOGUE))
    assert errors(undecodable) == [("row 1", "wrong-header")]
    assert "\ufffd" in undecodable[0].message.encode("utf-8").decode("utf-8")  # type: ignore[union-attr]


def test_csv_round_trip() -> None:
    originals = [
        r for r in read_dhis2_json(fixture("dhis2_values.json"), MAPPING, CATALOGUE) if isinstance(r, SourceValue)
    ]
    exported = write_dhis2_csv(originals, MAPPING)
    assert exported.content.startswith(b"dataelement,period,orgunit,categoryoptioncombo,attributeoptioncombo,value,")
    again = list(read_dhis2_csv(exported.content, MAPPING, CATALOGUE))
    assert errors(again) == []
    assert [(r.agency, r.period, r.indicator, r.value, r.comment) for r in again if isinstance(r, SourceValue)] == [
        (r.agency, r.period, r.indicator, r.value, r.comment) for r in originals
    ]


# ---- import summary ------------------------------------------------------------


def test_summary_in_dhis2_shape() -> None:
    rows = list(read_dhis2_json(fixture("dhis2_partly_invalid.json"), MAPPING, CATALOGUE))
    problems = [r for r in rows if isinstance(r, SourceError)]
    summary = import_summary(ImportCounts(stored=2, corrected=1, unchanged=0, rejected=len(problems)), problems)
    assert summary["status"] == "WARNING"
    assert summary["importCount"] == {"imported": 1, "updated": 1, "ignored": 12, "deleted": 0}
    assert summary["conflicts"][0] == {
        "object": "dataValues[1]",
        "value": "data element 'DeUnknown01' is not in the mapping (unmapped-data-element)",
    }
    assert len(summary["conflicts"]) == 12


def test_summary_status() -> None:
    assert import_summary(ImportCounts(stored=3, unchanged=2, rejected=0), [])["status"] == "SUCCESS"
    assert import_summary(ImportCounts(stored=0, unchanged=4, rejected=0), [])["importCount"]["ignored"] == 4
    refused = [SourceError("document", "invalid-json", "not well-formed JSON", fatal=True)]
    summary = import_summary(ImportCounts(stored=0, unchanged=0, rejected=0), refused)
    assert (summary["status"], summary["conflicts"][0]["object"]) == ("ERROR", "document")
    with pytest.raises(ValueError, match="within"):
        ImportCounts(stored=1, unchanged=0, rejected=0, corrected=2)
