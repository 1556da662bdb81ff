"""scan.quality after the review: a page only low in resolution passes when every check that reads
its slot passed there (a phone messenger's 110–140-dpi page read in full), and only then."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.decision import decide
from pipeline.models import Decision, Finding, Status
from pipeline.ruleset import RULES_DIR, load_rule_set
from pipeline.stages.quality import READ_IN_FULL, settle_read_in_full

RULES = load_rule_set()
SLOT = "application_form_extra"


def _quality(problems: list[str], dpi: int = 137) -> Finding:
    status = Status.FAIL if "blank" in problems else Status.UNCERTAIN
    return RULES.finding("scan.quality", status, SLOT, {
        "pages": [{"page": 0, "status": status.value, "problems": problems, "dpi": dpi, "text_height_px": 8.0}],
        "problem": "分辨率过低"})


def _read(rule: str, status: Status = Status.PASS, slot: str = SLOT, **evidence: Any) -> Finding:
    return RULES.finding(rule, status, slot, evidence)


def _settled(*findings: Finding) -> Finding:
    return next(f for f in settle_read_in_full(RULES, list(findings)) if f.rule == "scan.quality")


def test_a_low_resolution_page_whose_checks_all_passed_passes_and_says_why() -> None:
    found = [_quality(["low_resolution"]), _read("doc.kind"), _read("seal.org_name")]
    settled = _settled(*found)
    assert settled.status is Status.PASS
    assert settled.evidence["reason"] == READ_IN_FULL
    assert settled.evidence["read_by"] == ["doc.kind", "seal.org_name"] and settled.evidence["lowest_dpi"] == 137
    assert "137 dpi" in settled.message and "均已识别" in settled.message
    assert decide(settle_read_in_full(RULES, found)) is Decision.APPROVED
    assert decide(found) is Decision.NEEDS_REVIEW


def test_it_stays_with_a_clerk_when_a_check_of_the_slot_did_not_pass() -> None:
    assert _settled(_quality(["low_resolution"]), _read("doc.kind"),
                    _read("seal.org_name", Status.UNCERTAIN)).status is Status.UNCERTAIN


def test_a_pass_for_a_reason_of_its_own_is_no_sign_the_page_was_read() -> None:
    quality = _quality(["low_resolution"])
    unread = _read("ocr.apply_date", reason="not read")
    assert _settled(quality, _read("doc.kind"), _read("ocr.user"), unread).status is Status.UNCERTAIN


def test_a_seal_passed_as_another_uploads_impression_neither_counts_nor_keeps_the_page_back() -> None:
    # the seal's name was read on another upload, the page's own values were read here
    quality = _quality(["low_resolution"])
    same_seal = _read("seal.org_name", reason="same_seal_as_another_impression")
    assert _settled(quality, _read("doc.kind"), _read("ocr.user"), same_seal).status is Status.PASS
    assert _settled(quality, _read("doc.kind"), same_seal).status is Status.UNCERTAIN  # one read of the page's own
    assert _settled(quality, _read("doc.kind"), _read("ocr.user"),
                    _read("seal.org_name", Status.UNCERTAIN)).status is Status.UNCERTAIN


def test_a_field_passed_for_a_reason_of_its_own_is_no_sign_either() -> None:
    fields = [{"field": "handler.mobile", "status": "pass"},
              {"field": "handler.email", "status": "pass", "reason": "read with light marks dropped"}]
    quality = _quality(["low_resolution"])
    assert _settled(quality, _read("doc.kind"), _read("ocr.form_fields", fields=fields)).status is Status.UNCERTAIN
    assert _settled(quality, _read("doc.kind"), _read("ocr.form_fields", fields=fields[:1])).status is Status.PASS


def test_checks_of_other_slots_and_too_few_checks_do_not_count() -> None:
    quality = _quality(["low_resolution"])
    assert _settled(quality, _read("doc.kind")).status is Status.UNCERTAIN
    assert _settled(quality, _read("doc.kind"), _read("ocr.org_name", slot="seal_form")).status is Status.UNCERTAIN
    assert _settled(quality, _read("doc.kind"), _read("seal.position")).status is Status.UNCERTAIN  # reads no value


def test_only_low_resolution_alone_is_settled() -> None:
    checks = (_read("doc.kind"), _read("seal.org_name"))
    assert _settled(_quality(["blurred", "low_resolution"]), *checks).status is Status.UNCERTAIN
    assert _settled(_quality(["blank"]), *checks).status is Status.FAIL


def test_a_re_review_judges_a_settled_page_again_from_the_finding_it_replaced() -> None:
    first = settle_read_in_full(RULES, [_quality(["low_resolution"]), _read("doc.kind"), _read("seal.org_name")])
    again = _settled(first[0], _read("doc.kind"), _read("seal.org_name", Status.UNCERTAIN))
    assert again.status is Status.UNCERTAIN and "reason" not in again.evidence and "read_by" not in again.evidence
    assert again.message == _quality(["low_resolution"]).message
    assert settle_read_in_full(RULES, first) == first


def test_a_rule_set_without_read_rules_settles_nothing(tmp_path: Path) -> None:
    """An earlier rule set given with --rules (no read_rules) keeps its pages with a clerk, as it did."""
    text = (RULES_DIR / "lnzc-employee-ukey.toml").read_text(encoding="utf-8")
    start = text.index("params.read_rules = ")
    older = tmp_path / "older.toml"
    older.write_text(text[:start] + text[text.index("\n", text.index("params.read_rules_min")) + 1:], encoding="utf-8")
    rules = load_rule_set(older)
    found = [rules.finding("scan.quality", Status.UNCERTAIN, SLOT, _quality(["low_resolution"]).evidence),
             rules.finding("doc.kind", Status.PASS, SLOT), rules.finding("seal.org_name", Status.PASS, SLOT)]
    assert settle_read_in_full(rules, found) == found
