"""Certificates on PKCS#11 tokens (UKeys): token set-up, on-token keys, the issuing CA.

This package knows nothing of cases or rules: it takes a subject, a PIN policy and a module
path, so another registration office could use it unchanged. Failures are
:class:`~tokens.errors.TokenFailure`; the application maps them at its boundary.
"""

from tokens.ca import CA_LABEL, CertificateAuthority
from tokens.certs import KeySpec, Subject
from tokens.errors import TokenFailure, TokenLocked, TokenNotFound, TokenStateError, WrongPin
from tokens.issuer import Issued, Issuer, Journal, JournalEntry
from tokens.module import DEFAULT_MODULE, Pkcs11Module, load_module
from tokens.pinletter import PinLetter
from tokens.pins import SO_PIN, USER_PIN, PinPolicy

__all__ = [
    "CA_LABEL",
    "DEFAULT_MODULE",
    "SO_PIN",
    "USER_PIN",
    "CertificateAuthority",
    "Issued",
    "Issuer",
    "Journal",
    "JournalEntry",
    "KeySpec",
    "PinLetter",
    "PinPolicy",
    "Pkcs11Module",
    "Subject",
    "TokenFailure",
    "TokenLocked",
    "TokenNotFound",
    "TokenStateError",
    "WrongPin",
    "load_module",
]
