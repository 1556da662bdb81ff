"""The fields stage on generated fixture cases (scanned, stamped, rotated uploads)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.casefolder import load_case_folder
from pipeline.models import Finding, Status
from pipeline.ruleset import load_rule_set
from pipeline.stages import fields, upload
from pipeline.stages.base import StageContext

CASES = ["clean_shenyang_jpg_150", "form_field_edited_mobile", "ocr_user_other_person", "licence_expired"]


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from fixtures.scans.generate import generate_all

    return {p.name: p for p in generate_all(tmp_path_factory.mktemp("fx"), only=CASES)}


def _fields(case: Path) -> tuple[list[Finding], dict[str, list[str]]]:
    rules = load_rule_set()
    folder = load_case_folder(case, set(rules.slots))
    intake = upload.intake(folder, rules)
    ctx = StageContext(case=folder.case, rules=rules, uploads=intake.uploads)
    return fields.run(ctx), json.loads((case / "expected.json").read_text(encoding="utf-8"))


def test_a_clean_case_of_150_dpi_jpeg_scans_passes_every_field_rule(cases: dict[str, Path]) -> None:
    found, _ = _fields(cases["clean_shenyang_jpg_150"])
    assert {(f.rule, f.slot, f.status) for f in found if f.status is not Status.PASS} == set()
    # the employee is read from page VI, uploaded as application_form_extra
    user = next(f for f in found if f.rule == "ocr.user" and f.slot == "application_form")
    assert {x["field"] for x in user.evidence["fields"]} == {"user.name", "user.id_number"}


@pytest.mark.parametrize("name", CASES[1:])
def test_a_fixture_case_with_a_field_defect_fails_its_rule_with_both_values(cases: dict[str, Path], name: str) -> None:
    found, expected = _fields(cases[name])
    mine = set(expected["failing_rules"]) & set(fields.RULE_IDS)
    failed = {f.rule for f in found if f.status is Status.FAIL}
    assert failed == mine
    for f in found:
        if f.status is Status.FAIL and f.rule.startswith("ocr.") and f.rule != "ocr.license_valid":
            assert f.evidence["read"] and f.evidence["entered"] and f.evidence["read"] != f.evidence["entered"]
        if f.status is Status.FAIL and f.rule == "ocr.license_valid":
            assert f.evidence["valid_until"] < f.evidence["submitted"]
