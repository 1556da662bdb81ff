"""Entered-data stage: the values typed into the web form, checked before any image is read.

Credit codes are checked by python-stdnum (``stdnum.cn.uscc``), resident IDs by GB 11643
(``pipeline.identifiers``), e-mail syntax by email-validator; only the rules the seed states on
top of those are written here (full-width brackets in organisation names, the payer of a bank
transfer, a birth date in the past).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from email_validator import EmailNotValidError, validate_email
from stdnum import exceptions as stdnum_errors
from stdnum.cn import uscc

from pipeline.identifiers import birth_date, resident_id_problem
from pipeline.models import Case, Finding, Status
from pipeline.stages.base import Stage, StageContext

_STDNUM_REASONS: dict[type[Exception], str] = {
    stdnum_errors.InvalidLength: "长度不对",
    stdnum_errors.InvalidFormat: "含有不允许的字符",
    stdnum_errors.InvalidChecksum: "校验位错误",
    stdnum_errors.InvalidComponent: "出生日期或地区码无效",
}

#: Characters an organisation name may hold besides CJK ideographs, ASCII letters and digits.
_ORG_NAME_EXTRA = set("（）·-、&")


def run(ctx: StageContext) -> list[Finding]:
    case = ctx.case
    findings = [check_uscc(ctx, case.org.id_number)]
    for person, number, gender in (
        ("员工", case.user.id_number, case.user.gender),
        ("经办人", case.handler.id_number, None),
    ):
        findings.append(check_resident_id(ctx, person, number, gender, case.submitted_at.date()))
    findings.append(check_org_name(ctx, case.org.name))
    findings.append(check_mobile(ctx, case.handler.mobile))
    findings.append(check_email(ctx, case.handler.email))
    findings.extend(check_payer(ctx, case))
    return findings


def _stdnum_reason(exc: Exception) -> str:
    return next((r for t, r in _STDNUM_REASONS.items() if isinstance(exc, t)), "格式不正确")


def check_uscc(ctx: StageContext, value: str) -> Finding:
    evidence = {"value": value}
    try:
        uscc.validate(value)
    except stdnum_errors.ValidationError as exc:
        return ctx.finding("data.uscc", Status.FAIL, None, evidence, reason=_stdnum_reason(exc))
    if uscc.compact(value) != value:
        # stdnum accepts spaces and lower case; the certificate must carry the exact code.
        return ctx.finding("data.uscc", Status.FAIL, None, evidence, reason="须为 18 位大写字母和数字，不含空格")
    return ctx.finding("data.uscc", Status.PASS, None, evidence)


def check_resident_id(
    ctx: StageContext, person: str, value: str, gender: str | None, submitted: date
) -> Finding:
    evidence: dict[str, object] = {"value": value, "person": person}
    reason = resident_id_problem(value, submitted)
    birth = birth_date(value) if len(value) == 18 else None
    if birth is not None:
        evidence["birth_date"] = birth.isoformat()
    if not reason and birth is not None and birth >= submitted:
        reason = "出生日期不能晚于申请日期"
    if not reason and gender is not None and ("male" if int(value[16]) % 2 else "female") != gender:
        reason = "身份证号码显示的性别与填写的性别不符"
    if reason:
        return ctx.finding("data.resident_id", Status.FAIL, None, evidence, reason=reason)
    return ctx.finding("data.resident_id", Status.PASS, None, evidence)


def org_name_problem(name: str) -> str:
    """Why an organisation name is not written as the seed requires, or '' when it is."""
    if not name:
        return "不能为空"
    if "(" in name or ")" in name:
        return "含有半角括号"
    if any(ch.isspace() for ch in name):
        return "含有空格"
    if name.count("（") != name.count("）"):
        return "括号不成对"
    for ch in name:
        if ch in _ORG_NAME_EXTRA or (ch.isascii() and ch.isalnum()):
            continue
        if unicodedata.name(ch, "").startswith("CJK UNIFIED IDEOGRAPH"):
            continue
        return f"含有不允许的字符“{ch}”"
    return ""


def check_org_name(ctx: StageContext, name: str) -> Finding:
    problem = org_name_problem(name)
    status = Status.FAIL if problem else Status.PASS
    return ctx.finding("data.org_name", status, None, {"value": name}, reason=problem)


def check_mobile(ctx: StageContext, mobile: str) -> Finding:
    pattern = ctx.rules.param("data.mobile", "pattern")
    status = Status.PASS if re.fullmatch(pattern, mobile) else Status.FAIL
    return ctx.finding("data.mobile", status, None, {"value": mobile})


def check_email(ctx: StageContext, email: str) -> Finding:
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        return ctx.finding("data.email", Status.FAIL, None, {"value": email}, reason=str(exc))
    return ctx.finding("data.email", Status.PASS, None, {"value": email})


def same_organisation(a: str, b: str) -> bool:
    """Names equal after width folding and whitespace removal (（） and () count as the same)."""
    return _fold(a) == _fold(b)


def _fold(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def check_payer(ctx: StageContext, case: Case) -> list[Finding]:
    """Only a bank transfer names a payer; the seed requires it to be the applying organisation."""
    payment = case.payment
    if payment is None or payment.method != "bank_transfer":
        return []
    evidence = {"payer": payment.payer_name, "org": case.org.name, "status": payment.status}
    if not payment.payer_name:
        return [ctx.finding("payment.payer", Status.UNCERTAIN, None, evidence)]
    status = Status.PASS if same_organisation(payment.payer_name, case.org.name) else Status.FAIL
    return [ctx.finding("payment.payer", status, None, evidence)]


STAGE = Stage(
    name="data",
    rule_ids=("data.uscc", "data.resident_id", "data.org_name", "data.mobile", "data.email", "payment.payer"),
    run=run,
)
