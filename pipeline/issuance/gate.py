"""The gate in front of the tokens: only an approved, paid case gets a certificate on a UKey.

A case counts as approved when its current decision is ``approved``: a clerk's recorded
decision, else a stored review, else a review run now (the caller passes ``review_case``;
this module sits below the review in the house and never imports it). Decisions are tied to
the case's content (uploads and entered data, payment aside), so a changed case is decided
again. Refusals are findings of the rule set (token.*); token and module failures are
TokenError (exit 4).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tokens
from pipeline import __version__
from pipeline.casefolder import CaseFolder
from pipeline.errors import TokenError
from pipeline.issuance.register import RecordedDecision, Register, certificate_fingerprint, certificate_serial
from pipeline.models import Case, Decision, Finding, Report, Status
from pipeline.reading.matching import normalise
from pipeline.ruleset import RuleSet

#: The rule ids the gate produces (the meta-test checks each has a check, a message and a test).
RULE_IDS: tuple[str, ...] = ("token.not_approved", "token.unpaid", "token.payer_mismatch")
DECISION_ZH = {"approved": "通过", "rejected": "不通过", "needs_review": "需人工复核"}
SOFTHSM_CONF = "softhsm2.conf"


# ---------------------------------------------------------------- configuration
@dataclass(frozen=True)
class IssuanceSettings:
    """Where the tokens are: the PKCS#11 module, the CA token and its PIN, the var/ directory."""

    module_path: str = tokens.DEFAULT_MODULE
    ca_label: str = tokens.CA_LABEL
    var_dir: Path = Path("var")

    @classmethod
    def from_env(cls) -> IssuanceSettings:
        return cls(module_path=os.environ.get("PRECHECK_PKCS11_MODULE", tokens.DEFAULT_MODULE),
                   ca_label=os.environ.get("PRECHECK_CA_LABEL", tokens.CA_LABEL))

    @property
    def ca_pin_file(self) -> Path:
        return self.var_dir / "ca" / "ca-user.pin"

    def module(self) -> tokens.Pkcs11Module:
        """The module, with SoftHSM2 pointed at the project's own token directory by default."""
        if "softhsm" in Path(self.module_path).name and not os.environ.get("SOFTHSM2_CONF"):
            os.environ["SOFTHSM2_CONF"] = str(ensure_softhsm_conf(self.var_dir / "softhsm"))
        with token_errors():
            return tokens.load_module(self.module_path)

    def ca_pin(self, *, create: bool = False) -> str:
        """PRECHECK_CA_PIN, else the owner-only PIN file ``ca init`` wrote."""
        pin = os.environ.get("PRECHECK_CA_PIN")
        if pin:
            return pin
        if self.ca_pin_file.is_file():
            return self.ca_pin_file.read_text(encoding="ascii").strip()
        if not create:
            raise TokenError(f"no CA PIN: {self.ca_pin_file} is missing and PRECHECK_CA_PIN is not set "
                             "— run `precheck ca init` once")
        pin = tokens.SO_PIN.generate()
        self.ca_pin_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.ca_pin_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(pin + "\n")
        return pin

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """One issuance at a time per var/: two runs must not take the same blank token."""
        path = self.var_dir / "issuance.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def ca(self, *, signing: bool = True) -> tokens.CertificateAuthority:
        """The CA; reading its certificate (``signing=False``) needs no PIN: it is a public object."""
        pin = self.ca_pin() if signing else ""
        with token_errors():
            return tokens.CertificateAuthority(self.module(), pin, self.ca_label)

    def init_ca(self, key: tokens.KeySpec = tokens.KeySpec.EC_P256) -> tuple[tokens.CertificateAuthority, bool]:
        module = self.module()
        with token_errors():
            exists = module.find(self.ca_label) is not None
            # an existing CA token keeps its PIN: never invent a new one for it
            return tokens.CertificateAuthority.ensure(module, self.ca_pin(create=not exists),
                                                      label=self.ca_label, key=key)


def ensure_softhsm_conf(directory: Path) -> Path:
    """The project's SoftHSM2 configuration and token directory (as scripts/softhsm.sh makes them)."""
    token_dir = (directory / "tokens").resolve()
    token_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    conf = directory.resolve() / SOFTHSM_CONF
    if not conf.is_file():
        conf.write_text(f"directories.tokendir = {token_dir}\nobjectstore.backend = file\n"
                        "log.level = ERROR\nslots.removable = false\n", encoding="utf-8")
    return conf


@contextmanager
def token_errors() -> Iterator[None]:
    """Map the token library's failures to TokenError (exit 4) at the application boundary."""
    try:
        yield
    except tokens.TokenFailure as exc:
        raise TokenError(str(exc)) from exc


# ---------------------------------------------------------------- the gate
def case_digest(folder: CaseFolder) -> str:
    """SHA-256 over the entered data (payment aside: paying must not void an approval) and uploads."""
    raw = json.loads((folder.path / "case.json").read_bytes().decode("utf-8-sig"))
    raw.pop("payment", None)
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, ensure_ascii=False).encode())
    for slot, path in sorted(folder.uploads.items()):
        digest.update(f"\0{slot}\0{path.name}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def record_clerk_decision(register: Register, folder: CaseFolder, decision: Decision, clerk: str,
                          reason: str = "", case_id: str | None = None) -> None:
    register.record_decision(folder.case.order_no, decision.value, source="clerk", actor=clerk,
                             case_digest=case_digest(folder), reason=reason, case_id=case_id)


def current_decision(register: Register, folder: CaseFolder, rules: RuleSet,
                     review: Callable[[CaseFolder, RuleSet], Report] | None) -> RecordedDecision | None:
    """The recorded decision for the case as it is now; else review it (if given how) and record that."""
    digest = case_digest(folder)
    recorded = register.current_decision(folder.case.order_no, digest)
    if recorded is not None or review is None:
        return recorded
    report = review(folder, rules)
    register.record_decision(folder.case.order_no, report.decision.value, source="review",
                             actor=f"precheck {__version__}", case_digest=digest,
                             rule_set_sha256=rules.sha256, report_json=report.model_dump_json())
    return register.current_decision(folder.case.order_no, digest)


def gate(case: Case, rules: RuleSet, decision: RecordedDecision | None) -> list[Finding]:
    """token.not_approved, token.unpaid, token.payer_mismatch: all must pass to issue."""
    value = decision.decision if decision else "none"
    approval = {"decision": value, "source": decision.source if decision else None,
                "by": decision.actor if decision else None}
    findings = [rules.finding("token.not_approved", Status.PASS if value == "approved" else Status.FAIL,
                              None, approval, decision=DECISION_ZH.get(value, "尚未审核"))]
    payment = case.payment
    findings.append(rules.finding("token.unpaid", Status.PASS if case.is_paid else Status.FAIL, None,
                                  {"payment_status": payment.status if payment else None}))
    if payment is None or payment.method != "bank_transfer":
        findings.append(rules.finding("token.payer_mismatch", Status.PASS, None,
                                      {"method": payment.method if payment else None}))
    else:
        evidence = {"method": payment.method, "payer": payment.payer_name or "", "org": case.org.name}
        if not payment.payer_name:
            status = Status.UNCERTAIN  # nobody can tell who paid: refuse, and say a person must look
        else:
            status = Status.PASS if normalise(payment.payer_name) == normalise(case.org.name) else Status.FAIL
        findings.append(rules.finding("token.payer_mismatch", status, None, evidence))
    return findings


def subject_for(case: Case) -> tokens.Subject:
    """CN = employee, O = organisation, OU = employee's department, 2.5.4.97 = credit code, ST = province.

    The web form asks for one e-mail address, the handler's (经办人email); it goes into the
    SAN. The employee's own e-mail appears only on the paper form's appendix, not in case.json.
    """
    return tokens.Subject(
        common_name=case.user.name, organization=case.org.name,
        organizational_unit=case.user.department or None, organization_identifier=case.org.id_number,
        country="CN", state=case.org.province or None, email=case.handler.email or None)


# ---------------------------------------------------------------- issuing
@dataclass
class IssueOutcome:
    """CONTRACT §7's JSON, plus additions (token serial, fingerprint, whether issued before)."""

    order_no: str
    status: str
    findings: list[Finding]
    certificate_der: bytes | None = None
    token_label: str | None = None
    token_serial: str | None = None
    already_issued: bool = False
    pin_letter: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def certificate_pem(self) -> str | None:
        if self.certificate_der is None:
            return None
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        return x509.load_der_x509_certificate(self.certificate_der).public_bytes(Encoding.PEM).decode()

    def to_json(self) -> dict[str, Any]:
        der = self.certificate_der
        return {
            "order_no": self.order_no, "status": self.status,
            "findings": [f.model_dump(mode="json") for f in self.findings],
            "certificate_pem": self.certificate_pem, "token_label": self.token_label,
            "serial": certificate_serial(der) if der else None,
            "token_serial": self.token_serial,
            "fingerprint_sha256": certificate_fingerprint(der) if der else None,
            "already_issued": self.already_issued,
            "pin_letter": str(self.pin_letter) if self.pin_letter else None,
        }


def issue_case(folder: CaseFolder, rules: RuleSet, register: Register, settings: IssuanceSettings, *,
               key: tokens.KeySpec = tokens.KeySpec.EC_P256, letter_dir: Path | None = None,
               review: Callable[[CaseFolder, RuleSet], Report] | None = None,
               progress: Callable[[str], None] | None = None) -> IssueOutcome:
    """Issue the case's certificate onto a token, or refuse with findings; safe to run again."""
    with settings.writer_lock():
        return _issue_locked(folder, rules, register, settings, key, letter_dir, review, progress)


def _issue_locked(folder: CaseFolder, rules: RuleSet, register: Register, settings: IssuanceSettings,
                  key: tokens.KeySpec, letter_dir: Path | None,
                  review: Callable[[CaseFolder, RuleSet], Report] | None,
                  progress: Callable[[str], None] | None) -> IssueOutcome:
    case = folder.case
    done = register.issued(case.order_no)
    if done is not None and done.completed:  # issued before: the same certificate, no gate, no new PIN
        with token_errors():
            issued = tokens.Issuer(settings.module(), settings.ca(), register.journal(str(folder.path))).issue(
                case.order_no, subject_for(case), case.validity_months, key, _no_delivery)
        return IssueOutcome(case.order_no, "issued", [], issued.certificate_der, case.order_no,
                            issued.token_serial, already_issued=True)
    findings = gate(case, rules, current_decision(register, folder, rules, review))
    if any(f.status is not Status.PASS for f in findings):
        return IssueOutcome(case.order_no, "refused", findings)
    letter_path = (letter_dir or folder.path) / f"pin-letter-{case.order_no}.pdf"

    def deliver(pin: str, token_serial: str) -> None:
        tokens.PinLetter(reference=case.order_no, holder=case.user.name, organization=case.org.name,
                         token_serial=token_serial, issued_at=datetime.now(UTC)).write(letter_path, pin)

    with token_errors():
        issuer = tokens.Issuer(settings.module(), settings.ca(), register.journal(str(folder.path)),
                               progress=progress)
        issued = issuer.issue(case.order_no, subject_for(case), case.validity_months, key, deliver)
    return IssueOutcome(case.order_no, "issued", findings, issued.certificate_der, case.order_no,
                        issued.token_serial, already_issued=issued.already, pin_letter=letter_path)


def _no_delivery(pin: str, token_serial: str) -> None:
    raise AssertionError("a completed issuance never hands over a PIN again")
