"""The pre-filled forms: entered data printed where the layout says, a barcode that decodes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pymupdf
import pytest
import zxingcpp

from pipeline.casefolder import parse_case_json
from pipeline.forms.render import FORMS, authorization_period, form_layout, form_values, render_forms
from pipeline.models import Case

CASE_JSON = """{
  "order_no": "00202611200000731", "service": "lnzc-employee-ukey", "business_type": "new",
  "validity_months": 24, "submitted_at": "2026-08-31T10:15:00+08:00",
  "org": {"name": "大连海湾物流（集团）有限公司", "id_type": "uscc", "id_number": "91210200MA0Y4K7P3X",
          "country": "CN", "province": "辽宁", "address": "辽宁省大连市中山区人民路 66 号",
          "phone": "0411-82345678", "department": "综合部"},
  "user": {"name": "王秀英", "id_type": "resident_id", "id_number": "210202198807154427", "country": "CN",
           "province": "辽宁", "phone": "13700001111", "gender": "female", "department": "采购部"},
  "handler": {"name": "赵磊", "id_type": "resident_id", "id_number": "21020319910203051X",
              "address": "辽宁省大连市西岗区黄河路 8 号", "mobile": "13898765432", "email": "zhaolei@haiwan.cn"},
  "remark": "", "payment": {"status": "paid", "method": "alipay"}
}"""


@pytest.fixture(scope="module")
def case() -> Case:
    return parse_case_json(CASE_JSON.encode())


@pytest.fixture(scope="module")
def rendered(case: Case, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return render_forms(case, tmp_path_factory.mktemp("forms"))


def _gray(page: pymupdf.Page, dpi: int) -> np.ndarray:
    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
    return np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.h, pix.w)


def test_the_three_forms_are_written_as_pdfs(rendered: dict[str, Path]) -> None:
    assert set(rendered) == set(FORMS)
    for form, path in rendered.items():
        assert path.name == f"{form}.pdf"
        assert path.read_bytes().startswith(b"%PDF")


def test_the_application_form_shows_the_entered_data(case: Case, rendered: dict[str, Path]) -> None:
    with pymupdf.open(rendered["application_form"]) as doc:
        text = "".join(page.get_text() for page in doc)
    for value in (case.org.name, case.org.id_number, case.org.address, case.handler.name,
                  case.handler.id_number, case.handler.mobile, case.handler.email, case.user.name,
                  case.user.id_number, "辽宁采购-机构员工数字证书申请表", "申请机构盖章"):
        assert value in text


@pytest.mark.parametrize("dpi", [150, 200, 300])
def test_the_barcode_on_each_application_page_decodes_to_the_order_number(
        case: Case, rendered: dict[str, Path], dpi: int) -> None:
    with pymupdf.open(rendered["application_form"]) as doc:
        for page in doc:
            reads = zxingcpp.read_barcodes(_gray(page, dpi))
            assert [r.text for r in reads] == [case.order_no]


def test_every_value_sits_in_the_box_the_layout_reports(case: Case, rendered: dict[str, Path]) -> None:
    values = form_values(case)
    checked = 0
    for form in FORMS:
        layout = form_layout(form)
        with pymupdf.open(rendered[form]) as doc:
            assert len(doc) == layout.pages
            for name, box in layout.fields.items():
                expected = values.get(name.removesuffix("_attached"), "")
                if not expected or name == "business_type":
                    continue
                got = doc[box.page].get_textbox(pymupdf.Rect(box.rect)).strip()
                assert got == expected, (form, name)
                checked += 1
    assert checked >= 20


def test_every_label_is_printed_in_the_box_the_layout_reports_for_it(case: Case, rendered: dict[str, Path]) -> None:
    # fields are found by their labels near where the template prints them, and a value below its
    # label (a table column) is read below it first: both need the label's own box
    for form in FORMS:
        layout = form_layout(form)
        with pymupdf.open(rendered[form]) as doc:
            for name, box in layout.fields.items():
                got = doc[box.page].get_textbox(pymupdf.Rect(box.label_rect)).replace(" ", "")
                assert box.label.replace(" ", "").rstrip("：") in got, (form, name, got)


def test_each_form_has_a_seal_box_big_enough_for_a_45_mm_seal() -> None:
    seal_mm = 45 / 25.4 * 72
    for form in FORMS:
        boxes = form_layout(form).seal_boxes
        assert boxes, form
        big = [b for b in boxes if b.rect[2] - b.rect[0] >= seal_mm and b.rect[3] - b.rect[1] >= seal_mm]
        assert big, form
    labels = {form: {b.label for b in form_layout(form).seal_boxes} for form in FORMS}
    assert labels == {"application_form": {"申请机构盖章"}, "seal_form": {"公章盖三下", "单位盖章"},
                      "authorization": {"公司盖公章"}}


def test_the_authorization_period_runs_six_months_from_the_submission_day(
        case: Case, rendered: dict[str, Path]) -> None:
    assert authorization_period(case) == (date(2026, 8, 31), date(2027, 2, 28))
    with pymupdf.open(rendered["authorization"]) as doc:
        text = doc[0].get_text()
    assert "2026 年 08 月 31 日" in text and "2027 年 02 月 28 日" in text
    assert "21020319910203051X" in text


def test_the_forms_embed_a_cjk_font_and_name_it_in_the_metadata(rendered: dict[str, Path]) -> None:
    for path in rendered.values():
        with pymupdf.open(path) as doc:
            fonts = doc.get_page_fonts(0)
            assert fonts and all(f[1] in ("otf", "ttf", "cff") for f in fonts)  # embedded, not referenced
            assert "font=Noto Sans CJK SC (embedded subset)" in doc.metadata["keywords"]
        assert path.stat().st_size < 400_000


def test_the_serif_face_renders_the_same_text(case: Case, tmp_path: Path) -> None:
    out = render_forms(case, tmp_path, face="serif")
    with pymupdf.open(out["seal_form"]) as doc:
        assert case.org.name in doc[0].get_text()
        assert "Noto Serif CJK SC" in doc.metadata["keywords"]


def test_overrides_print_another_barcode_and_value(case: Case, tmp_path: Path) -> None:
    out = render_forms(case, tmp_path, overrides={"barcode": "00202611200000999", "org.phone": "0411-1"})
    with pymupdf.open(out["application_form"]) as doc:
        reads = zxingcpp.read_barcodes(_gray(doc[0], 150))
        assert [r.text for r in reads] == ["00202611200000999"]
        assert "0411-1\n" in doc[0].get_text()


def test_an_empty_barcode_override_leaves_the_form_without_a_barcode(case: Case, tmp_path: Path) -> None:
    out = render_forms(case, tmp_path, overrides={"barcode": ""})
    with pymupdf.open(out["application_form"]) as doc:
        assert zxingcpp.read_barcodes(_gray(doc[0], 150)) == []
        assert case.org.name in doc[0].get_text()


def test_without_the_noto_font_the_builtin_fallback_is_embedded_and_named(
        case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.forms import fonts as formfonts

    monkeypatch.setitem(formfonts.NOTO, "sans", ("/nonexistent/NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"))
    monkeypatch.setattr(formfonts, "_font_cache", {})
    out = render_forms(case, tmp_path)
    with pymupdf.open(out["authorization"]) as doc:
        assert case.handler.name in doc[0].get_text()
        assert doc.get_page_fonts(0)[0][1] == "ttf"
        assert formfonts.FALLBACK in doc.metadata["keywords"]
    assert out["authorization"].stat().st_size < 400_000
