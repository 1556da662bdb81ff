"""Every generated fixture case gets the decision and failing rules recorded beside it.

The cases are generated once per test session (deterministically) by fixtures/scans/generate.py;
each has an ``expected.json``: {"decision": ..., "failing_rules": [...], "uncertain_rules": [...]}.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import pytest

from pipeline.models import Report
from pipeline.reading.documents import read_upload
from pipeline.reading.ocr import CachedEngine, get_engine
from pipeline.reading.page import ReadOptions
from pipeline.review import review_case
from pipeline.ruleset import load_rule_set


@pytest.fixture(scope="session")
def reviewed(fixture_cases: list[Path]) -> dict[str, tuple[dict, Report]]:
    rules = load_rule_set()
    out = {}
    for path in fixture_cases:
        expected = json.loads((path / "expected.json").read_text(encoding="utf-8"))
        out[path.name] = (expected, review_case(path, rules))
    return out


def test_the_fixture_set_has_clean_cases_and_a_defect_case_for_each_image_rule(
    reviewed: dict[str, tuple[dict, Report]],
) -> None:
    decisions = [expected["decision"] for expected, _ in reviewed.values()]
    assert decisions.count("approved") >= 3
    failing = {rule for expected, _ in reviewed.values() for rule in expected["failing_rules"]}
    assert {"upload.missing", "barcode.order_no", "seal.present", "data.uscc"} <= failing


def test_every_fixture_case_gets_its_expected_decision_and_failing_rules(
    reviewed: dict[str, tuple[dict, Report]],
) -> None:
    wrong = {}
    for name, (expected, report) in reviewed.items():
        got = {"decision": report.decision.value, "failing_rules": report.failed_rules()}
        want = {"decision": expected["decision"], "failing_rules": sorted(expected["failing_rules"])}
        if "uncertain_rules" in expected:
            got["uncertain_rules"] = report.uncertain_rules()
            want["uncertain_rules"] = sorted(expected["uncertain_rules"])
        if got != want:
            wrong[name] = {"expected": want, "got": got}
    assert wrong == {}


def test_a_case_gets_the_same_report_whatever_read_its_scans_before_in_the_process(
    fixture_cases: list[Path],
) -> None:
    # Given a clean case whose scans other cases share (the OCR cache is process-wide)
    case = next(p for p in fixture_cases if p.name == "clean_shenyang_jpg_150")
    other = next(p for p in fixture_cases if p.name == "data_email_without_at")
    engine = get_engine()
    assert isinstance(engine, CachedEngine)
    rules = load_rule_set()
    options = rules.tuning("doc.kind", ReadOptions)

    def report(first: Callable[[], object]) -> dict:
        engine.clear()
        first()
        return review_case(case, rules).model_dump(exclude={"reviewed_at"})

    def read_every_line() -> None:  # the scans' lines read in other batches than the review reads them
        for scan in sorted((case / "uploads").glob("*.jpg")):
            image = cv2.imread(str(scan))
            assert image is not None
            read_upload([image], engine, options, "all")

    # When it is reviewed first, after another case, and after its scans were read line by line
    alone = report(lambda: None)
    after_other = report(lambda: review_case(other, rules))
    after_reading = report(read_every_line)
    # Then the three reports are the same (but for when they were made)
    assert after_other == alone
    assert after_reading == alone
