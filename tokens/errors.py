"""Failures of a token or its PKCS#11 module, in words an operator can act on.

``tokens/`` imports nothing from the application, so it has its own small hierarchy; the
application maps :class:`TokenFailure` to its own error (exit 4) at its boundary. Messages
never contain a PIN.
"""

from __future__ import annotations


class TokenFailure(Exception):
    """The token or its module failed; ``hint`` says what to do next."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message if not hint else f"{message} — {hint}")
        self.message = message
        self.hint = hint


class ModuleUnavailable(TokenFailure):
    """The PKCS#11 module cannot be loaded (wrong path, missing package)."""


class TokenNotFound(TokenFailure):
    """No token with the wanted label, or no blank token to initialise, is present."""


class WrongPin(TokenFailure):
    """The token refused the PIN."""


class TokenLocked(TokenFailure):
    """The token's user or SO PIN is locked after too many wrong attempts."""


class TokenStateError(TokenFailure):
    """The token holds something other than expected (two keys, a certificate for another key)."""
