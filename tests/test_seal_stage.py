"""The seal stage's findings: seal.present, seal.org_name and seal.position, on the forms
precheck itself renders (printed, stamped with a drawn seal, rasterised) and on real images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pymupdf
import pytest

from pipeline.casefolder import load_case_folder
from pipeline.forms.render import form_layout, render_forms
from pipeline.intake.pages import Page, Upload, estimate_a4_dpi
from pipeline.models import Case, Finding, Status
from pipeline.ruleset import load_rule_set
from pipeline.stages import seal, upload
from pipeline.stages.base import Artifacts, StageContext
from tests.casedata import case_dict, write_case
from tests.test_seal_drawing import draw_red_title, draw_seal, draw_signature, imread

DPI = 150
CASE = Case.model_validate(case_dict())
RULES = load_rule_set()


@pytest.fixture(scope="module")
def forms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[np.ndarray]]:
    """The three forms of CASE as printed pages (BGR at DPI), not yet stamped."""
    paths = render_forms(CASE, tmp_path_factory.mktemp("forms"))
    pages = {}
    for form, path in paths.items():
        with pymupdf.open(path) as doc:
            pages[form] = [_raster(p) for p in doc]
    return pages


def _raster(page: pymupdf.Page) -> np.ndarray:
    pix = page.get_pixmap(dpi=DPI)
    rgb = np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, pix.n)[..., :3]
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def seal_box_centre(form: str, page: int = 0) -> tuple[float, float]:
    box = next(b for b in form_layout(form).seal_boxes if b.page == page and b.label != "公章盖三下")
    x0, y0, x1, y1 = (v * DPI / 72 for v in box.rect)
    return (x0 + x1) / 2, (y0 + y1) / 2


def stamped(forms: dict[str, list[np.ndarray]], form: str, *, where: tuple[float, float] | None = None,
            text: str = CASE.org.name, **kw: Any) -> list[np.ndarray]:
    pages = [p.copy() for p in forms[form]]
    draw_seal(pages[0], where or seal_box_centre(form), DPI, text=text, **kw)
    return pages


def run(uploads: dict[str, list[np.ndarray]], dpi: float = DPI, case: Case = CASE,
        out: Path | None = None) -> dict[tuple[str, str], Finding]:
    ups = {slot: Upload(slot, Path(f"{slot}.png"), 1, "0" * 64, "png", "png",
                        tuple(Page(i, img, dpi, "metadata") for i, img in enumerate(pages)))
           for slot, pages in uploads.items()}
    ctx = StageContext(case=case, rules=RULES, uploads=ups, artifacts=Artifacts(out))
    return {(f.rule, f.slot or ""): f for f in seal.run(ctx)}


# ---------------------------------------------------------------------------- seal.present


def test_a_stamped_form_passes_seal_present_with_the_seal_in_evidence(forms: dict, tmp_path: Path) -> None:
    # Given a stamped page in a slot that must bear the seal, reviewed with an output folder
    found = run({"handler_id": stamped(forms, "authorization")}, out=tmp_path)
    # Then the seal is present, its box, size, colour and crop are recorded
    f = found[("seal.present", "handler_id")]
    assert f.status is Status.PASS
    first = f.evidence["seals"][0]
    assert first["colour"] == "red" and 38 < first["diameter_mm"] < 46
    assert f.evidence["crop"] and (tmp_path / f.evidence["crop"]).is_file()


def test_an_unstamped_form_with_red_ink_that_is_no_seal_fails_seal_present(forms: dict) -> None:
    # Given a seal form with a red title and a red signature, but no seal
    page = forms["seal_form"][0].copy()
    draw_red_title(page, DPI)
    draw_signature(page, DPI, (120, 250))
    found = run({"seal_form": [page]})
    f = found[("seal.present", "seal_form")]
    assert f.status is Status.FAIL
    assert "未加盖单位公章" in f.message
    # and the checks that need a seal do not run
    assert found[("seal.org_name", "seal_form")].status is Status.SKIPPED
    assert found[("seal.position", "seal_form")].status is Status.SKIPPED


def test_a_grey_photocopied_seal_is_uncertain_not_a_pass(real_samples: Path) -> None:
    image = imread(real_samples / "stamped_remove_seal_1.png")
    found = run({"handler_id": [image]}, dpi=290)
    f = found[("seal.present", "handler_id")]
    assert f.status is Status.UNCERTAIN
    assert f.evidence["reason"] == "grey_seal_only"


def test_a_page_saved_in_grey_with_no_seal_found_is_uncertain_in_colour_it_fails(forms: dict) -> None:
    # Given an unstamped form page saved in grey (a B&W scan: a red seal there turns grey, light
    # ink faint or gone, so finding none proves nothing is missing)
    grey = cv2.cvtColor(cv2.cvtColor(forms["authorization"][0], cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    f = run({"authorization": [grey]})[("seal.present", "authorization")]
    assert f.status is Status.UNCERTAIN and f.evidence["reason"] == "no_colour"
    assert f.evidence["chroma"] == 0 and "黑白或灰度" in f.message
    # When the same page is scanned in colour (the paper's warm tint): no seal on it fails
    tinted = (grey.astype(np.int16) - np.array([10, 3, 0])).clip(0, 255).astype(np.uint8)
    f = run({"authorization": [tinted]})[("seal.present", "authorization")]
    assert f.status is Status.FAIL and f.evidence["chroma"] > RULES.param("seal.present", "colourless_max_chroma")
    assert "未加盖单位公章" in f.message


@pytest.mark.parametrize(("ink_bgr", "status"), [((110, 30, 175), Status.PASS),   # purple-red ink: red
                                                   ((160, 40, 110), Status.UNCERTAIN),  # violet: no red seal
                                                   ((170, 60, 40), Status.UNCERTAIN)])  # blue
def test_a_seal_in_another_ink_than_red_is_uncertain_never_missing(forms: dict, ink_bgr: tuple, status: Status) -> None:
    found = run({"authorization": stamped(forms, "authorization", colour=ink_bgr)})
    f = found[("seal.present", "authorization")]
    assert f.status is status, f.evidence
    if status is Status.UNCERTAIN:
        assert f.evidence["reason"] == "grey_seal_only" and "其他颜色的印油" in f.message


def test_a_seal_half_off_the_page_edge_counts_as_present(forms: dict) -> None:
    page = forms["application_form"][1].copy()
    draw_seal(page, (page.shape[1] - 5, page.shape[0] / 2), DPI, rotation_deg=90)  # 骑缝章 on the edge
    found = run({"application_form_extra": [page]})
    assert found[("seal.present", "application_form_extra")].status is Status.PASS


# ---------------------------------------------------------------------------- seal.org_name


def test_the_seal_of_the_applying_organisation_passes_seal_org_name(forms: dict, tmp_path: Path) -> None:
    # (ID-copy slots: no position check, so only the arc is read)
    found = run({"employee_id": stamped(forms, "seal_form", rotation_deg=25)}, out=tmp_path)
    f = found[("seal.org_name", "employee_id")]
    assert f.status is Status.PASS, f.evidence
    assert f.evidence["score"] == 100.0  # the arc text shows the entered name exactly
    # and the clerk sees the seal and the unrolled strip the name was read from
    assert (tmp_path / f.evidence["crop"]).is_file() and (tmp_path / f.evidence["strip"]).is_file()


def test_one_seal_that_names_the_organisation_settles_the_slot(forms: dict) -> None:
    # Given the seal form stamped twice (公章盖三下 takes three more): both name the applicant
    pages = stamped(forms, "seal_form")
    draw_seal(pages[0], (pages[0].shape[1] * 0.3, pages[0].shape[0] * 0.55), DPI, text=CASE.org.name)
    found = run({"seal_form": pages})
    assert len(found[("seal.present", "seal_form")].evidence["seals"]) == 2
    f = found[("seal.org_name", "seal_form")]
    # Then the first seal's arc passes, and the second is not read at all
    assert f.status is Status.PASS, f.evidence
    assert len(f.evidence["seals"]) == 1


@pytest.mark.parametrize("other", ["大连海港物流有限公司", "沈阳北方贸易有限公司"], ids=["other-city", "same-city"])
def test_the_seal_of_another_organisation_fails_seal_org_name_naming_it(forms: dict, other: str) -> None:
    found = run({"handler_id": stamped(forms, "authorization", text=other)})
    f = found[("seal.org_name", "handler_id")]
    assert f.status is Status.FAIL, f.evidence
    assert other in f.message


def test_a_seal_read_one_character_otherwise_is_uncertain_and_tells_the_clerk_what_it_was_read_as(
        forms: dict) -> None:
    # Given the seal of 沈阳示范科技 on the copy of an application by 沈阳示例科技
    found = run({"handler_id": stamped(forms, "authorization", text="沈阳示范科技有限公司")})
    f = found[("seal.org_name", "handler_id")]
    # Then no pass and no fail (one character may be a misread), and the message quotes the read
    assert f.status is Status.UNCERTAIN, f.evidence
    assert f.evidence["reason"] == "read_otherwise" and f.evidence["read"] == "沈阳示范科技有限公司"
    assert "“沈阳示范科技有限公司”" in f.message and "人工核对" in f.message


def test_a_seal_whose_arc_cannot_be_read_is_uncertain(forms: dict) -> None:
    # Given a seal whose arc holds no legible name (a worn stamp: ring, star, smudges)
    pages = stamped(forms, "authorization", text="")
    cx, cy = seal_box_centre("authorization")
    r = 42 / 25.4 * DPI / 2
    rng = np.random.default_rng(0)
    for a in rng.uniform(-2.6, -0.5, 14):
        cv2.circle(pages[0], (int(cx + 0.72 * r * np.cos(a)), int(cy + 0.72 * r * np.sin(a))), 5, (60, 50, 215), -1)
    found = run({"handler_id": pages})
    assert found[("seal.present", "handler_id")].status is Status.PASS
    assert found[("seal.org_name", "handler_id")].status is Status.UNCERTAIN


def test_a_licence_bearing_only_the_registration_authority_seal_is_uncertain_never_failed(
        real_samples: Path) -> None:
    # Given a real licence copy with the 东莞市工商行政管理局 seal and no seal of the applicant
    image = imread(real_samples / "license_longllovers-business_license_2.jpg")
    found = run({"org_license": [image]}, dpi=estimate_a4_dpi(image.shape[1], image.shape[0]))
    # Then no finding says the copy bears the applicant's seal (已加盖公章): both are for a clerk
    present = found[("seal.present", "org_license")]
    assert present.status is Status.UNCERTAIN and present.evidence["reason"] == "authority_seal_only"
    assert "登记机关" in present.message and "已加盖公章" not in present.message
    f = found[("seal.org_name", "org_license")]
    assert f.status is Status.UNCERTAIN
    assert f.evidence["reason"] == "authority_seal_only"
    assert f.evidence["seals"][0]["authority"] is True


# ---------------------------------------------------------------------------- seal.position


def test_a_seal_at_the_printed_label_passes_seal_position(forms: dict) -> None:
    found = run({"application_form": stamped(forms, "application_form")})
    f = found[("seal.position", "application_form")]
    assert f.status is Status.PASS
    assert f.evidence["label"] == "申请机构盖章"


def test_a_seal_far_from_the_printed_label_is_uncertain_with_its_place(forms: dict) -> None:
    # Given the seal form stamped in its top margin instead of at 单位盖章
    found = run({"seal_form": stamped(forms, "seal_form", where=(600, 130))})
    f = found[("seal.position", "seal_form")]
    assert f.status is Status.UNCERTAIN
    assert f.evidence["label"] == "单位盖章" and f.evidence["seals"][0]["bbox"]
    assert min(f.evidence["distance_mm"]) > RULES.param("seal.position", "max_distance_mm")


def test_a_form_whose_label_cannot_be_found_is_not_flagged_for_position() -> None:
    # Given a stamped page that prints no 盖章 label at all (another version of the form)
    page = np.full((1754, 1240, 3), 255, np.uint8)
    draw_seal(page, (620, 900), DPI)
    f = run({"authorization": [page]})[("seal.position", "authorization")]
    assert f.status is Status.PASS
    assert f.evidence["label_found"] is False


# ---------------------------------------------------------------------------- through the intake


def test_a_stamped_png_upload_is_judged_through_the_real_intake(forms: dict, tmp_path: Path) -> None:
    # Given a case folder whose employee ID copy is a stamped PNG file
    page = stamped(forms, "seal_form")[0]
    ok, png = cv2.imencode(".png", page)
    assert ok
    folder = write_case(tmp_path / "case", uploads={"employee_id.png": png.tobytes()})
    rules = RULES
    intake = upload.intake(load_case_folder(folder, set(rules.slots)), rules)
    ctx = StageContext(case=CASE, rules=rules, uploads=intake.uploads)
    # When the seal stage runs on what the intake decoded
    findings = seal.run(ctx)
    # Then the ID copy's seal is found (the ID slots have no position rule)
    present = [f for f in findings if f.rule == "seal.present"]
    assert [(f.slot, f.status) for f in present] == [("employee_id", Status.PASS)]
    assert not [f for f in findings if f.rule == "seal.position"]


def test_the_real_audit_report_seal_names_its_firm(real_samples: Path) -> None:
    # Given a real published page stamped by 中天运会计师事务所（特殊普通合伙）, two square CPA seals beside
    image = imread(real_samples / "stamped_seal_removal_1.jpg")
    firm = Case.model_validate(case_dict(**{"org.name": "中天运会计师事务所（特殊普通合伙）"}))
    found = run({"employee_id": [image]}, dpi=estimate_a4_dpi(image.shape[1], image.shape[0]), case=firm)
    # Then its round seal is found and its arc text matches the firm
    assert found[("seal.present", "employee_id")].status is Status.PASS
    assert found[("seal.org_name", "employee_id")].status is Status.PASS
    # and for another applicant it never passes (the photocopied arc reads at ~0.8 confidence:
    # too unsure to fail, so a person looks)
    other = found_for(image, "沈阳示例科技有限公司")[("seal.org_name", "employee_id")]
    assert other.status is Status.UNCERTAIN
    assert "事务所" in other.evidence["read"]


def found_for(image: np.ndarray, org_name: str) -> dict[tuple[str, str], Finding]:
    case = Case.model_validate(case_dict(**{"org.name": org_name}))
    return run({"employee_id": [image]}, dpi=estimate_a4_dpi(image.shape[1], image.shape[0]), case=case)
