"""Typed data shared by every stage: the applicant's case, findings and the report.

The case model mirrors CONTRACT §1 field by field. It rejects unknown keys and unknown enum
values so that a typo in an integration shows up as exit 3 naming the field, not as a silently
ignored value. Format checks of entered values (check digits, brackets, mobile) are *not* done
here: they are findings of the data stage, which a clerk can send back to the applicant.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, StrictStr


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


BusinessType = Literal["new", "change", "revoke", "renew", "reissue", "unlock"]


class Organisation(_Strict):
    name: StrictStr
    id_type: Literal["uscc"]
    id_number: StrictStr
    country: StrictStr
    province: StrictStr
    address: StrictStr
    phone: StrictStr
    department: StrictStr


class User(_Strict):
    """The employee who will hold the certificate (用户信息)."""

    name: StrictStr
    id_type: Literal["resident_id"]
    id_number: StrictStr
    country: StrictStr
    province: StrictStr
    phone: StrictStr
    gender: Literal["male", "female"]
    department: StrictStr


class Handler(_Strict):
    """The person who handles the application (经办人); may be the employee."""

    name: StrictStr
    id_type: Literal["resident_id"]
    id_number: StrictStr
    address: StrictStr
    mobile: StrictStr
    email: StrictStr


class Payment(_Strict):
    status: Literal["paid", "unpaid", "pending", "refunded"]
    method: Literal["alipay", "unionpay", "bank_transfer"]
    payer_name: StrictStr | None = None


class Case(_Strict):
    order_no: StrictStr = Field(pattern=r"^\d{17}$")
    service: StrictStr
    business_type: BusinessType
    validity_months: StrictInt = Field(gt=0, le=120)
    submitted_at: AwareDatetime
    org: Organisation
    user: User
    handler: Handler
    remark: StrictStr
    payment: Payment | None = None

    @property
    def is_paid(self) -> bool:
        return self.payment is not None and self.payment.status == "paid"

    def content_sha256(self) -> str:
        """sha256 of the entered data in canonical JSON: equal for equal data, however it was written."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNCERTAIN = "uncertain"
    SKIPPED = "skipped"


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    NEEDS_REVIEW = "needs_review"


class Finding(BaseModel):
    """One rule's verdict on one slot (or on the case when ``slot`` is None)."""

    model_config = ConfigDict(frozen=True)

    rule: str
    slot: str | None
    status: Status
    message: str
    evidence: dict[str, Any] = Field(default_factory=dict)


class OtherUse(BaseModel):
    """A case of another order in which the same file (by sha256) was uploaded: what the case
    store knows and a folder alone cannot (``upload.reused``)."""

    model_config = ConfigDict(frozen=True)

    order_no: str
    slot: str
    same_organisation: bool = False  # the other case was entered with the same credit code


class RuleSetRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    version: str
    sha256: str


class Report(BaseModel):
    """CONTRACT §4. Fields after ``findings`` are additions (optional for readers)."""

    order_no: str
    decision: Decision
    rule_set: RuleSetRef
    findings: list[Finding]
    reviewed_at: datetime | None = None
    precheck_version: str | None = None
    case_name: str | None = None
    org_name: str | None = None
    submitted_at: datetime | None = None
    uploads: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: sha256 of the entered data (case.json as read, in canonical JSON): with ``rule_set``,
    #: ``precheck_version``, ``ocr_engine`` and each upload's sha256, what the findings were made on
    case_sha256: str | None = None
    ocr_engine: str | None = None
    #: the build that made the findings (``pipeline.build``: source and reading libraries)
    build_sha256: str | None = None

    def failed_rules(self) -> list[str]:
        return sorted({f.rule for f in self.findings if f.status is Status.FAIL})

    def uncertain_rules(self) -> list[str]:
        return sorted({f.rule for f in self.findings if f.status is Status.UNCERTAIN})
