"""Pre-filled forms: every printed field matches the record; the authorization covers the date."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pymupdf
import pytest

from pipeline.forms import render as forms
from pipeline.forms.render import render_forms
from pipeline.models import Case, Status
from pipeline.stages import fields
from tests.casedata import BASE_CASE, case_dict
from tests.fields_samples import by_rule, fields_context, pdf_pages, stamp

CASE = Case.model_validate(BASE_CASE)


def _pages(tmp: Path, **kwargs: Any) -> dict[str, list[np.ndarray]]:
    paths = render_forms(CASE, tmp, **kwargs)
    return {slot: pdf_pages(p) for slot, p in paths.items()}


@pytest.fixture(scope="module")
def clean_forms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[np.ndarray]]:
    return _pages(tmp_path_factory.mktemp("forms"))


def test_clean_stamped_forms_pass_every_field_rule(clean_forms: dict[str, list[np.ndarray]]) -> None:
    pages = dict(clean_forms)
    pages["seal_form"] = [stamp(pages["seal_form"][0], (1150, 300), 230)]  # seal over 单位名称
    found = by_rule(fields.run(fields_context(pages)))
    expected = [("doc.kind", s) for s in pages] + [
        ("ocr.org_name", "application_form"), ("ocr.org_name", "seal_form"), ("ocr.uscc", "application_form"),
        ("ocr.handler", "application_form"), ("ocr.handler", "authorization"), ("ocr.user", "application_form"),
        ("ocr.form_fields", "application_form"), ("auth.period", "authorization")]
    not_passed = {k: found[k].evidence for k in expected if found[k].status is not Status.PASS}
    assert not not_passed


#: Faces other than the Noto CJK the forms embed: acceptance prints forms we have not seen.
OTHER_FONTS = {
    "Droid Sans Fallback (MuPDF built-in)": lambda: bytes(pymupdf.Font("china-s").buffer),
    "AR PL UMing (a Song face like the portal's SimSun; Debian fonts-arphic-uming)":
        lambda: Path("/usr/share/fonts/truetype/arphic/uming.ttc").read_bytes(),
}


@pytest.mark.parametrize("font", sorted(OTHER_FONTS))
def test_forms_printed_in_another_font_pass_every_field_rule(font: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = OTHER_FONTS[font]()
    monkeypatch.setattr(forms, "font_for", lambda face, chars: (buffer, font))
    pages = _pages(tmp_path)
    pages["seal_form"] = [stamp(pages["seal_form"][0], (1150, 300), 230)]
    found = by_rule(fields.run(fields_context(pages)))
    not_passed = {k: (f.status.value, f.evidence.get("field"), f.evidence.get("entered"), f.evidence.get("read"))
                  for k, f in found.items() if f.status is not Status.PASS}
    assert not not_passed


def test_every_printed_field_of_the_application_form_is_checked_with_its_box(
        clean_forms: dict[str, list[np.ndarray]]) -> None:
    found = by_rule(fields.run(fields_context({"application_form": clean_forms["application_form"]})))
    checked = {x["field"]: x for x in found[("ocr.form_fields", "application_form")].evidence["fields"]}
    assert {"org.name", "org.id_number", "org.phone", "org.address", "handler.name", "handler.mobile",
            "handler.email", "handler.id_number", "handler.address", "user.name",
            "user.id_number"} <= set(checked)
    assert all(len(x["box"]) == 4 for x in checked.values())
    # the applicant's own 申请日期 is judged by its own rule, with the date read and its box
    dated = found[("ocr.apply_date", "application_form")]
    assert dated.status is Status.PASS and dated.evidence["date"] and len(dated.evidence["box"]) == 4


def test_a_hand_edited_mobile_number_on_the_application_form_fails_form_fields(tmp_path: Path) -> None:
    pages = _pages(tmp_path, overrides={"handler.mobile": "13800000000"})
    found = by_rule(fields.run(fields_context({"application_form": pages["application_form"]})))
    f = found[("ocr.form_fields", "application_form")]
    assert f.status is Status.FAIL
    assert f.evidence["read"] == "13800000000" and f.evidence["entered"] == BASE_CASE["handler"]["mobile"]
    assert "手机" in f.message
    assert found[("ocr.handler", "application_form")].status is Status.PASS


def test_a_form_printed_for_another_organisation_fails_name_and_form_fields(tmp_path: Path) -> None:
    pages = _pages(tmp_path, overrides={"org.name": "大连海港物流有限公司"})
    found = by_rule(fields.run(fields_context({"application_form": pages["application_form"],
                                                "seal_form": pages["seal_form"]})))
    for slot in ("application_form", "seal_form"):
        f = found[("ocr.org_name", slot)]
        assert f.status is Status.FAIL and f.evidence["read"] == "大连海港物流有限公司"
    assert found[("ocr.form_fields", "application_form")].status is Status.FAIL


def test_an_authorization_whose_period_ended_before_the_submission_fails(tmp_path: Path) -> None:
    pages = _pages(tmp_path, auth_period=(date(2026, 1, 1), date(2026, 6, 30)))
    f = by_rule(fields.run(fields_context({"authorization": pages["authorization"]})))[("auth.period", "authorization")]
    assert f.status is Status.FAIL
    assert f.evidence["period"] == "2026-01-01 至 2026-06-30" and "2026-11-20" in f.message


@pytest.mark.parametrize(("start", "end", "status"), [
    ("二〇二六年十一月二十日", "二〇二七年五月二十日", Status.PASS),
    ("二〇二六年一月一日", "二〇二六年六月三十日", Status.FAIL),  # ended before the submission (2026-11-20)
])
def test_an_authorization_period_written_in_chinese_numerals_is_read_as_dates(
        tmp_path: Path, start: str, end: str, status: Status) -> None:
    pages = _pages(tmp_path, overrides={"auth.period_start": start, "auth.period_end": end})
    f = by_rule(fields.run(fields_context({"authorization": pages["authorization"]})))[("auth.period", "authorization")]
    assert f.status is status, f.evidence


def test_an_authorization_for_another_handler_fails_the_handler_rule(tmp_path: Path) -> None:
    pages = _pages(tmp_path, overrides={"handler.name": "王建国"})
    f = by_rule(fields.run(fields_context({"authorization": pages["authorization"]})))[("ocr.handler", "authorization")]
    assert f.status is Status.FAIL and f.evidence["read"] == "王建国"


def test_an_authorization_with_its_period_torn_off_is_uncertain(clean_forms: dict[str, list[np.ndarray]]) -> None:
    page = clean_forms["authorization"][0].copy()
    page[620:780, :] = 255  # 授权期限 row blanked (200 dpi: points 246-268 → px 683-744)
    ctx = fields_context({"authorization": [page]}, **{"submitted_at": case_dict()["submitted_at"]})
    f = by_rule(fields.run(ctx))[("auth.period", "authorization")]
    assert f.status is Status.UNCERTAIN
