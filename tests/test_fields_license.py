"""Business licences: organisation name, credit code and validity (营业期限)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.models import Finding, Status
from pipeline.stages import fields
from tests.casedata import BASE_CASE, make_uscc
from tests.fields_samples import by_rule, fields_context, licence, stamp

ORG = BASE_CASE["org"]


def _review(image: np.ndarray, **changes: object) -> dict[tuple[str, str | None], Finding]:
    return by_rule(fields.run(fields_context({"org_license": [image]}, **changes)))


def test_a_stamped_licence_of_the_applicant_passes_name_code_and_validity() -> None:
    found = _review(stamp(licence(ORG["name"], ORG["id_number"]), (900, 1400), 200))
    for rule in ("doc.kind", "ocr.org_name", "ocr.uscc", "ocr.license_valid"):
        assert found[(rule, "org_license")].status is Status.PASS, (rule, found[(rule, "org_license")].evidence)
    assert found[("ocr.license_valid", "org_license")].evidence["valid_until"] == "长期"


def test_a_licence_that_expired_before_the_submission_fails_naming_the_end_date() -> None:
    found = _review(licence(ORG["name"], ORG["id_number"], "2015年03月16日至2025年03月15日"))
    f = found[("ocr.license_valid", "org_license")]
    assert f.status is Status.FAIL
    assert f.evidence["valid_until"] == "2025-03-15" and "2025-03-15" in f.message


def test_a_licence_valid_until_after_the_submission_passes() -> None:
    found = _review(licence(ORG["name"], ORG["id_number"], "2015年03月16日至2035年03月15日"))
    assert found[("ocr.license_valid", "org_license")].status is Status.PASS


def test_a_licence_without_a_legible_period_is_uncertain() -> None:
    found = _review(licence(ORG["name"], ORG["id_number"], ""))
    assert found[("ocr.license_valid", "org_license")].status is Status.UNCERTAIN


def test_a_licence_of_another_company_fails_name_and_code_with_both_values() -> None:
    other_code = make_uscc("91210200MA0Q1W2E3")
    found = _review(licence("大连海港物流有限公司", other_code))
    name, code = found[("ocr.org_name", "org_license")], found[("ocr.uscc", "org_license")]
    assert name.status is Status.FAIL and name.evidence["read"] == "大连海港物流有限公司"
    assert code.status is Status.FAIL and code.evidence["read"] == other_code
    assert code.evidence["entered"] == ORG["id_number"]


REAL_LICENCES = ["license_longllovers-business_license_1", "license_longllovers-business_license_2",
                 "license_cicba_1"]


@pytest.mark.parametrize("stem", REAL_LICENCES)
def test_real_licence_samples_are_read_and_judged_as_their_ground_truth_says(real_samples: Path, stem: str) -> None:
    truth = json.loads((real_samples / f"{stem}.json").read_text(encoding="utf-8"))
    image = cv2.imread(str(next(real_samples.glob(f"{stem}.[jp]*g"))))
    assert image is not None
    found = _review(image, **{"org.name": truth["org_name"], "org.id_number": truth["uscc"]})
    assert found[("doc.kind", "org_license")].status is Status.PASS
    assert found[("ocr.org_name", "org_license")].status is Status.PASS
    code = found[("ocr.uscc", "org_license")]
    if truth["uscc_checksum_valid"]:
        assert code.status is Status.PASS and code.evidence["read"] == truth["uscc"]
    else:  # a 17-character template code is never accepted, nor failed
        assert code.status is Status.UNCERTAIN
    assert found[("ocr.license_valid", "org_license")].status is Status.PASS  # all three say 长期


LONG_NAME = "中铁九局集团（沈阳）物资贸易有限公司"  # 18 characters: the licence wraps it after 16


def _wrapped_licence(printed: str, face: str) -> np.ndarray:
    from datetime import date

    from fixtures.scans.documents import license_page
    from fixtures.scans.imaging import scan
    from fixtures.scans.people import Org

    org = Org(printed, "210102", "MA0Q5R8K", "辽宁省沈阳市和平区南京北街 206 号", "024-23865112", "信息中心",
              "有限责任公司（自然人投资或控股）", "孟庆祥", "人民币伍佰万元整", date(2014, 8, 20), None,
              "沈阳市和平区市场监督管理局")
    rng = np.random.default_rng(7)
    return cv2.cvtColor(scan(license_page(org, 200, face, rng), 200, rng=rng), cv2.COLOR_RGB2BGR)


@pytest.mark.parametrize("face", ["sans", "uming"])
def test_a_long_name_the_licence_wraps_onto_a_second_line_is_read_across_both(face: str) -> None:
    image = _wrapped_licence(LONG_NAME, face)
    f = _review(image, **{"org.name": LONG_NAME})[("ocr.org_name", "org_license")]
    assert f.status is Status.PASS, f.evidence
    (name,) = [x for x in f.evidence["fields"] if x["field"] == "org.name"]
    assert name["lines"] == 2 and name["how"].endswith("+continued"), name


def test_a_wrapped_name_whose_second_line_differs_never_passes() -> None:
    printed = LONG_NAME.replace("有限公司", "有限责任公司")  # another company form: another name
    f = _review(_wrapped_licence(printed, "sans"), **{"org.name": LONG_NAME})[("ocr.org_name", "org_license")]
    assert f.status is not Status.PASS, f.evidence


@pytest.mark.parametrize("certificate", ["public_institution", "social_organisation"])
@pytest.mark.parametrize(("until", "status"), [(None, Status.PASS), ("2025-06-30", Status.FAIL)])
def test_an_organisation_that_is_no_company_has_its_certificate_read_as_its_licence(
        certificate: str, until: str | None, status: Status) -> None:
    """The guide asks for 有效单位证件（如营业执照）: a school's 事业单位法人证书, an association's 社会团体法人登记
    证书 — another layout, other labels, a period of validity 自…至… (rule set 13: doc.kind uncertain)."""
    from dataclasses import replace
    from datetime import date

    from fixtures.scans.documents import certificate_page
    from fixtures.scans.people import ORGS

    org = replace(ORGS[0], name="沈阳市浑南区实验学校", certificate=certificate, sponsor="沈阳市浑南区教育局",
                  uscc_kind="12" if certificate == "public_institution" else "51", valid_until=date(2029, 2, 28))
    page = certificate_page(org, 200, "sans", np.random.default_rng(4),
                            valid_until="org" if until is None else date.fromisoformat(until))
    image = cv2.cvtColor(page, cv2.COLOR_RGB2BGR)
    found = _review(image, **{"org.name": org.name, "org.id_number": org.uscc})
    for rule in ("doc.kind", "ocr.org_name", "ocr.uscc"):
        assert found[(rule, "org_license")].status is Status.PASS, (rule, found[(rule, "org_license")].evidence)
    valid = found[("ocr.license_valid", "org_license")]
    assert valid.status is status, valid.evidence
    assert valid.evidence["valid_until"] == (until or "2029-02-28")


@pytest.mark.parametrize("colour", [True, False])
def test_a_copy_of_the_landscape_original_licence_is_read_as_the_portrait_copy_is(colour: bool) -> None:
    """Many copy the 正本 (landscape; the credit code under its label, top left; two columns of rows)
    rather than the 副本: the same checks pass, and a name one character off still fails."""
    from dataclasses import replace

    from fixtures.scans.documents import license_original_page
    from fixtures.scans.people import ORGS

    org = ORGS[0]
    entered = {"org.name": org.name, "org.id_number": org.uscc}
    image = cv2.cvtColor(license_original_page(org, 200, "sans", np.random.default_rng(5), colour=colour),
                         cv2.COLOR_RGB2BGR)
    found = _review(image, **entered)
    for rule in ("doc.kind", "ocr.org_name", "ocr.uscc", "ocr.license_valid"):
        assert found[(rule, "org_license")].status is Status.PASS, (rule, found[(rule, "org_license")].evidence)
    near = replace(org, name=org.name.replace("北方", "北万"))
    image = cv2.cvtColor(license_original_page(near, 200, "sans", np.random.default_rng(5), colour=colour),
                         cv2.COLOR_RGB2BGR)
    assert _review(image, **entered)[("ocr.org_name", "org_license")].status is Status.FAIL


def test_a_law_firms_licence_which_prints_no_period_passes_validity_by_its_title() -> None:
    """A 律师事务所执业许可证 has no period of validity (an annual assessment instead): with none read, its
    title says there is none to read (a business licence whose period is not read stays uncertain)."""
    from dataclasses import replace

    from fixtures.scans.documents import certificate_page
    from fixtures.scans.people import ORGS

    org = replace(ORGS[0], name="辽宁正和信达律师事务所", certificate="law_firm", sponsor="沈阳市司法局",
                  uscc_kind="31", authority="辽宁省司法厅")
    image = cv2.cvtColor(certificate_page(org, 200, "sans", np.random.default_rng(6)), cv2.COLOR_RGB2BGR)
    found = _review(image, **{"org.name": org.name, "org.id_number": org.uscc})
    for rule in ("doc.kind", "ocr.org_name", "ocr.uscc"):
        assert found[(rule, "org_license")].status is Status.PASS, (rule, found[(rule, "org_license")].evidence)
    valid = found[("ocr.license_valid", "org_license")]
    assert valid.status is Status.PASS and valid.evidence["reason"] == "no_term"
    assert valid.message.endswith("为律师事务所执业许可证，不设有效期")
