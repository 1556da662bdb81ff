"""tokens/ against the real SoftHSM2: keys on the token, certificates the CA token signs.

Each test module gets its own SoftHSM2 configuration and token directory (SOFTHSM2_CONF in a
temporary directory); nothing global is touched.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pkcs11
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import AttributeSensitive, PKCS11Error

from tokens import (
    CertificateAuthority,
    Issuer,
    JournalEntry,
    KeySpec,
    Pkcs11Module,
    Subject,
    TokenLocked,
    TokenStateError,
    WrongPin,
    load_module,
)
from tokens.errors import ModuleUnavailable
from tokens.module import DEFAULT_MODULE, unload_all
from tokens.pins import WELL_KNOWN

SUBJECT = Subject(common_name="张伟", organization="沈阳示例科技（辽宁）有限公司", organizational_unit="信息部",
                  organization_identifier="91210100MA0Y8K3N2X", country="CN", state="辽宁",
                  email="lina@example.cn")


def softhsm_conf(directory: Path) -> Path:
    (directory / "tokens").mkdir(parents=True, exist_ok=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\nslots.removable = false\n", encoding="utf-8")
    return conf


def lock_softhsm_token(conf: Path, label: str) -> None:
    """Make SoftHSM2 report the token's user PIN as locked (CKF_USER_PIN_LOCKED).

    SoftHSM2 has no retry counter; a real UKey sets this flag after too many wrong PINs.
    SoftHSM2 keeps the token flags as an attribute (vendor type 0x8000534B, an unsigned long)
    in the token's ``token.object`` file and reports them from there, so setting the bit in
    the file makes the real module report the same state a locked UKey does.
    """
    token_dir = Path(conf.read_text().split("=", 1)[1].splitlines()[0].strip())
    marker = bytes.fromhex("00000000 8000534B 00000000 00000002".replace(" ", ""))
    for path in token_dir.glob("*/token.object"):
        data = bytearray(path.read_bytes())
        if label.encode() not in data:
            continue
        at = data.index(marker) + len(marker)
        flags = int.from_bytes(data[at:at + 8], "big") | int(pkcs11.TokenFlag.USER_PIN_LOCKED)
        data[at:at + 8] = flags.to_bytes(8, "big")
        path.write_bytes(bytes(data))
        unload_all()  # the module reads token files at C_Initialize
        return
    raise AssertionError(f"no SoftHSM2 token labelled {label}")


class MemoryJournal:
    """A journal kept in a dict: a real implementation of tokens.Journal for library tests."""

    def __init__(self) -> None:
        self.entries: dict[str, JournalEntry] = {}

    def entry(self, label: str) -> JournalEntry | None:
        return self.entries.get(label)

    def token_prepared(self, label: str, sealed_so_pin: bytes, key: KeySpec) -> None:
        self.entries[label] = JournalEntry(label, sealed_so_pin)

    def certificate_issued(self, label: str, token_serial: str, key_id: bytes, certificate_der: bytes) -> None:
        self.entries[label] = JournalEntry(label, self.entries[label].sealed_so_pin, token_serial, certificate_der)

    def completed(self, label: str, token_serial: str, certificate_der: bytes) -> None:
        self.entries[label] = JournalEntry(label, self.entries[label].sealed_so_pin, token_serial,
                                           certificate_der, completed=True)


@pytest.fixture(scope="module")
def conf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    conf = softhsm_conf(tmp_path_factory.mktemp("softhsm"))
    patch = pytest.MonkeyPatch()
    patch.setenv("SOFTHSM2_CONF", str(conf))
    yield conf
    unload_all()
    patch.undo()


@pytest.fixture()
def module(conf: Path) -> Pkcs11Module:
    return load_module(DEFAULT_MODULE)


@pytest.fixture()
def ca(module: Pkcs11Module) -> CertificateAuthority:
    return CertificateAuthority.ensure(module, "ca-pin-for-tests-0001")[0]


@pytest.fixture(scope="module")
def ca_pem(conf: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ca, _ = CertificateAuthority.ensure(load_module(DEFAULT_MODULE), "ca-pin-for-tests-0001")
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    path.write_bytes(x509.load_der_x509_certificate(ca.certificate()).public_bytes(Encoding.PEM))
    return path


def issue(module: Pkcs11Module, ca: CertificateAuthority, label: str, key: KeySpec = KeySpec.EC_P256,
          journal: MemoryJournal | None = None) -> tuple[bytes, list[str]]:
    pins: list[str] = []
    issued = Issuer(module, ca, journal or MemoryJournal()).issue(
        label, SUBJECT, 12, key, lambda pin, serial: pins.append(pin))
    return issued.certificate_der, pins


@pytest.mark.parametrize("key", [KeySpec.EC_P256, KeySpec.RSA_2048])
def test_an_issued_certificate_verifies_against_the_ca_certificate_with_cryptography_and_openssl(
        module: Pkcs11Module, ca: CertificateAuthority, ca_pem: Path, tmp_path: Path, key: KeySpec) -> None:
    der, _ = issue(module, ca, f"verify-{key}", key)
    certificate = x509.load_der_x509_certificate(der)
    issuer = x509.load_pem_x509_certificate(ca_pem.read_bytes())
    certificate.verify_directly_issued_by(issuer)  # raises if the signature does not verify
    pem = tmp_path / "cert.pem"
    pem.write_bytes(certificate.public_bytes(Encoding.PEM))
    result = subprocess.run(["openssl", "verify", "-CAfile", str(ca_pem), "-purpose", "sslclient", str(pem)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("OK")


def test_the_subject_carries_the_entered_values_exactly_in_utf8_strings(
        module: Pkcs11Module, ca: CertificateAuthority) -> None:
    der, _ = issue(module, ca, "subject")
    subject = x509.load_der_x509_certificate(der).subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "张伟"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "沈阳示例科技（辽宁）有限公司"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "信息部"
    assert subject.get_attributes_for_oid(x509.ObjectIdentifier("2.5.4.97"))[0].value == "91210100MA0Y8K3N2X"
    assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "CN"
    assert subject.get_attributes_for_oid(NameOID.STATE_OR_PROVINCE_NAME)[0].value == "辽宁"
    encodings = {atv["type"].native: atv["value"].name
                 for rdn in asn1_x509.Certificate.load(der).subject.chosen for atv in rdn}
    assert encodings["common_name"] == encodings["organization_name"] == "utf8_string"


def test_the_certificate_says_what_the_key_may_do_and_names_the_email(
        module: Pkcs11Module, ca: CertificateAuthority) -> None:
    der, _ = issue(module, ca, "usage")
    certificate = x509.load_der_x509_certificate(der)
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_encipherment and not usage.value.key_cert_sign
    eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION}
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["lina@example.cn"]
    assert 0 < certificate.serial_number < 2**128 and certificate.serial_number.bit_length() > 64
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert 365 <= lifetime.days <= 366
    assert abs((certificate.not_valid_before_utc - datetime.now(UTC)).total_seconds()) < 600


def test_the_private_key_stays_on_the_token_and_cannot_be_extracted(
        module: Pkcs11Module, ca: CertificateAuthority) -> None:
    der, pins = issue(module, ca, "extract", KeySpec.RSA_2048)
    token = module.find("extract")
    assert token is not None
    with module.session(token, user_pin=pins[0], rw=True) as session:
        private = session.get_key(ObjectClass.PRIVATE_KEY)
        assert private[Attribute.SENSITIVE] is True
        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.NEVER_EXTRACTABLE] is True
        assert private[Attribute.LOCAL] is True  # generated on the token, not imported
        with pytest.raises(AttributeSensitive):
            private[Attribute.PRIVATE_EXPONENT]
        wrapping: Any = session.generate_key(KeyType.AES, 256, template={Attribute.TOKEN: False})
        with pytest.raises(PKCS11Error):
            wrapping.wrap_key(private, mechanism=Mechanism.AES_KEY_WRAP_PAD)
        certs = list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}))
        assert len(certs) == 1
        assert bytes(certs[0][Attribute.VALUE]) == der
        assert certs[0][Attribute.ID] == private[Attribute.ID]  # the certificate carries the key's CKA_ID


def test_the_token_is_labelled_with_the_order_number_and_the_user_pin_is_no_default(
        module: Pkcs11Module, ca: CertificateAuthority) -> None:
    _, pins = issue(module, ca, "00202009200000604")
    token = module.find("00202009200000604")
    assert token is not None and token.label == "00202009200000604"
    assert len(pins) == 1 and pins[0] not in WELL_KNOWN and pins[0] != "12345678"
    with pytest.raises(WrongPin), module.session(token, user_pin="12345678"):
        pass


def test_a_wrong_pin_gives_a_clear_wrong_pin_error(module: Pkcs11Module, ca: CertificateAuthority) -> None:
    _, pins = issue(module, ca, "wrong-pin")
    token = module.find("wrong-pin")
    assert token is not None
    wrong = "13572468" if pins[0] != "13572468" else "24681357"
    with pytest.raises(WrongPin, match="the PIN is wrong"), module.session(token, user_pin=wrong):
        pass


def test_a_locked_token_is_refused_with_a_clear_error_before_any_pin_is_tried(
        conf: Path, module: Pkcs11Module, ca: CertificateAuthority) -> None:
    _, pins = issue(module, ca, "locked")
    lock_softhsm_token(conf, "locked")
    fresh = load_module(DEFAULT_MODULE)
    token = fresh.find("locked")
    assert token is not None and token.flags & pkcs11.TokenFlag.USER_PIN_LOCKED
    with pytest.raises(TokenLocked, match="user PIN is locked"), fresh.session(token, user_pin=pins[0]):
        pass


def test_issuing_a_label_again_returns_the_same_certificate_and_hands_over_no_new_pin(
        module: Pkcs11Module, ca: CertificateAuthority) -> None:
    journal = MemoryJournal()
    first, first_pins = issue(module, ca, "twice", journal=journal)
    second, second_pins = issue(module, ca, "twice", journal=journal)
    assert second == first
    assert len(first_pins) == 1 and second_pins == []


def test_creating_the_ca_again_changes_nothing(module: Pkcs11Module, ca: CertificateAuthority) -> None:
    before = ca.certificate()
    again, created = CertificateAuthority.ensure(module, "ca-pin-for-tests-0001")
    assert not created
    assert again.certificate() == before
    certificate = x509.load_der_x509_certificate(before)
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_a_sealed_secret_opens_again_and_does_not_show_the_secret(ca: CertificateAuthority) -> None:
    sealed = ca.seal(b"Secret-SO-PIN-42")
    assert b"Secret-SO-PIN-42" not in sealed
    assert ca.unseal(sealed) == b"Secret-SO-PIN-42"
    assert ca.seal(b"Secret-SO-PIN-42") != sealed  # a fresh nonce each time


def test_a_module_path_that_does_not_exist_is_a_clear_module_error(tmp_path: Path) -> None:
    with pytest.raises(ModuleUnavailable, match="not found"):
        Pkcs11Module(tmp_path / "libnothing.so")


def test_a_token_the_journal_does_not_know_is_never_reinitialised(
        module: Pkcs11Module, ca: CertificateAuthority) -> None:
    # Given a token issued with one journal, when another (empty) journal asks for the same label
    first, _ = issue(module, ca, "unknown-to-journal")
    with pytest.raises(TokenStateError, match="no record"):
        issue(module, ca, "unknown-to-journal", journal=MemoryJournal())
    # Then the token still carries its certificate
    token = module.find("unknown-to-journal")
    assert token is not None
    with module.session(token) as session:
        values = [bytes(c[Attribute.VALUE]) for c in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})]
    assert values == [first]


def test_the_softhsm_setup_script_is_idempotent_and_writes_only_under_its_var_dir(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[1] / "scripts" / "softhsm.sh"
    first = subprocess.run(["sh", str(script), str(tmp_path / "var")], capture_output=True, text=True, check=True)
    conf = Path(first.stdout.strip())
    written = conf.read_text()
    second = subprocess.run(["sh", str(script), str(tmp_path / "var")], capture_output=True, text=True, check=True)
    assert second.stdout == first.stdout and conf.read_text() == written
    assert conf == (tmp_path / "var" / "softhsm" / "softhsm2.conf").resolve()
    assert f"directories.tokendir = {(tmp_path / 'var' / 'softhsm' / 'tokens').resolve()}" in written
    slots = subprocess.run(["softhsm2-util", "--show-slots"], env={**os.environ, "SOFTHSM2_CONF": str(conf)},
                           capture_output=True, text=True, check=True)
    assert "Initialized:      no" in slots.stdout
