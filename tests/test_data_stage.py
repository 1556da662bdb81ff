"""Entered-data checks: each rule fails on the defect the seed names and passes on good data."""

from __future__ import annotations

import pytest

from pipeline.models import Case, Status
from pipeline.ruleset import load_rule_set
from pipeline.stages import data
from pipeline.stages.base import StageContext
from tests.casedata import case_dict, make_ric, make_uscc


def findings_for(**changes: object) -> dict[tuple[str, str], Status]:
    case = Case.model_validate(case_dict(**changes))
    ctx = StageContext(case=case, rules=load_rule_set(), uploads={})
    return {(f.rule, str(f.evidence.get("person", ""))): f.status for f in data.run(ctx)}


def status_of(rule: str, person: str = "", **changes: object) -> Status:
    return findings_for(**changes)[(rule, person)]


def test_valid_entered_data_passes_every_data_rule() -> None:
    statuses = findings_for()
    assert set(statuses.values()) == {Status.PASS}
    assert {rule for rule, _ in statuses} == {
        "data.uscc", "data.resident_id", "data.org_name", "data.mobile", "data.email", "payment.payer"
    }


@pytest.mark.parametrize(
    "code",
    [
        make_uscc()[:-1] + ("0" if make_uscc()[-1] != "0" else "1"),  # wrong check digit
        make_uscc()[:17],  # 17 characters
        "91210100MO0Y8K3N2X",  # letter O is not in the code's alphabet
        make_uscc().lower(),  # lower case is not how the code is written
    ],
)
def test_an_invalid_credit_code_fails_data_uscc(code: str) -> None:
    assert status_of("data.uscc", **{"org.id_number": code}) is Status.FAIL


def test_a_wrong_resident_id_check_digit_fails_for_the_employee() -> None:
    good = make_ric("21010219900307001")
    bad = good[:-1] + ("1" if good[-1] != "1" else "2")
    assert status_of("data.resident_id", "员工", **{"user.id_number": bad}) is Status.FAIL


def test_a_resident_id_born_after_the_submission_fails() -> None:
    future = make_ric("21010220300101001")
    assert status_of("data.resident_id", "经办人", **{"handler.id_number": future}) is Status.FAIL


def test_a_resident_id_whose_sex_digit_contradicts_the_entered_gender_fails() -> None:
    assert status_of("data.resident_id", "员工", **{"user.gender": "female"}) is Status.FAIL


@pytest.mark.parametrize("name", ["沈阳示例科技(沈河)有限公司", "沈阳示例 科技有限公司", "沈阳示例科技有限公司（沈河"])
def test_half_width_brackets_spaces_or_unbalanced_brackets_fail_data_org_name(name: str) -> None:
    assert status_of("data.org_name", **{"org.name": name}) is Status.FAIL


def test_full_width_brackets_pass_data_org_name() -> None:
    assert status_of("data.org_name", **{"org.name": "沈阳示例科技（沈河）有限公司"}) is Status.PASS


@pytest.mark.parametrize("mobile", ["1381234567", "12812345678", "138-1234-5678", "+8613812345678"])
def test_a_malformed_mobile_fails_data_mobile(mobile: str) -> None:
    assert status_of("data.mobile", **{"handler.mobile": mobile}) is Status.FAIL


@pytest.mark.parametrize("email", ["lina@", "lina.example.cn", "li na@example.cn", "lina@example..cn"])
def test_a_malformed_email_fails_data_email(email: str) -> None:
    assert status_of("data.email", **{"handler.email": email}) is Status.FAIL


def test_a_bank_transfer_paid_by_another_organisation_fails_payment_payer() -> None:
    assert status_of("payment.payer", **{"payment.payer_name": "沈阳代办服务有限公司"}) is Status.FAIL


def test_a_bank_transfer_payer_written_with_half_width_brackets_is_the_same_organisation() -> None:
    changes = {"org.name": "沈阳示例科技（沈河）有限公司", "payment.payer_name": "沈阳示例科技(沈河)有限公司"}
    assert status_of("payment.payer", **changes) is Status.PASS


def test_a_bank_transfer_without_payer_name_needs_a_person() -> None:
    assert status_of("payment.payer", "", **{"payment.payer_name": None}) is Status.UNCERTAIN


def test_alipay_payments_name_no_payer_and_get_no_payer_finding() -> None:
    statuses = findings_for(**{"payment.method": "alipay", "payment.payer_name": None})
    assert ("payment.payer", "") not in statuses


def test_the_failure_message_is_chinese_and_names_the_entered_value() -> None:
    case = Case.model_validate(case_dict(**{"handler.mobile": "12345"}))
    ctx = StageContext(case=case, rules=load_rule_set(), uploads={})
    mobile = next(f for f in data.run(ctx) if f.rule == "data.mobile")
    assert "12345" in mobile.message and "手机号码" in mobile.message


#: Numbers of people born before their district got today's area code: python-stdnum's cn.ric
#: rejects them (area code unknown in the birth year); GB 11643 does not ask for that.
REAL_ERA_BODIES = ["21010219720415301", "21030219810923152", "21110319830101241",
                   "21010419650718002", "37078219870917024", "11010519491001001"]


@pytest.mark.parametrize("body", REAL_ERA_BODIES)
def test_a_resident_id_of_someone_born_before_the_districts_current_code_passes(body: str) -> None:
    number = make_ric(body)
    gender = "male" if int(number[16]) % 2 else "female"
    assert status_of("data.resident_id", "员工", **{"user.id_number": number, "user.gender": gender}) is Status.PASS


def test_the_real_specimen_card_number_passes_data_resident_id() -> None:
    """The number on ../shared/real-samples/idcard_chineseocr_2 (its JSON records it)."""
    assert status_of("data.resident_id", "员工", **{"user.id_number": "370782198709170246",
                                                     "user.gender": "female"}) is Status.PASS


@pytest.mark.parametrize(("body", "why"), [("99010219800101001", "province"), ("21010219800230001", "no such day")])
def test_a_resident_id_with_an_unknown_province_or_an_impossible_birth_date_fails(body: str, why: str) -> None:
    assert status_of("data.resident_id", "经办人", **{"handler.id_number": make_ric(body)}) is Status.FAIL
