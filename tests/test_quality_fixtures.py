"""scan.quality and scan.edited on the generated fixture cases (fixtures/scans/generate.py)."""

from __future__ import annotations

import pytest

from pipeline.casefolder import load_case_folder
from pipeline.models import Finding, Status
from pipeline.ruleset import load_rule_set
from pipeline.stages import quality, upload
from pipeline.stages.base import StageContext

CASES = ["clean_shenyang_jpg_150", "clean_panjin_jpg_200_faint", "clean_anshan_pdf_300_same_person",
         "scan_quality_blank_licence", "scan_quality_blurred_seal_form", "scan_quality_low_dpi_employee_id",
         "scan_edited_photoshop"]


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Finding]]:
    from fixtures.scans.generate import generate_all

    rules = load_rule_set()
    out = {}
    for case in generate_all(tmp_path_factory.mktemp("quality-cases"), only=CASES):
        folder = load_case_folder(case, set(rules.slots))
        intake = upload.intake(folder, rules)
        out[case.name] = quality.run(StageContext(case=folder.case, rules=rules, uploads=intake.uploads))
    return out


def _not_passing(found: list[Finding]) -> set[tuple[str, str | None, Status]]:
    return {(f.rule, f.slot, f.status) for f in found if f.status is not Status.PASS}


@pytest.mark.parametrize("name", [c for c in CASES if c.startswith("clean_")])
def test_every_upload_of_a_clean_fixture_case_passes_both_rules(findings: dict[str, list[Finding]],
                                                                 name: str) -> None:
    assert _not_passing(findings[name]) == set()
    slots = {f.slot for f in findings[name] if f.rule == "scan.quality"}
    assert {"application_form", "seal_form", "authorization", "org_license", "handler_id", "employee_id"} <= slots


@pytest.mark.parametrize("name,slot,problem", [
    ("scan_quality_blank_licence", "org_license", "空白"),
    ("scan_quality_blurred_seal_form", "seal_form", "模糊"),
    ("scan_quality_low_dpi_employee_id", "employee_id", "分辨率"),
])
def test_a_fixture_scan_that_cannot_be_checked_fails_scan_quality_alone(
        findings: dict[str, list[Finding]], name: str, slot: str, problem: str) -> None:
    [failed] = [f for f in findings[name] if f.status is Status.FAIL]
    assert (failed.rule, failed.slot) == ("scan.quality", slot)
    assert problem in failed.message
    assert _not_passing(findings[name]) - {("scan.quality", slot, Status.FAIL),
                                           ("scan.edited", slot, Status.SKIPPED)} == set()


def test_a_fixture_scan_saved_by_photoshop_is_left_to_a_person(findings: dict[str, list[Finding]]) -> None:
    assert {(rule, status) for rule, _, status in _not_passing(findings["scan_edited_photoshop"])} == {
        ("scan.edited", Status.UNCERTAIN)}
