"""The upload gate's rules: which rule fails, which are skipped after it, what blocks a slot."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.models import Status
from pipeline.review import review_case
from pipeline.ruleset import RuleSet, load_rule_set
from tests.uploadfiles import REQUIRED, bmp, gif_animated, jpeg, pdf, png, review_uploads, statuses

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rule_set()


def all_required(**overrides: bytes | None) -> dict[str, bytes]:
    """A good JPEG in every required slot; ``name=None`` drops a file, ``name=b"..."`` replaces it."""
    files: dict[str, bytes] = {f"{slot}.jpg": jpeg(300, 424) for slot in REQUIRED}
    for name, content in overrides.items():
        files.pop(name, None)
        files.pop(f"{name.split('.', 1)[0]}.jpg", None)
        if content is not None:
            files[name] = content
    return files


def test_good_files_of_every_allowed_type_pass_all_five_upload_rules(tmp_path: Path, rules: RuleSet) -> None:
    files = all_required(**{"seal_form.png": png(), "authorization.pdf": pdf(), "org_license.bmp": bmp(),
                            "handler_id.gif": gif_animated(), "employee_id.jpeg": jpeg(300, 424)})
    result = review_uploads(tmp_path, rules, files)
    for slot in REQUIRED:
        assert statuses(result, slot) == {
            "upload.missing": "pass", "upload.empty": "pass", "upload.too_large": "pass",
            "upload.format": "pass", "upload.unreadable": "pass"}, slot
    assert set(result.uploads) == set(REQUIRED) and not result.blocked_slots


def test_a_missing_required_slot_fails_upload_missing_and_is_blocked(tmp_path: Path, rules: RuleSet) -> None:
    result = review_uploads(tmp_path, rules, all_required(seal_form=None))
    assert statuses(result, "seal_form")["upload.missing"] == "fail"
    assert {statuses(result, "seal_form")[r] for r in ("upload.empty", "upload.format")} == {"skipped"}
    assert "seal_form" in result.blocked_slots and "seal_form" not in result.uploads


def test_an_absent_optional_slot_gets_no_findings(tmp_path: Path, rules: RuleSet) -> None:
    result = review_uploads(tmp_path, rules, all_required())
    assert statuses(result, "application_form_extra") == {}
    assert "application_form_extra" not in result.blocked_slots


def test_an_optional_slot_with_a_file_is_checked_but_has_no_missing_rule(tmp_path: Path, rules: RuleSet) -> None:
    result = review_uploads(tmp_path, rules, all_required(**{"seal_form_extra.png": b""}))
    assert statuses(result, "seal_form_extra") == {
        "upload.empty": "fail", "upload.too_large": "skipped", "upload.format": "skipped",
        "upload.unreadable": "skipped"}
    assert "seal_form_extra" in result.blocked_slots


def test_an_empty_file_fails_upload_empty_and_the_later_upload_rules_are_skipped(
        tmp_path: Path, rules: RuleSet) -> None:
    result = review_uploads(tmp_path, rules, all_required(**{"authorization.pdf": b""}))
    assert statuses(result, "authorization") == {
        "upload.missing": "pass", "upload.empty": "fail", "upload.too_large": "skipped",
        "upload.format": "skipped", "upload.unreadable": "skipped"}
    skipped = [f for f in result.findings if f.slot == "authorization" and f.status is Status.SKIPPED]
    assert all(f.evidence["after"] == "upload.empty" for f in skipped)
    empty = next(f for f in result.findings if f.rule == "upload.empty" and f.slot == "authorization")
    assert empty.evidence["size"] == 0 and "空文件" in empty.message


def test_a_file_of_exactly_5_mib_is_too_large_and_its_format_is_still_judged(tmp_path: Path, rules: RuleSet) -> None:
    # Given a JPEG padded with trailing bytes to exactly 5 × 1024 × 1024 bytes
    body = jpeg(300, 424)
    big = body + bytes(5 * 1024 * 1024 - len(body))
    result = review_uploads(tmp_path, rules, all_required(**{"org_license.jpg": big}))
    verdicts = statuses(result, "org_license")
    assert verdicts["upload.too_large"] == "fail" and verdicts["upload.format"] == "pass"
    assert verdicts["upload.unreadable"] == "skipped" and "org_license" in result.blocked_slots
    finding = next(f for f in result.findings if f.rule == "upload.too_large" and f.slot == "org_license")
    assert finding.evidence["size"] == 5 * 1024 * 1024 and finding.evidence["detected_type"] == "jpeg"
    assert "sha256" not in finding.evidence  # hashing would mean reading past the limit


def test_a_file_one_byte_under_5_mib_is_not_too_large(tmp_path: Path, rules: RuleSet) -> None:
    body = jpeg(300, 424)
    padded = body + bytes(5 * 1024 * 1024 - 1 - len(body))
    result = review_uploads(tmp_path, rules, all_required(**{"org_license.jpg": padded}))
    assert statuses(result, "org_license")["upload.too_large"] == "pass"


def test_a_disallowed_extension_fails_upload_format_naming_extension_and_content(
        tmp_path: Path, rules: RuleSet) -> None:
    result = review_uploads(tmp_path, rules, all_required(**{"handler_id.tiff": b"II*\x00" + bytes(100)}))
    finding = next(f for f in result.findings if f.rule == "upload.format" and f.slot == "handler_id")
    assert finding.status is Status.FAIL
    assert finding.evidence["extension"] == "tiff" and finding.evidence["detected_type"] == "tiff"
    assert ".tiff" in finding.message and statuses(result, "handler_id")["upload.unreadable"] == "skipped"


def test_a_png_named_jpg_fails_upload_format_with_both_types_in_the_evidence(tmp_path: Path, rules: RuleSet) -> None:
    result = review_uploads(tmp_path, rules, all_required(**{"employee_id.jpg": png(200, 280)}))
    finding = next(f for f in result.findings if f.rule == "upload.format" and f.slot == "employee_id")
    assert finding.status is Status.FAIL
    assert (finding.evidence["expected_type"], finding.evidence["detected_type"]) == ("jpeg", "png")
    assert len(finding.evidence["sha256"]) == 64 and "PNG" in finding.message


def test_extensions_are_judged_case_insensitively(tmp_path: Path, rules: RuleSet) -> None:
    result = review_uploads(tmp_path, rules, all_required(**{"employee_id.JPG": jpeg(200, 280)}))
    assert statuses(result, "employee_id")["upload.format"] == "pass"


def test_every_finding_carries_size_type_and_hash_evidence(tmp_path: Path, rules: RuleSet) -> None:
    result = review_uploads(tmp_path, rules, all_required())
    unreadable = next(f for f in result.findings if f.rule == "upload.unreadable" and f.slot == "seal_form")
    assert {"size", "detected_type", "sha256", "pages", "dpi"} <= set(unreadable.evidence)


def test_a_blocked_slot_is_skipped_by_later_stages_in_the_review(tmp_path: Path, rules: RuleSet) -> None:
    # Given a case whose seal form is a ZIP archive named .jpg
    from tests.casedata import write_case
    from tests.uploadfiles import zip_file

    folder = write_case(tmp_path / "case", uploads=all_required(**{"seal_form.jpg": zip_file()}))
    # When the whole case is reviewed
    report = review_case(folder, rules)
    # Then the format fails, and every later-stage finding on that slot is skipped
    later = [f for f in report.findings if f.slot == "seal_form" and not f.rule.startswith("upload.")]
    assert later and all(f.status is Status.SKIPPED for f in later)
    assert "upload.format" in report.failed_rules()


def test_the_decoded_upload_carries_pages_metadata_and_the_file_hash(tmp_path: Path, rules: RuleSet) -> None:
    import hashlib

    body = jpeg(300, 424)
    result = review_uploads(tmp_path, rules, all_required(**{"authorization.jpg": body}))
    upload = result.uploads["authorization"]
    assert upload.sha256 == hashlib.sha256(body).hexdigest() and upload.size == len(body)
    assert upload.content_type == "jpeg" and upload.extension == "jpg"
    assert len(upload.pages) == 1 and upload.pages[0].image.shape == (424, 300, 3)
    assert upload.metadata["jpeg_quality"] == "85"
