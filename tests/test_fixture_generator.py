"""The fixture generator: deterministic, valid case folders, a seal that is red and round."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pymupdf
import pytest
import zxingcpp
from PIL import Image

from fixtures.scans import generate, hostile
from fixtures.scans.cases import CASES
from fixtures.scans.imaging import INKS, draw_seal, mm_to_px, scan, stamp
from pipeline.casefolder import load_case_folder
from pipeline.ruleset import load_rule_set

#: Rules no single case folder can trigger: reuse needs another case, tokens need issuance.
NOT_FROM_ONE_FOLDER = {"upload.reused", "token.not_approved", "token.unpaid", "token.payer_mismatch"}


def _by_name(cases: list[Path], name: str) -> Path:
    return next(p for p in cases if p.name == name)


def test_every_generated_folder_loads_as_a_case_with_its_expected_outcome_beside_it(
        fixture_cases: list[Path]) -> None:
    rules = load_rule_set()
    assert [p.name for p in fixture_cases] == [s.name for s in CASES]
    for path in fixture_cases:
        folder = load_case_folder(path, set(rules.slots))
        assert folder.ignored == ()
        expected = json.loads((path / "expected.json").read_text(encoding="utf-8"))
        assert expected["decision"] in ("approved", "rejected", "needs_review")
        assert set(expected["failing_rules"]) | set(expected.get("uncertain_rules", [])) <= set(rules.rules)
        assert (expected["decision"] == "rejected") == bool(expected["failing_rules"])
        assert not list(path.glob("uploads/expected*"))


def test_every_rule_a_case_folder_can_trigger_has_a_defect_case() -> None:
    rules = set(load_rule_set().rules)
    covered = {r for spec in CASES for r in (*spec.failing, *spec.uncertain)}
    assert rules - NOT_FROM_ONE_FOLDER - covered == set()
    assert sum(spec.decision == "approved" for spec in CASES) >= 5


def test_clean_uploads_stay_under_the_size_limit_and_use_each_allowed_format(fixture_cases: list[Path]) -> None:
    formats = set()
    for path in fixture_cases:
        for upload in (path / "uploads").iterdir():
            formats.add(upload.suffix)
            if path.name != "upload_too_large_handler_id":
                assert upload.stat().st_size < 5 * 1024 * 1024, upload
    assert {".jpg", ".png", ".pdf"} <= formats


def test_one_case_gives_the_same_bytes_when_generated_again(tmp_path: Path) -> None:
    spec = next(s for s in CASES if s.name == "seal_outside_box")
    first = generate.make_case(tmp_path / "a", spec)
    generate.build_upload.cache_clear()
    generate._form_pages.cache_clear()
    second = generate.make_case(tmp_path / "b", spec)
    names = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_the_barcode_on_a_clean_scanned_application_form_decodes_to_the_order_number(
        fixture_cases: list[Path]) -> None:
    path = _by_name(fixture_cases, "clean_shenyang_jpg_150")
    order_no = json.loads((path / "case.json").read_text(encoding="utf-8"))["order_no"]
    page = np.asarray(Image.open(path / "uploads" / "application_form.jpg").convert("RGB"))
    reads = zxingcpp.read_barcodes(page[..., 0])  # red channel
    assert [r.text for r in reads] == [order_no]


def test_a_drawn_seal_is_red_and_round() -> None:
    diameter = mm_to_px(42, 200)
    seal = draw_seal("沈阳北方精密机械有限公司", diameter, INKS[0], rng=np.random.default_rng(7))
    alpha = seal[..., 3]
    inked = seal[alpha > 60][:, :3].astype(int)
    assert inked[:, 0].mean() > 150 and inked[:, 1].mean() < 100 and inked[:, 2].mean() < 100
    contours, _ = cv2.findContours((alpha > 30).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    outer = max(contours, key=cv2.contourArea)
    (_, _), radius = cv2.minEnclosingCircle(outer)
    assert abs(2 * radius - diameter) < 0.06 * diameter
    assert cv2.contourArea(cv2.convexHull(outer)) > 0.95 * np.pi * radius**2


def test_seal_inks_differ_in_hue_and_every_ink_reads_as_red() -> None:
    hues = []
    for ink in INKS:
        seal = draw_seal("丹东鸭绿江食品股份有限公司", 240, ink, rng=np.random.default_rng(1))
        rgb = seal[seal[..., 3] > 60][:, :3].reshape(-1, 1, 3).astype(np.uint8)
        hue = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 0].astype(int)
        hue = np.where(hue > 90, hue - 180, hue)  # red wraps around 0
        hues.append(float(np.median(hue)))
        assert -15 <= hues[-1] <= 15
    assert max(hues) - min(hues) >= 5


def test_printed_text_stays_visible_under_the_stamped_ink() -> None:
    page = np.full((400, 400, 3), 255, np.uint8)
    page[195:205, 50:350] = 0  # a printed black line
    seal = draw_seal("盘锦绿源农业科技有限公司", 300, INKS[1], rng=np.random.default_rng(3))
    out = stamp(page, seal, (200, 200), angle=12)
    assert out[195:205, 50:350].max() < 40  # black stays black (multiply blend)
    reddened = out[..., 0].astype(int) - out[..., 1] > 60  # white paper under the ink turned red
    assert reddened.sum() > 0.05 * np.pi * 150**2


def test_scanning_with_one_seed_is_repeatable_and_with_another_differs() -> None:
    page = np.full((300, 200, 3), 255, np.uint8)
    page[100:110, 20:180] = 0

    def scanned(seed: int) -> np.ndarray:
        return scan(page, 150, rotate_deg=1.5, noise=3, blur=0.6, jpeg_quality=70, rng=np.random.default_rng(seed))

    assert np.array_equal(scanned(1), scanned(1))
    assert not np.array_equal(scanned(1), scanned(2))


def test_the_hostile_files_are_what_their_cases_claim(fixture_cases: list[Path]) -> None:
    encrypted = _by_name(fixture_cases, "upload_unreadable_encrypted_pdf") / "uploads" / "authorization.pdf"
    with pymupdf.open(encrypted) as doc:
        assert doc.needs_pass and doc.authenticate("1234")
    truncated = _by_name(fixture_cases, "upload_unreadable_truncated_jpeg") / "uploads" / "application_form.jpg"
    with pytest.raises(OSError):
        Image.open(truncated).load()
    big = _by_name(fixture_cases, "upload_too_large_handler_id") / "uploads" / "handler_id.jpg"
    assert big.stat().st_size >= 5 * 1024 * 1024
    assert Image.open(big).size[0] > 1000
    zipped = _by_name(fixture_cases, "upload_format_zip_named_jpg") / "uploads" / "employee_id.jpg"
    assert zipped.read_bytes()[:2] == b"PK"
    assert (_by_name(fixture_cases, "upload_empty_licence") / "uploads" / "org_license.jpg").stat().st_size == 0
    assert not list((_by_name(fixture_cases, "upload_missing_authorization") / "uploads").glob("authorization.*"))


def test_the_photoshop_case_names_the_editor_in_its_exif(fixture_cases: list[Path]) -> None:
    upload = _by_name(fixture_cases, "scan_edited_photoshop") / "uploads" / "authorization.jpg"
    assert "Photoshop" in Image.open(io.BytesIO(upload.read_bytes())).getexif()[0x0131]


def test_the_encrypted_pdf_writer_is_deterministic() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (40, 60), (250, 250, 250)).save(buf, "JPEG")
    assert hostile.encrypted_pdf(buf.getvalue(), 40, 60, 150) == hostile.encrypted_pdf(buf.getvalue(), 40, 60, 150)
