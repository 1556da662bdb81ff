"""`precheck ca init|cert`, `precheck approve` and `precheck issue` against the real SoftHSM2.

Each test has its own SoftHSM2 token directory, database and var/ in tmp_path; the commands
are registered on a local typer app exactly as pipeline/cli/main.py registers them.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pymupdf
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from pipeline.casefolder import load_case_folder
from pipeline.issuance.gate import case_digest
from pipeline.issuance.register import Register
from pipeline.ruleset import load_rule_set
from tests.casedata import case_dict, write_case
from tests.office import ORDER, run
from tests.test_tokens_softhsm import lock_softhsm_token

CONTRACT_KEYS = {"order_no", "status", "findings", "certificate_pem", "token_label", "serial"}


def approved_case(office: Path, **changes: Any) -> Path:
    folder = write_case(office / "case", case_dict(**changes))
    assert run("approve", str(folder), "--clerk", "王芳", "--reason", "材料齐全").exit_code == 0
    return folder


def issue_json(folder: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = run("issue", str(folder), "--json", *extra)
    return result.exit_code, json.loads(result.stdout)


def test_an_approved_paid_case_is_issued_with_the_contract_json_and_the_out_files(office: Path) -> None:
    # Given a paid case a clerk approved
    folder = approved_case(office)
    # When it is issued with --json --out
    code, data = issue_json(folder, "--out", str(office / "out"))
    # Then exit 0 and the contract's JSON, certificate.pem and the PIN letter
    assert code == 0
    assert set(data) >= CONTRACT_KEYS
    assert (data["order_no"], data["status"], data["token_label"]) == (ORDER, "issued", ORDER)
    assert {f["rule"]: f["status"] for f in data["findings"]} == {
        "token.not_approved": "pass", "token.unpaid": "pass", "token.payer_mismatch": "pass"}
    certificate = x509.load_pem_x509_certificate(data["certificate_pem"].encode())
    assert format(certificate.serial_number, "X") == data["serial"]
    assert (office / "out" / "certificate.pem").read_text() == data["certificate_pem"]
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "张伟"
    letter = office / "out" / f"pin-letter-{ORDER}.pdf"
    assert letter.stat().st_mode & 0o077 == 0  # readable by its owner only
    text = pymupdf.open(letter)[0].get_text()
    pin = text.split("用户 PIN 码：")[1].split()[0]
    assert len(pin) == 8 and pin.isdigit() and pin != "12345678"
    assert data["token_serial"] in text


def test_the_issued_certificate_verifies_against_the_ca_certificate_printed_by_ca_cert(office: Path) -> None:
    code, data = issue_json(approved_case(office), "--key", "rsa")
    assert code == 0
    ca_pem = run("ca", "cert").stdout
    (office / "ca.pem").write_text(ca_pem)
    (office / "cert.pem").write_text(data["certificate_pem"])
    x509.load_pem_x509_certificate(data["certificate_pem"].encode()).verify_directly_issued_by(
        x509.load_pem_x509_certificate(ca_pem.encode()))
    result = subprocess.run(["openssl", "verify", "-CAfile", "ca.pem", "cert.pem"], cwd=office,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_issuing_again_returns_the_same_certificate_and_no_new_pin_letter(office: Path) -> None:
    folder = approved_case(office)
    _, first = issue_json(folder)
    letter = folder / f"pin-letter-{ORDER}.pdf"
    written = letter.read_bytes()
    code, second = issue_json(folder)
    assert code == 0
    assert second["certificate_pem"] == first["certificate_pem"] and second["serial"] == first["serial"]
    assert second["already_issued"] is True and first["already_issued"] is False
    assert letter.read_bytes() == written


def test_the_register_records_order_serial_fingerprint_and_token_serial(office: Path) -> None:
    _, data = issue_json(approved_case(office))
    record = Register().issued(ORDER)
    assert record is not None and record.completed
    assert (record.serial, record.token_serial) == (data["serial"], data["token_serial"])
    pem = x509.load_pem_x509_certificate(data["certificate_pem"].encode())
    assert record.fingerprint == pem.fingerprint(hashes.SHA256()).hex()


def test_a_case_whose_stored_review_needs_review_is_refused_with_token_not_approved(office: Path) -> None:
    folder = write_case(office / "case", case_dict())
    loaded = load_case_folder(folder, set(load_rule_set().slots))
    Register().record_decision(ORDER, "needs_review", source="review", actor="precheck 0.1.0",
                               case_digest=case_digest(loaded))
    code, data = issue_json(folder)
    assert code == 1
    assert data["status"] == "refused" and data["certificate_pem"] is None and data["serial"] is None
    refused = {f["rule"] for f in data["findings"] if f["status"] != "pass"}
    assert refused == {"token.not_approved"}


def test_a_case_never_decided_is_reviewed_first_and_a_rejected_review_refuses(office: Path) -> None:
    # A case without uploads: the in-process review rejects it (upload.missing)
    code, data = issue_json(write_case(office / "case", case_dict()))
    assert code == 1
    finding = next(f for f in data["findings"] if f["rule"] == "token.not_approved")
    assert finding["evidence"] == {"decision": "rejected", "source": "review", "by": finding["evidence"]["by"]}


@pytest.mark.parametrize(("changes", "rule"), [
    ({"payment": None}, "token.unpaid"),
    ({"payment.status": "pending"}, "token.unpaid"),
    ({"payment.payer_name": "沈阳代办服务有限公司"}, "token.payer_mismatch"),
    ({"payment.payer_name": None}, "token.payer_mismatch"),
])
def test_unpaid_and_wrongly_paid_cases_are_refused_with_their_rule_ids(
        office: Path, changes: dict[str, Any], rule: str) -> None:
    code, data = issue_json(approved_case(office, **changes))
    assert code == 1
    assert {f["rule"] for f in data["findings"] if f["status"] != "pass"} == {rule}
    assert Register().issued(ORDER) is None


def test_a_refusal_in_words_names_the_rule_on_stdout(office: Path) -> None:
    result = run("issue", str(approved_case(office, payment=None)))
    assert result.exit_code == 1
    assert "token.unpaid" in result.stdout and "尚未付款" in result.stdout


def test_a_wrong_ca_pin_fails_with_exit_4_and_a_clear_message(office: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = approved_case(office)
    monkeypatch.setenv("PRECHECK_CA_PIN", "not-the-ca-pin")
    result = run("issue", str(folder), "--json")
    assert result.exit_code == 4
    assert "PIN is wrong" in result.stderr and "not-the-ca-pin" not in result.stderr
    assert result.stdout == ""


def test_a_locked_ca_token_fails_with_exit_4_and_a_clear_message(office: Path) -> None:
    folder = approved_case(office)
    lock_softhsm_token(Path(os.environ["SOFTHSM2_CONF"]), "precheck-ca")
    result = run("issue", str(folder))
    assert result.exit_code == 4
    assert "locked" in result.stderr


def test_a_missing_pkcs11_module_fails_with_exit_4(office: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = approved_case(office)
    monkeypatch.setenv("PRECHECK_PKCS11_MODULE", str(office / "libnot-there.so"))
    result = run("issue", str(folder))
    assert result.exit_code == 4
    assert "not found" in result.stderr


def test_ca_init_twice_keeps_the_ca_and_says_so(office: Path) -> None:
    before = run("ca", "cert").stdout
    result = run("ca", "init")
    assert result.exit_code == 0 and "already exists" in result.stdout
    assert run("ca", "cert").stdout == before
    assert x509.load_pem_x509_certificate(before.encode()).public_bytes(Encoding.PEM).decode() == before


def test_an_unreadable_case_exits_3(office: Path) -> None:
    (office / "broken").mkdir()
    (office / "broken" / "case.json").write_text("{", encoding="utf-8")
    assert run("issue", str(office / "broken")).exit_code == 3
    assert run("approve", str(office / "broken"), "--clerk", "王芳").exit_code == 3


def test_ca_init_without_the_ca_pin_refuses_and_invents_no_new_pin(office: Path) -> None:
    pin_file = office / "var" / "ca" / "ca-user.pin"
    pin_file.unlink()
    result = run("ca", "init")
    assert result.exit_code == 4
    assert "no CA PIN" in result.stderr
    assert not pin_file.exists()


def test_ca_cert_needs_no_pin_and_without_a_ca_says_to_run_ca_init(
        office: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (office / "var" / "ca" / "ca-user.pin").unlink()
    assert run("ca", "cert").stdout.startswith("-----BEGIN CERTIFICATE-----")
    monkeypatch.setenv("PRECHECK_CA_LABEL", "no-such-ca")
    result = run("ca", "cert")
    assert result.exit_code == 4 and "precheck ca init" in result.stderr
