"""barcode.order_no on synthetic scans of the application form (see tests/test_barcode_synth.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.models import Finding, Status
from pipeline.stages import barcode
from pipeline.stages.barcode import Read, Region
from tests.test_barcode_synth import ORDER_NO, stage_context, synth_page, upload_of

OTHER_NO = "00202009200000999"


def _review(tmp_path: Path, *pages_kwargs: dict[str, object], dpi: float | None = None) -> Finding:
    pages = [synth_page(**kw) for kw in pages_kwargs]  # type: ignore[arg-type]
    ctx = stage_context(tmp_path, [upload_of(tmp_path, "application_form", pages, dpi)])
    findings = barcode.run(ctx)
    assert [f.rule for f in findings] == ["barcode.order_no"]
    return findings[0]


@pytest.mark.parametrize("defect", [
    {}, {"seal_over_barcode": True}, {"angle": 15}, {"angle": -15, "turn": 1}, {"dpi": 100},
    {"jpeg_quality": 30}, {"turn": 1}, {"turn": 2}, {"turn": 3}, {"angle": 4, "dpi": 150, "jpeg_quality": 50},
], ids=lambda d: ",".join(f"{k}={v}" for k, v in d.items()) or "clean")
def test_a_form_whose_barcode_is_the_order_number_passes_despite_scan_defects(
        tmp_path: Path, defect: dict[str, object]) -> None:
    finding = _review(tmp_path, defect)
    assert finding.status is Status.PASS, finding.evidence
    assert finding.evidence["decoded"] == ORDER_NO
    assert finding.evidence["page"] == 0


def test_a_passing_barcode_has_its_box_reader_and_a_png_crop_as_evidence(tmp_path: Path) -> None:
    finding = _review(tmp_path, {"seal_over_barcode": True})
    x0, y0, x1, y1 = finding.evidence["bbox"]
    # the synthetic barcode sits at the top right of a 200-dpi page
    assert x0 > 1000 and x1 <= 1654 and y0 < 150 and y1 < 300
    assert "zxing" in finding.evidence["reader"]
    assert (tmp_path / "out" / finding.evidence["crop"]).stat().st_size > 0


def test_a_barcode_of_another_number_fails_naming_both_numbers(tmp_path: Path) -> None:
    finding = _review(tmp_path, {"text": OTHER_NO})
    assert finding.status is Status.FAIL
    assert finding.evidence["decoded"] == OTHER_NO and finding.evidence["order_no"] == ORDER_NO
    assert OTHER_NO in finding.message and ORDER_NO in finding.message


def test_a_legible_form_without_any_barcode_fails(tmp_path: Path) -> None:
    finding = _review(tmp_path, {"text": None})
    assert finding.status is Status.FAIL
    assert finding.evidence["reason"] == "no_barcode"


def test_a_damaged_barcode_is_found_but_left_to_a_person(tmp_path: Path) -> None:
    finding = _review(tmp_path, {"damaged": True})
    assert finding.status is Status.UNCERTAIN
    assert finding.evidence["reason"] == "barcode_unreadable"
    assert finding.evidence["regions"], "the damaged barcode's region is named in the evidence"


def test_the_barcode_may_be_on_a_later_page_only(tmp_path: Path) -> None:
    finding = _review(tmp_path, {"text": None}, {"seed": 2})
    assert finding.status is Status.PASS
    assert finding.evidence["page"] == 1


def test_a_later_page_with_another_number_fails_even_when_the_first_page_matches(tmp_path: Path) -> None:
    finding = _review(tmp_path, {}, {"text": OTHER_NO, "seed": 2})
    assert finding.status is Status.FAIL
    assert finding.evidence["page"] == 1 and finding.evidence["decoded"] == OTHER_NO


def test_a_code_128_that_is_not_an_order_number_is_not_accepted(tmp_path: Path) -> None:
    finding = _review(tmp_path, {"text": "HELLO-WORLD-42"})
    assert finding.status is Status.UNCERTAIN
    assert finding.evidence["reason"] == "barcode_unreadable"


def test_a_page_rendered_from_a_pdf_at_its_declared_dpi_passes(tmp_path: Path) -> None:
    assert _review(tmp_path, {"dpi": 200}, dpi=200).status is Status.PASS


def test_readers_that_disagree_leave_the_barcode_to_a_person_naming_both_reads(tmp_path: Path) -> None:
    # Given one region where zxing-cpp read the order number and zbar another number
    ctx = stage_context(tmp_path, [])
    page = synth_page()
    region = Region((0, 0, 10, 10), page[:10, :10, 2],
                    [Read(ORDER_NO, "zxing", "page"), Read(OTHER_NO, "zbar", "crop")])
    # When it is judged
    finding = barcode._judge(ctx, ORDER_NO, [(0, region)], legible=True)
    # Then a person must look, and the evidence names both reads
    assert finding.status is Status.UNCERTAIN
    assert finding.evidence["reason"] == "readers_disagree"
    assert {(r["reader"], r["decoded"]) for r in finding.evidence["reads"]} == {
        ("zxing", ORDER_NO), ("zbar", OTHER_NO)}
    assert ORDER_NO in finding.message and OTHER_NO in finding.message


def test_a_single_read_of_another_number_is_not_enough_to_fail(tmp_path: Path) -> None:
    ctx = stage_context(tmp_path, [])
    region = Region((0, 0, 10, 10), synth_page()[:10, :10, 2], [Read(OTHER_NO, "zbar", "2x-binary")])
    finding = barcode._judge(ctx, ORDER_NO, [(0, region)], legible=True)
    assert finding.status is Status.UNCERTAIN
    assert finding.evidence["reason"] == "single_read"


def test_an_application_form_that_is_not_uploaded_gets_no_barcode_finding(tmp_path: Path) -> None:
    assert barcode.run(stage_context(tmp_path, [])) == []
