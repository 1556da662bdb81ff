"""The issuing CA: its own key on its own token, created once, used to sign every certificate.

The CA token's SO PIN is random and thrown away after set-up: nobody can re-initialise (and so
wipe) the CA token through PKCS#11. The CA token also holds an AES key that seals small secrets
of the registration office (the SO PINs of issued UKeys) so they are never stored in clear.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pkcs11
from asn1crypto import csr as asn1_csr
from asn1crypto import x509
from cryptography import x509 as cx509
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.mechanisms import GCMParams

from tokens.certs import (
    KeySpec,
    Subject,
    TokenSigner,
    add_months,
    build_certificate,
    ca_extensions,
    certificate_objects,
    end_entity_extensions,
    generate_keypair,
    private_keys,
    public_key_for,
    public_key_info,
    random_serial,
    store_certificate,
)
from tokens.errors import TokenNotFound, TokenStateError
from tokens.module import Pkcs11Module
from tokens.pins import SO_PIN

CA_LABEL = "precheck-ca"
SEAL_LABEL = "precheck-seal"
DEFAULT_CA_SUBJECT = Subject(common_name="precheck Issuing CA", organization="precheck", country="CN")


class CertificateAuthority:
    """Signs certificates with the key on the token labelled ``label``, logged in with ``pin``."""

    def __init__(self, module: Pkcs11Module, pin: str, label: str = CA_LABEL) -> None:
        token = module.find(label)
        if token is None:
            raise TokenNotFound(f"no CA token labelled {label!r}", "run `precheck ca init` once")
        self.module, self.token, self._pin, self.label = module, token, pin, label

    # ------------------------------------------------------------------ set-up
    @classmethod
    def ensure(cls, module: Pkcs11Module, pin: str, *, label: str = CA_LABEL,
               subject: Subject = DEFAULT_CA_SUBJECT, key: KeySpec = KeySpec.EC_P256,
               years: int = 10) -> tuple[CertificateAuthority, bool]:
        """Create whatever of the CA is missing; return it and whether anything was created."""
        created = False
        token = module.find(label)
        if token is None:
            so_pin = SO_PIN.generate()
            token = module.initialise(module.blank_token(), label, so_pin)
            with module.session(token, so_pin=so_pin, rw=True) as session:
                session.init_pin(pin)
            del so_pin
            created = True
        with module.session(token, user_pin=pin, rw=True) as session:
            found = private_keys(session)
            if len(found) > 1:
                raise TokenStateError(f"the CA token {label!r} holds {len(found)} private keys")
            private = found[0] if found else generate_keypair(session, key, label)
            if not certificate_objects(session, private.id):
                store_certificate(session, _self_signed(session, private, subject, years), private.id, label)
                created = True
            if not list(session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY,
                                              Attribute.LABEL: SEAL_LABEL})):
                session.generate_key(KeyType.AES, 256, label=SEAL_LABEL, store=True,
                                     template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False})
                created = True
        return cls(module, pin, label), created or not found

    # --------------------------------------------------------------- reading
    def certificate(self) -> bytes:
        """The CA certificate (DER), read without logging in: it is a public object."""
        with self.module.session(self.token) as session:
            certs = list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}))
            if len(certs) != 1:
                raise TokenStateError(f"the CA token {self.label!r} holds {len(certs)} certificates",
                                      "run `precheck ca init` to finish setting it up")
            return bytes(certs[0][Attribute.VALUE])

    # --------------------------------------------------------------- issuing
    def issue(self, request_der: bytes, subject: Subject, validity_months: int,
              now: datetime | None = None) -> bytes:
        """Sign a certificate for the key in ``request_der`` with ``subject`` (not the CSR's)."""
        request = cx509.load_der_x509_csr(request_der)
        if not request.is_signature_valid:
            raise TokenStateError("the certificate request's signature does not verify",
                                  "the token did not sign with the key it claims")
        spki = asn1_csr.CertificationRequest.load(request_der)["certification_request_info"]["subject_pk_info"]
        issuer_cert = x509.Certificate.load(self.certificate())
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        with self.module.session(self.token, user_pin=self._pin) as session:
            signer = TokenSigner(self._key(session))
            return build_certificate(
                serial=random_serial(), issuer=issuer_cert.subject, subject=subject.name(), spki=spki,
                not_before=now, not_after=add_months(now, validity_months),
                extensions=end_entity_extensions(subject, spki, issuer_cert.key_identifier),
                signer=signer)

    # ---------------------------------------------------------------- sealing
    def seal(self, secret: bytes) -> bytes:
        """AES-256-GCM on the CA token: nonce (12 bytes) + ciphertext + tag."""
        nonce = secrets.token_bytes(12)
        with self.module.session(self.token, user_pin=self._pin) as session:
            sealed = self._seal_key(session).encrypt(secret, mechanism=Mechanism.AES_GCM,
                                                     mechanism_param=GCMParams(nonce))
        return nonce + bytes(sealed)

    def unseal(self, blob: bytes) -> bytes:
        with self.module.session(self.token, user_pin=self._pin) as session:
            return bytes(self._seal_key(session).decrypt(blob[12:], mechanism=Mechanism.AES_GCM,
                                                         mechanism_param=GCMParams(blob[:12])))

    def _key(self, session: pkcs11.Session) -> pkcs11.PrivateKey:
        found = private_keys(session)
        if len(found) != 1:
            raise TokenStateError(f"the CA token {self.label!r} holds {len(found)} private keys")
        return found[0]

    def _seal_key(self, session: pkcs11.Session) -> Any:
        """The AES key (an EncryptMixin/DecryptMixin at run time; the stubs do not say so)."""
        try:
            return session.get_key(ObjectClass.SECRET_KEY, KeyType.AES, label=SEAL_LABEL)
        except pkcs11.NoSuchKey:
            raise TokenStateError(f"the CA token {self.label!r} has no sealing key",
                                  "run `precheck ca init` to finish setting it up") from None


def _self_signed(session: pkcs11.Session, private: pkcs11.PrivateKey, subject: Subject, years: int) -> bytes:
    spki = public_key_info(public_key_for(session, private))
    now = datetime.now(UTC).replace(microsecond=0)
    return build_certificate(
        serial=random_serial(), issuer=subject.name(), subject=subject.name(), spki=spki,
        not_before=now - timedelta(minutes=5), not_after=add_months(now, 12 * years),
        extensions=ca_extensions(spki), signer=TokenSigner(private))
