"""Keys on the token, and the CSR and certificate structures their signatures go into.

The private keys never leave their tokens, so the to-be-signed structures are built with
asn1crypto (as python-pkcs11's own documentation does) and signed by the token; the
``cryptography`` package only reads and verifies the results.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import pkcs11
from asn1crypto import csr, keys, x509
from asn1crypto.core import Null
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.util.ec import encode_ec_public_key, encode_ecdsa_signature, encode_named_curve_parameters
from pkcs11.util.rsa import encode_rsa_public_key

#: Private keys are generated on the token, stay there, and only sign.
PRIVATE_KEY_TEMPLATE: dict[Attribute, Any] = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
}
_SIGN_ONLY = MechanismFlag.SIGN | MechanismFlag.VERIFY


class KeySpec(StrEnum):
    EC_P256 = "ec"
    RSA_2048 = "rsa"


@dataclass(frozen=True)
class Subject:
    """A certificate holder as the registration office entered it; values go in unchanged."""

    common_name: str
    organization: str | None = None
    organizational_unit: str | None = None
    organization_identifier: str | None = None
    country: str = "CN"
    state: str | None = None
    email: str | None = None
    """Goes into the subjectAltName (rfc822Name), not into the subject name."""

    def name(self) -> x509.Name:
        fields = {
            "country_name": self.country,
            "state_or_province_name": self.state,
            "organization_name": self.organization,
            "organizational_unit_name": self.organizational_unit,
            "common_name": self.common_name,
            "organization_identifier": self.organization_identifier,
        }
        return x509.Name.build({k: v for k, v in fields.items() if v}, use_printable=False)


# ---------------------------------------------------------------- keys on the token
def generate_keypair(session: pkcs11.Session, spec: KeySpec, label: str) -> pkcs11.PrivateKey:
    """Generate a signing key pair on the token; CKA_ID becomes the public key's SHA-1 (its SKI)."""
    placeholder = secrets.token_bytes(20)
    common: dict[str, Any] = {"id": placeholder, "label": label, "store": True, "capabilities": _SIGN_ONLY,
              "private_template": PRIVATE_KEY_TEMPLATE}
    if spec is KeySpec.EC_P256:
        params = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
        public, private = params.generate_keypair(**common)
    else:
        public, private = session.generate_keypair(KeyType.RSA, 2048, **common)
    key_id = public_key_info(public).sha1
    public[Attribute.ID] = key_id
    private[Attribute.ID] = key_id
    return private


def private_keys(session: pkcs11.Session) -> list[pkcs11.PrivateKey]:
    return list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))  # type: ignore[arg-type]


def public_key_for(session: pkcs11.Session, private: pkcs11.PrivateKey) -> pkcs11.PublicKey:
    found = list(session.get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.ID: private.id}))
    if len(found) != 1:
        raise LookupError(f"{len(found)} public keys carry the id {private.id.hex()}")
    return found[0]  # type: ignore[return-value]


def public_key_info(public: pkcs11.PublicKey) -> keys.PublicKeyInfo:
    if public.key_type == KeyType.EC:
        return keys.PublicKeyInfo.load(encode_ec_public_key(public))
    return keys.PublicKeyInfo.wrap(keys.RSAPublicKey.load(encode_rsa_public_key(public)), "rsa")


class TokenSigner:
    """Signs DER with a private key on a token, giving X.509's algorithm name and encoding."""

    def __init__(self, private: pkcs11.PrivateKey) -> None:
        self.private: Any = private  # a SignMixin at run time; the stubs do not say so
        self.is_ec = private.key_type == KeyType.EC
        self.algorithm = "sha256_ecdsa" if self.is_ec else "sha256_rsa"

    def algorithm_identifier(self) -> dict[str, Any]:
        # RSA carries explicit NULL parameters (RFC 4055); ECDSA carries none (RFC 5758).
        return {"algorithm": self.algorithm} if self.is_ec else {"algorithm": self.algorithm, "parameters": Null()}

    def sign(self, data: bytes) -> bytes:
        if self.is_ec:  # hash here: plain CKM_ECDSA is what every token (and UKey) offers
            raw = self.private.sign(hashlib.sha256(data).digest(), mechanism=Mechanism.ECDSA)
            return encode_ecdsa_signature(raw)
        return self.private.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS)


# ---------------------------------------------------------------- CSR and certificates
def build_csr(subject: Subject, public: pkcs11.PublicKey, signer: TokenSigner) -> bytes:
    """A PKCS#10 request signed on the token: the proof that the token holds the key."""
    info = csr.CertificationRequestInfo(
        {"version": "v1", "subject": subject.name(), "subject_pk_info": public_key_info(public),
         "attributes": []})
    request = csr.CertificationRequest(
        {"certification_request_info": info, "signature_algorithm": signer.algorithm_identifier(),
         "signature": signer.sign(info.dump())})
    return request.dump()


def random_serial() -> int:
    """A positive 128-bit serial from the CSPRNG (top bit clear so DER needs no sign byte)."""
    return secrets.randbits(127) | (1 << 126)


def x509_time(moment: datetime) -> x509.Time:
    moment = moment.astimezone(UTC).replace(microsecond=0)
    return x509.Time({"utc_time" if moment.year < 2050 else "general_time": moment})


def _extension(name: str, value: Any, critical: bool = False) -> x509.Extension:
    return x509.Extension({"extn_id": name, "critical": critical, "extn_value": value})


def end_entity_extensions(subject: Subject, spki: keys.PublicKeyInfo, issuer_key_id: bytes) -> list[Any]:
    """KU digitalSignature + nonRepudiation, EKU clientAuth + emailProtection, SAN email."""
    extensions = [
        _extension("basic_constraints", {"ca": False}, critical=True),
        _extension("key_usage", {"digital_signature", "non_repudiation"}, critical=True),
        _extension("extended_key_usage", ["client_auth", "email_protection"]),
        _extension("key_identifier", spki.sha1),
        _extension("authority_key_identifier", {"key_identifier": issuer_key_id}),
    ]
    if subject.email:
        extensions.append(_extension("subject_alt_name", [x509.GeneralName("rfc822_name", subject.email)]))
    return extensions


def ca_extensions(spki: keys.PublicKeyInfo) -> list[Any]:
    return [
        _extension("basic_constraints", {"ca": True, "path_len_constraint": 0}, critical=True),
        _extension("key_usage", {"key_cert_sign", "crl_sign"}, critical=True),
        _extension("key_identifier", spki.sha1),
    ]


def build_certificate(*, serial: int, issuer: x509.Name, subject: x509.Name, spki: keys.PublicKeyInfo,
                      not_before: datetime, not_after: datetime, extensions: list[Any],
                      signer: TokenSigner) -> bytes:
    """An X.509 v3 certificate whose signature comes from ``signer``'s token."""
    tbs = x509.TbsCertificate({
        "version": "v3",
        "serial_number": serial,
        "signature": signer.algorithm_identifier(),
        "issuer": issuer,
        "validity": {"not_before": x509_time(not_before), "not_after": x509_time(not_after)},
        "subject": subject,
        "subject_public_key_info": spki,
        "extensions": extensions,
    })
    certificate = x509.Certificate({
        "tbs_certificate": tbs,
        "signature_algorithm": signer.algorithm_identifier(),
        "signature_value": signer.sign(tbs.dump()),
    })
    return certificate.dump()


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months later; the 31st becomes the month's last day (Jan 31 + 1 → Feb 28/29)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise ValueError(f"cannot add {months} months to {moment}")


def certificate_objects(session: pkcs11.Session, key_id: bytes) -> list[pkcs11.Object]:
    return list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.ID: key_id}))


def store_certificate(session: pkcs11.Session, der: bytes, key_id: bytes, label: str) -> None:
    """Write the certificate as a public token object carrying the key's CKA_ID."""
    cert = x509.Certificate.load(der)
    session.create_object({
        Attribute.CLASS: ObjectClass.CERTIFICATE,
        Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
        Attribute.TOKEN: True,
        Attribute.PRIVATE: False,
        Attribute.LABEL: label,
        Attribute.ID: key_id,
        Attribute.SUBJECT: cert.subject.dump(),
        Attribute.ISSUER: cert.issuer.dump(),
        Attribute.SERIAL_NUMBER: cert["tbs_certificate"]["serial_number"].dump(),
        Attribute.VALUE: der,
    })
