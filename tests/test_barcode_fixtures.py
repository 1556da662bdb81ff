"""barcode.order_no on the generated fixture cases (fixtures/scans/generate.py): real pre-filled
application forms taken through print, stamp and scan, as JPEG, PNG and PDF uploads."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.casefolder import load_case_folder
from pipeline.models import Finding, Status
from pipeline.ruleset import load_rule_set
from pipeline.stages import barcode, upload
from pipeline.stages.base import Artifacts, StageContext

CASES = ["clean_shenyang_jpg_150", "clean_dalian_pdf_200", "clean_dandong_png_150_rotated",
         "clean_anshan_pdf_300_same_person", "barcode_other_order", "barcode_missing"]


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from fixtures.scans.generate import generate_all

    return {p.name: p for p in generate_all(tmp_path_factory.mktemp("barcode-cases"), only=CASES)}


def _barcode(case: Path, out: Path) -> Finding:
    rules = load_rule_set()
    folder = load_case_folder(case, set(rules.slots))
    intake = upload.intake(folder, rules)
    ctx = StageContext(case=folder.case, rules=rules, uploads=intake.uploads, artifacts=Artifacts(out))
    [finding] = barcode.run(ctx)
    return finding


@pytest.mark.parametrize("name", [c for c in CASES if c.startswith("clean_")])
def test_a_clean_fixture_form_passes_with_its_crop_saved(cases: dict[str, Path], tmp_path: Path, name: str) -> None:
    finding = _barcode(cases[name], tmp_path)
    assert finding.status is Status.PASS, finding.evidence
    assert finding.evidence["decoded"] == finding.evidence["order_no"]
    assert (tmp_path / finding.evidence["crop"]).is_file()


def test_a_fixture_form_printed_for_another_order_fails_naming_both(cases: dict[str, Path], tmp_path: Path) -> None:
    finding = _barcode(cases["barcode_other_order"], tmp_path)
    assert finding.status is Status.FAIL
    assert finding.evidence["decoded"] == "00202611170000388"
    assert "00202611170000388" in finding.message and finding.evidence["order_no"] in finding.message


def test_a_fixture_form_without_barcode_fails(cases: dict[str, Path], tmp_path: Path) -> None:
    finding = _barcode(cases["barcode_missing"], tmp_path)
    assert finding.status is Status.FAIL
    assert finding.evidence["reason"] == "no_barcode"
