"""Every generated fixture case gets the decision and failing rules recorded beside it.

The cases are generated once per test session (deterministically) by fixtures/scans/generate.py;
each has an ``expected.json``: {"decision": ..., "failing_rules": [...], "uncertain_rules": [...]}.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.models import Report
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
