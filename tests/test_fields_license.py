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
