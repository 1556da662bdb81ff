"""Putting a certificate on a token, so that any crash leaves a state the next run completes.

Every step is written to a journal *before* the step whose loss would strand the token:
the SO PIN (sealed by the CA token) before the token is initialised with it, the certificate
before it is written to the token. A re-run reads the journal and the token (found by its
label) and does only what is missing. The user PIN is set afresh by the SO on every run
that has not yet handed one over, so it never needs to be kept anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from asn1crypto import x509
from pkcs11 import Attribute, ObjectClass

from tokens.ca import CertificateAuthority
from tokens.certs import (
    KeySpec,
    Subject,
    TokenSigner,
    build_csr,
    certificate_objects,
    generate_keypair,
    private_keys,
    public_key_for,
    public_key_info,
    store_certificate,
)
from tokens.errors import TokenStateError
from tokens.module import Pkcs11Module, serial_of
from tokens.pins import SO_PIN, USER_PIN, PinPolicy


@dataclass(frozen=True)
class JournalEntry:
    """What the journal knows of one label's issuance so far."""

    label: str
    sealed_so_pin: bytes
    token_serial: str | None = None
    certificate_der: bytes | None = None
    completed: bool = False


class Journal(Protocol):
    """Durable record of issuance steps (the application's register implements it)."""

    def entry(self, label: str) -> JournalEntry | None: ...

    def token_prepared(self, label: str, sealed_so_pin: bytes, key: KeySpec) -> None: ...

    def certificate_issued(self, label: str, token_serial: str, key_id: bytes, certificate_der: bytes) -> None: ...

    def completed(self, label: str, token_serial: str, certificate_der: bytes) -> None: ...


@dataclass(frozen=True)
class Issued:
    label: str
    token_serial: str
    certificate_der: bytes
    already: bool
    """True when an earlier run had completed: the same certificate, no new PIN."""


PinDelivery = Callable[[str, str], None]
"""Called once with (user PIN, token serial) after the certificate is on the token."""


class Issuer:
    """Issues onto tokens of ``module``; certificates come from ``ca``; steps go to ``journal``."""

    def __init__(self, module: Pkcs11Module, ca: CertificateAuthority, journal: Journal, *,
                 user_pins: PinPolicy = USER_PIN, so_pins: PinPolicy = SO_PIN,
                 progress: Callable[[str], None] | None = None) -> None:
        self.module, self.ca, self.journal = module, ca, journal
        self.user_pins, self.so_pins = user_pins, so_pins
        self.progress = progress or (lambda step: None)

    def issue(self, label: str, subject: Subject, validity_months: int, key: KeySpec,
              deliver_pin: PinDelivery) -> Issued:
        entry = self.journal.entry(label)
        if entry is not None and entry.completed and entry.certificate_der and entry.token_serial:
            return self._already(entry)
        token = self.module.find(label)
        if entry is None and token is not None:
            raise TokenStateError(f"a token labelled {label!r} exists but the journal has no record of it",
                                  "check the register (database) in use; never re-initialise a token blindly")
        if entry is None:
            so_pin = self.so_pins.generate()
            self.journal.token_prepared(label, self.ca.seal(so_pin.encode()), key)
        else:
            so_pin = self.ca.unseal(entry.sealed_so_pin).decode()
        if token is None:
            token = self.module.initialise(self.module.blank_token(), label, so_pin)
            self.progress("token_initialised")
        token_serial = serial_of(token)
        if entry is not None and entry.token_serial and entry.token_serial != token_serial:
            raise TokenStateError(f"the token labelled {label!r} is {token_serial}, the register says "
                                  f"{entry.token_serial}", "insert the token the register names")
        user_pin = self.user_pins.generate()
        with self.module.session(token, so_pin=so_pin, rw=True) as session:
            session.init_pin(user_pin)
        del so_pin
        with self.module.session(token, user_pin=user_pin, rw=True) as session:
            found = private_keys(session)
            if len(found) > 1:
                raise TokenStateError(f"the token {label!r} holds {len(found)} private keys")
            private = found[0] if found else generate_keypair(session, key, label)
            if not found:
                self.progress("key_generated")
            public = public_key_for(session, private)
            on_token = certificate_objects(session, private.id)
            der = entry.certificate_der if entry is not None else None
            if der is None and on_token:
                der = bytes(on_token[0][Attribute.VALUE])
            if der is None:
                der = self.ca.issue(build_csr(subject, public, TokenSigner(private)), subject, validity_months)
                self.journal.certificate_issued(label, token_serial, private.id, der)
                self.progress("certificate_issued")
            if x509.Certificate.load(der).public_key.dump() != public_key_info(public).dump():
                raise TokenStateError(f"the certificate recorded for {label!r} is not for the key on the token")
            if not on_token:
                store_certificate(session, der, private.id, label)
                self.progress("certificate_written")
        deliver_pin(user_pin, token_serial)
        self.progress("pin_delivered")
        self.journal.completed(label, token_serial, der)
        return Issued(label=label, token_serial=token_serial, certificate_der=der, already=False)

    def _already(self, entry: JournalEntry) -> Issued:
        """The recorded certificate; when the token is still here, it must carry that certificate."""
        assert entry.certificate_der is not None and entry.token_serial is not None
        token = self.module.find(entry.label)
        if token is not None:
            with self.module.session(token) as session:
                values = [bytes(c[Attribute.VALUE]) for c in
                          session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})]
            if entry.certificate_der not in values:
                raise TokenStateError(f"the token labelled {entry.label!r} does not carry the registered certificate")
        return Issued(label=entry.label, token_serial=entry.token_serial,
                      certificate_der=entry.certificate_der, already=True)
