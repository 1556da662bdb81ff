"""A re-review after a replaced upload (``review_case(..., reuse=PriorReview)``): the replaced file is
checked again, the other slots' per-file findings are taken over — their work not done again — the
case-level rules run again, and the decision is the one a full review of the same files gives."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import pytest

from pipeline.build import build_sha256
from pipeline.models import Decision, Finding, OtherUse, Report, Status
from pipeline.review import STAGES, PriorReview, review_case
from pipeline.ruleset import RULES_DIR, load_rule_set
from pipeline.stages import fields, seal
from pipeline.stages.base import Stage
from tests.reusecases import CLEAN, OTHER_HANDLER, PER_FILE, make_cases

RULES = load_rule_set()


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_cases(tmp_path_factory, "reuse-cases")


@pytest.fixture(scope="module")
def first(cases: dict[str, Path]) -> Report:
    """The clean case's first review, in full."""
    report = review_case(cases[CLEAN], RULES)
    assert report.decision is Decision.APPROVED
    return report


@pytest.fixture()
def prior(first: Report) -> PriorReview:
    return PriorReview.from_report(first, review_key="first-review")


def copy_of(tmp_path: Path, source: Path) -> Path:
    return Path(shutil.copytree(source, tmp_path / source.name))


def upload_of(folder: Path, slot: str) -> Path:
    [path] = (folder / "uploads").glob(f"{slot}.*")
    return path


def reencode(path: Path, quality: int = 88) -> None:
    """The same page saved again: other bytes (another sha256), the same picture."""
    image = cv2.imread(str(path))
    assert image is not None
    assert cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, quality])


def outcome(report: Report) -> list[tuple[str, str, str, str]]:
    """What a review found, whatever the order and the evidence's note of reuse."""
    return sorted((f.rule, f.slot or "", f.status.value, f.message) for f in report.findings)


def reused(report: Report) -> list[Finding]:
    return [f for f in report.findings if "reused_from" in f.evidence]


def counting(monkeypatch: pytest.MonkeyPatch, target: str) -> list[int]:
    """Count the calls of a stage's helper (``module.name``), letting each through."""
    module_name, name = target.rsplit(".", 1)
    module = __import__(module_name, fromlist=[name])
    original: Callable[..., Any] = getattr(module, name)
    calls = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def test_each_stage_declares_which_of_its_rules_are_per_file_and_the_rest_are_case_level() -> None:
    for stage in STAGES:
        assert set(stage.per_file) <= set(stage.rule_ids)
        assert all(RULES.rule(rule_id).slots for rule_id in stage.per_file)  # a per-file rule is checked on slots
    case_level = {rule_id for stage in STAGES for rule_id in stage.rule_ids} - PER_FILE
    assert case_level == {"data.uscc", "data.resident_id", "data.org_name", "data.mobile", "data.email",
                          "payment.payer"}
    # the fields stage reads a form's two images as one document: its findings on a form read both
    assert fields.STAGE.reads(RULES, "application_form") == {"application_form", "application_form_extra"}
    assert fields.STAGE.reads(RULES, "handler_id") == {"handler_id"}
    assert seal.STAGE.reads(RULES, "application_form") == {"application_form"}
    with pytest.raises(ValueError, match="per-file rules it does not check"):
        Stage(name="x", rule_ids=("seal.present",), run=lambda ctx: [], per_file=("scan.quality",))


def test_a_replacement_that_breaks_its_slot_fails_there_and_the_other_slots_findings_are_taken_over(
        tmp_path: Path, cases: dict[str, Path], first: Report, prior: PriorReview) -> None:
    # Given the clean case reviewed once, and then its handler ID copy replaced by one showing another person
    folder = copy_of(tmp_path, cases[CLEAN])
    shutil.copyfile(upload_of(cases[OTHER_HANDLER], "handler_id"), upload_of(folder, "handler_id"))
    # When it is reviewed again with the first review to reuse
    again = review_case(folder, RULES, reuse=prior)
    # Then the replaced file was checked again: it fails ocr.handler, and none of its findings is reused
    assert again.decision is Decision.REJECTED
    assert ("ocr.handler", "handler_id") in {(f.rule, f.slot) for f in again.findings if f.status is Status.FAIL}
    assert not [f for f in reused(again) if f.slot == "handler_id"]
    # and every per-file finding of the other slots is the first review's, saying so in its evidence
    others = [f for f in again.findings if f.rule in PER_FILE and f.slot not in (None, "handler_id")]
    assert others and all(f.evidence["reused_from"] == {"review_key": "first-review",
                                                        "reviewed_at": first.reviewed_at.isoformat()}  # type: ignore[union-attr]
                          for f in others)
    firsts = {(f.rule, f.slot): f for f in first.findings}
    assert all(f.model_copy(update={"evidence": {k: v for k, v in f.evidence.items() if k != "reused_from"}})
               == firsts[(f.rule, f.slot)] for f in others)
    # and the upload intake and the case-level rules ran again (nothing of theirs is reused)
    assert not [f for f in reused(again) if f.rule.startswith(("upload.", "data.", "payment."))]
    assert {f.rule for f in again.findings if f.slot is None} >= {"data.uscc", "data.resident_id", "data.org_name"}
    # and the decision and every finding are those of a full review of the same files
    full = review_case(folder, RULES)
    assert full.decision is again.decision
    assert outcome(full) == outcome(again)
    assert not reused(full)


def test_the_stages_do_no_work_on_the_files_whose_findings_are_reused(
        tmp_path: Path, cases: dict[str, Path], prior: PriorReview, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the clean case with only its handler ID copy (one page) saved again
    folder = copy_of(tmp_path, cases[CLEAN])
    reencode(upload_of(folder, "handler_id"))
    calls = {name: counting(monkeypatch, name) for name in (
        "pipeline.stages.quality.measure", "pipeline.stages.seal.find_seals", "pipeline.stages.barcode.read_code128",
        "pipeline.stages.fields.read_upload", "pipeline.stages.data.check_uscc")}
    # When it is reviewed again with the first review to reuse
    again = review_case(folder, RULES, reuse=prior)
    counted = {name.rsplit(".", 1)[1]: n[0] for name, n in calls.items()}
    # Then only the handler ID copy's page was measured, searched for seals and read; no barcode was
    # read (the application form is unchanged); the entered data was checked again
    assert counted == {"measure": 1, "find_seals": 1, "read_code128": 0, "read_upload": 1, "check_uscc": 1}
    assert again.decision is Decision.APPROVED
    # while a full review does the work on every page of the seven files
    for n in calls.values():
        n[0] = 0
    review_case(folder, RULES)
    counted = {name.rsplit(".", 1)[1]: n[0] for name, n in calls.items()}
    assert counted == {"measure": 7, "find_seals": 7, "read_code128": 1, "read_upload": 7, "check_uscc": 1}


def test_a_forms_second_page_replaced_checks_again_what_reads_the_form_as_one_document(
        tmp_path: Path, cases: dict[str, Path], prior: PriorReview) -> None:
    # Given the application form's page 2 (the employee table, in application_form_extra) saved again
    folder = copy_of(tmp_path, cases[CLEAN])
    reencode(upload_of(folder, "application_form_extra"))
    # When the case is reviewed again with the first review to reuse
    again = review_case(folder, RULES, reuse=prior)
    taken = {(f.rule, f.slot) for f in reused(again)}
    # Then the form's readings (which read both pages as one document) are made again
    assert not {(r, s) for r, s in taken if s == "application_form" and r.startswith(("ocr.", "doc."))}
    assert not {(r, s) for r, s in taken if s == "application_form_extra"}
    # but what page 1 shows alone — its seal, its quality, its barcode — is reused
    assert {("seal.present", "application_form"), ("scan.quality", "application_form"),
            ("barcode.order_no", "application_form"), ("ocr.handler", "authorization")} <= taken
    assert outcome(again) == outcome(review_case(folder, RULES))


def test_other_entered_data_another_rule_set_or_version_reuses_nothing(
        tmp_path: Path, cases: dict[str, Path], prior: PriorReview) -> None:
    # Given the clean case with one file saved again, so that a re-review has something to reuse
    folder = copy_of(tmp_path, cases[CLEAN])
    reencode(upload_of(folder, "org_license"))
    assert reused(review_case(folder, RULES, reuse=prior))
    # When the entered data changed (a remark added), nothing is reused
    case_json = folder / "case.json"
    original = case_json.read_text(encoding="utf-8")
    case_json.write_text(original.replace('"remark": ""', '"remark": "补充说明"'), encoding="utf-8")
    assert original != case_json.read_text(encoding="utf-8")
    assert not reused(review_case(folder, RULES, reuse=prior))
    case_json.write_text(original, encoding="utf-8")
    # nor under another rule set (the same rules, one comment more: another sha256)
    other_rules = tmp_path / "rules.toml"
    other_rules.write_text((RULES_DIR / f"{RULES.id}.toml").read_text(encoding="utf-8") + "\n# changed\n",
                           encoding="utf-8")
    assert not reused(review_case(folder, load_rule_set(other_rules), reuse=prior))
    # nor from a review another precheck version made, or with another OCR engine choice
    assert not reused(review_case(folder, RULES, reuse=replace(prior, precheck_version="0.0.1")))
    assert not reused(review_case(folder, RULES, reuse=replace(prior, ocr_engine="tesseract")))
    # nor from another build: other source code or another OCR runtime under the same version number
    assert prior.build_sha256 == build_sha256()
    assert not reused(review_case(folder, RULES, reuse=replace(prior, build_sha256="0" * 64)))


def test_a_finding_of_a_check_that_crashed_is_made_again_and_a_reused_one_keeps_naming_its_review(
        first: Report, cases: dict[str, Path]) -> None:
    # Given a first review whose seal check on the licence had crashed
    crashed = [f.model_copy(update={"evidence": {"error": "RuntimeError: boom", "crashed": True}})
               if (f.rule, f.slot) == ("seal.present", "org_license") else f for f in first.findings]
    prior = PriorReview.from_report(first.model_copy(update={"findings": crashed}), review_key="crashed-review")
    # When the unchanged case is reviewed again with it
    again = review_case(cases[CLEAN], RULES, reuse=prior)
    # Then that check ran again, and everything else per file was taken over
    licence_seal = next(f for f in again.findings if (f.rule, f.slot) == ("seal.present", "org_license"))
    assert licence_seal.status is Status.PASS and "reused_from" not in licence_seal.evidence
    assert {(f.rule, f.slot) for f in again.findings if f.rule in PER_FILE and f.slot} - {
        (f.rule, f.slot) for f in reused(again)} == {("seal.present", "org_license")}
    # and a third review reusing the second names, for each finding, the review that made it
    third = review_case(cases[CLEAN], RULES, reuse=PriorReview.from_report(again, review_key="second-review"))
    names = {(f.rule, f.slot): f.evidence["reused_from"]["review_key"] for f in reused(third)}
    assert names[("seal.present", "org_license")] == "second-review"
    assert names[("seal.present", "handler_id")] == "crashed-review"
    assert outcome(third) == outcome(again)


def test_the_build_hash_changes_with_the_ocr_runtime_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline import build

    here = build.build_sha256()
    monkeypatch.setenv("PRECHECK_OCR_RUNTIME", "onnxruntime")
    build.build_sha256.cache_clear()
    try:
        assert build.build_sha256() != here
    finally:
        monkeypatch.delenv("PRECHECK_OCR_RUNTIME")
        build.build_sha256.cache_clear()
    assert build.build_sha256() == here


def test_a_clean_case_whose_licence_was_sent_in_another_order_goes_to_a_clerk(
        cases: dict[str, Path], first: Report, prior: PriorReview) -> None:
    # Given the store knows the clean case's licence file from another order's case
    licence = hashlib.sha256(upload_of(cases[CLEAN], "org_license").read_bytes()).hexdigest()
    elsewhere = {licence: [OtherUse(order_no="00202611300000999", slot="org_license")]}
    # When the case is reviewed with what the store knows (its other findings taken over)
    report = review_case(cases[CLEAN], RULES, reuse=prior, elsewhere=elsewhere)
    # Then upload.reused is uncertain on the licence, naming the other order to the clerk only
    found = {f.slot: f for f in report.findings if f.rule == "upload.reused"}
    assert found["org_license"].status is Status.UNCERTAIN and report.decision is Decision.NEEDS_REVIEW
    assert found["org_license"].evidence["other_order_no"] == "00202611300000999"
    assert found["org_license"].evidence["same_organisation"] is False  # the store said: another organisation's
    assert "00202611300000999" not in found["org_license"].message
    assert {s for s, f in found.items() if f.status is Status.PASS} == set(found) - {"org_license"}
    assert len(found) >= 7  # every upload of the case is looked up
    # while a folder reviewed with no store checks no reuse at all
    assert not [f for f in first.findings if f.rule == "upload.reused"]
    # and an empty answer from the store passes every upload
    assert {f.status for f in review_case(cases[CLEAN], RULES, reuse=prior, elsewhere={}).findings
            if f.rule == "upload.reused"} == {Status.PASS}
