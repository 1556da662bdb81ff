"""The unseen case set (fixtures/scans/unseen.py) makes valid case folders with well-formed
expectations, and its tune / holdout split keeps the holdout unseen. Decisions are not checked here."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from fixtures.scans import unseen
from fixtures.scans.faces import missing_faces
from pipeline.casefolder import load_case_folder
from pipeline.ruleset import load_rule_set

SAMPLE = ("tune_clean_v1_droid_hand", "holdout_clean_v1_ukai", "tune_near_employee_id")
DECISIONS = {"approved", "rejected", "needs_review"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    if missing_faces():
        pytest.fail(f"fonts not installed: {', '.join(missing_faces())} (scripts/setup.sh installs them)")
    return unseen.generate_set(tmp_path_factory.mktemp("unseen"), "all", list(SAMPLE))


def test_every_sampled_case_folder_loads_as_a_valid_case(sample: list[Path]) -> None:
    rules = load_rule_set()
    for folder in sample:
        case = load_case_folder(folder, set(rules.slots))
        assert {s for s, spec in rules.slots.items() if spec.required} <= set(case.uploads), folder.name
        assert all(path.stat().st_size > 10_000 for path in case.uploads.values()), folder.name


def test_every_sampled_expected_json_is_well_formed(sample: list[Path]) -> None:
    rules = load_rule_set()
    for folder in sample:
        expected = json.loads((folder / "expected.json").read_text("utf-8"))
        assert expected["decision"] in DECISIONS
        assert expected["failing_rules"] == sorted(set(expected["failing_rules"]))
        assert all(rules.rule(rule_id) for rule_id in expected["failing_rules"])
        assert bool(expected["failing_rules"]) == (expected["decision"] == "rejected")
        assert expected["purpose"] and expected["set"] in unseen.SETS and expected["variant"]
        assert not (folder / "uploads" / "expected.json").exists()


def test_a_case_is_the_same_bytes_however_it_is_generated(sample: list[Path], tmp_path: Path) -> None:
    unseen._drawn.cache_clear()  # drawn again, not taken from the first run
    again = unseen.generate_set(tmp_path, "all", [SAMPLE[0]])[0]
    first = next(f for f in sample if f.name == SAMPLE[0])
    for path in sorted((first / "uploads").iterdir()):
        assert (again / "uploads" / path.name).read_bytes() == path.read_bytes(), path.name


def test_the_holdouts_share_no_organisation_person_or_seed_with_the_tune_set_or_each_other() -> None:
    def used(which: str, attr: str) -> set[object]:
        return {getattr(s.base, attr) for s in unseen.CASES if s.set == which}

    people = ("user", "handler", "colleague")
    for a, b in itertools.combinations(unseen.SETS, 2):
        for attr in ("org", "seed", "order_no"):
            assert not used(a, attr) & used(b, attr), (a, b, attr)
        assert not set().union(*(used(a, p) for p in people)) & set().union(*(used(b, p) for p in people)), (a, b)
    assert used("holdout", "face") - used("tune", "face"), "the holdout needs a face the tune set lacks"


def test_every_persons_resident_id_number_is_valid_and_says_their_sex() -> None:
    from datetime import date

    from pipeline.identifiers import resident_id_problem

    for key, p in unseen.PERSON.items():
        assert not resident_id_problem(p.id_number, date(2026, 12, 1)), key
        assert ("male" if int(p.id_number[16]) % 2 else "female") == p.gender, key


def test_both_sets_hold_clean_cases_of_each_form_version_and_the_three_near_misses() -> None:
    for which in unseen.SETS:
        cases = [s for s in unseen.CASES if s.set == which]
        clean = [s for s in cases if s.decision == "approved"]
        assert {s.base.version for s in clean} == {1, 2}
        assert len(clean) >= 8
        assert {s.failing for s in cases if s.decision == "rejected"} == {
            ("ocr.form_fields", "ocr.org_name"), ("ocr.handler",), ("ocr.user",)}
        assert {round(s.base.photo * 100) for s in clean} >= {8, 12, 16}
