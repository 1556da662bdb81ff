"""The approved-and-paid gate and the register, without tokens: pure findings and SQLite rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from pipeline.casefolder import load_case_folder
from pipeline.issuance.gate import case_digest, current_decision, gate, record_clerk_decision, subject_for
from pipeline.issuance.register import RecordedDecision, Register
from pipeline.models import Case, Decision, Status
from pipeline.ruleset import load_rule_set
from tests.casedata import case_dict, write_case

RULES = load_rule_set()


def decided(value: str, source: str = "clerk") -> RecordedDecision:
    return RecordedDecision(order_no="00202009200000604", decision=value, source=source, actor="王芳",
                            reason="", case_digest="x", at=None)  # type: ignore[arg-type]


def statuses(case: Case, decision: RecordedDecision | None) -> dict[str, Status]:
    return {f.rule: f.status for f in gate(case, RULES, decision)}


def test_an_approved_paid_case_paid_by_its_own_organisation_passes_every_gate_rule() -> None:
    case = Case.model_validate(case_dict())
    assert statuses(case, decided("approved")) == {
        "token.not_approved": Status.PASS, "token.unpaid": Status.PASS, "token.payer_mismatch": Status.PASS}


@pytest.mark.parametrize("decision", ["needs_review", "rejected", None])
def test_a_case_not_approved_fails_token_not_approved_naming_the_decision(decision: str | None) -> None:
    case = Case.model_validate(case_dict())
    findings = gate(case, RULES, decided(decision) if decision else None)
    refusal = next(f for f in findings if f.rule == "token.not_approved")
    assert refusal.status is Status.FAIL
    assert refusal.evidence["decision"] == (decision or "none")
    assert "不能制证" in refusal.message


@pytest.mark.parametrize("payment", [None, {"status": "pending", "method": "alipay"},
                                     {"status": "refunded", "method": "unionpay"}])
def test_a_case_not_paid_fails_token_unpaid(payment: dict[str, str] | None) -> None:
    data = case_dict(payment=None)
    if payment:
        data["payment"] = payment
    assert statuses(Case.model_validate(data), decided("approved"))["token.unpaid"] is Status.FAIL


def test_a_bank_transfer_from_another_organisation_fails_token_payer_mismatch() -> None:
    case = Case.model_validate(case_dict(**{"payment.payer_name": "沈阳代办服务有限公司"}))
    finding = next(f for f in gate(case, RULES, decided("approved")) if f.rule == "token.payer_mismatch")
    assert finding.status is Status.FAIL
    assert "沈阳代办服务有限公司" in finding.message


def test_a_payer_written_with_half_width_brackets_is_the_same_organisation() -> None:
    data = case_dict(**{"org.name": "沈阳示例科技（辽宁）有限公司", "payment.payer_name": "沈阳示例科技(辽宁)有限公司"})
    assert statuses(Case.model_validate(data), decided("approved"))["token.payer_mismatch"] is Status.PASS


def test_a_bank_transfer_without_a_payer_name_is_uncertain_not_passed() -> None:
    case = Case.model_validate(case_dict(**{"payment.payer_name": None}))
    assert statuses(case, decided("approved"))["token.payer_mismatch"] is Status.UNCERTAIN


def test_paying_by_alipay_needs_no_payer_check() -> None:
    case = Case.model_validate(case_dict(payment={"status": "paid", "method": "alipay"}))
    assert statuses(case, decided("approved"))["token.payer_mismatch"] is Status.PASS


def test_the_subject_comes_from_the_entered_employee_organisation_and_handler_email() -> None:
    case = Case.model_validate(case_dict())
    subject = subject_for(case)
    assert (subject.common_name, subject.organization, subject.organizational_unit) == ("张伟", case.org.name, "信息部")
    assert subject.organization_identifier == case.org.id_number
    assert (subject.country, subject.state, subject.email) == ("CN", "辽宁", "lina@example.cn")


def test_a_clerk_approval_counts_until_the_case_changes_but_not_when_it_is_paid(tmp_path: Path) -> None:
    # Given a clerk approved the case before it was paid
    register = Register(f"sqlite:///{tmp_path / 'db.sqlite'}")
    folder_path = write_case(tmp_path / "case", case_dict(payment=None), {"org_license.png": b"\x89PNG-1"})
    folder = load_case_folder(folder_path, set(RULES.slots))
    record_clerk_decision(register, folder, Decision.APPROVED, "王芳", "材料齐全")
    # When the applicant pays, the approval still stands
    write_case(folder_path, case_dict(), {"org_license.png": b"\x89PNG-1"})
    paid = load_case_folder(folder_path, set(RULES.slots))
    decision = current_decision(register, paid, RULES, review=None)
    assert decision is not None
    assert (decision.decision, decision.source, decision.actor) == ("approved", "clerk", "王芳")
    # But when an upload is replaced, the case must be decided again
    digest_paid = case_digest(paid)
    (folder_path / "uploads" / "org_license.png").write_bytes(b"\x89PNG-2")
    changed = load_case_folder(folder_path, set(RULES.slots))
    assert case_digest(changed) != digest_paid
    assert current_decision(register, changed, RULES, review=None) is None


def test_the_latest_decision_for_the_same_case_wins(tmp_path: Path) -> None:
    register = Register(f"sqlite:///{tmp_path / 'db.sqlite'}")
    folder = load_case_folder(write_case(tmp_path / "case", case_dict()), set(RULES.slots))
    register.record_decision("00202009200000604", "needs_review", source="review", actor="precheck",
                             case_digest=case_digest(folder))
    record_clerk_decision(register, folder, Decision.APPROVED, "王芳")
    decision = current_decision(register, folder, RULES, review=None)
    assert decision is not None and decision.decision == "approved"


@pytest.mark.parametrize("statement", ["UPDATE case_decisions SET decision = 'approved'",
                                       "DELETE FROM case_decisions",
                                       "UPDATE issuance_events SET serial = '00'",
                                       "DELETE FROM issuance_events"])
def test_the_register_is_append_only(tmp_path: Path, statement: str) -> None:
    register = Register(f"sqlite:///{tmp_path / 'db.sqlite'}")
    register.record_decision("00202009200000604", "rejected", source="clerk", actor="王芳", case_digest="d")
    register.journal("case").token_prepared("00202009200000604", b"sealed", "ec")  # type: ignore[arg-type]
    with pytest.raises(DatabaseError, match="append-only"), register.engine.begin() as conn:
        conn.execute(text(statement))
