"""The fields stage on generated fixture cases (scanned, stamped, rotated uploads)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.casefolder import load_case_folder
from pipeline.models import Finding, Status
from pipeline.pageviews import locate
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


def test_a_field_read_on_the_extra_upload_names_that_upload_and_its_own_page(cases: dict[str, Path]) -> None:
    # Given image uploads: page 2 of the application form is uploaded as application_form_extra
    found, _ = _fields(cases["clean_shenyang_jpg_150"])
    user = next(f for f in found if f.rule == "ocr.user" and f.slot == "application_form")
    handler = next(f for f in found if f.rule == "ocr.handler" and f.slot == "application_form")
    # Then the employee's values (page VI) are placed on page 0 of the extra upload, and the
    # handler's (page 1) on page 0 of the form's own upload
    assert {(x.get("slot"), x["page"]) for x in user.evidence["fields"]} == {("application_form_extra", 0)}
    assert {(x.get("slot"), x["page"]) for x in handler.evidence["fields"]} == {(None, 0)}
    marks = [m for m in locate(found) if found[m.finding] is user]
    assert marks and {(m.slot, m.page) for m in marks} == {("application_form_extra", 0)}


def test_a_licence_validity_period_box_says_which_page_and_turn_it_is_on(cases: dict[str, Path]) -> None:
    found, _ = _fields(cases["clean_shenyang_jpg_150"])
    for rule in ("ocr.license_valid", "auth.period"):
        f = next(f for f in found if f.rule == rule)
        assert f.evidence["page"] == 0 and f.evidence["rotation"] == 0, rule
        assert [m.box for m in locate([f])] == [tuple(f.evidence["box"])]


def test_the_organisation_name_and_credit_code_findings_name_their_own_field(cases: dict[str, Path]) -> None:
    found, _ = _fields(cases["clean_shenyang_jpg_150"])
    titles = {(f.rule, f.evidence["field"]) for f in found if f.rule in ("ocr.org_name", "ocr.uscc")}
    assert titles == {("ocr.org_name", "单位名称"), ("ocr.uscc", "统一社会信用代码")}


def test_without_the_vi_page_the_employee_is_uncertain_never_read_from_the_handlers_row(
    cases: dict[str, Path], tmp_path: Path
) -> None:
    # Given a clean case whose application form was uploaded as page 1 only (no 附页 VI page),
    # where page 1's only 姓名 is the handler's (李娜 ≠ the employee 张伟)
    import shutil

    case = shutil.copytree(cases["clean_shenyang_jpg_150"], tmp_path / "no_vi_page")
    (case / "uploads" / "application_form_extra.jpg").unlink()
    # When the fields stage reads the form
    found, _ = _fields(case)
    on_form = {f.rule: f for f in found if f.slot == "application_form"}
    # Then the employee's fields are uncertain (a person looks), not failed with the handler's name
    assert on_form["ocr.user"].status is Status.UNCERTAIN
    assert on_form["ocr.form_fields"].status is Status.UNCERTAIN
    assert "员工姓名" in on_form["ocr.form_fields"].message
    assert on_form["ocr.handler"].status is Status.PASS
