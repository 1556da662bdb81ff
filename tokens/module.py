"""One PKCS#11 module and the tokens it offers: load, find, initialise, log in.

The token a certificate goes onto is found through :class:`TokenSource`. With SoftHSM2 a
"blank token" is the uninitialised slot SoftHSM2 always offers, so every issuance makes a
fresh token; with a real UKey module it is the inserted key. Everything above this module
only sees labels, serials and sessions, so a real UKey's module drops in by path.

python-pkcs11 has no C_InitToken, so :meth:`Pkcs11Module.initialise` calls it through the
module's own function list (ctypes); the PIN goes straight from memory to the module.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import pkcs11
from pkcs11 import exceptions as p11x
from pkcs11.constants import TokenFlag

from tokens.errors import (
    ModuleUnavailable,
    TokenFailure,
    TokenLocked,
    TokenNotFound,
    TokenStateError,
    WrongPin,
)

DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
_LABEL_BYTES = 32


class TokenSource(Protocol):
    """Where tokens come from: a fresh one to initialise, or one already carrying a label."""

    def blank_token(self) -> pkcs11.Token: ...

    def find(self, label: str) -> pkcs11.Token | None: ...


class Pkcs11Module:
    """A loaded PKCS#11 module; errors come out as :class:`~tokens.errors.TokenFailure`."""

    def __init__(self, path: str | Path = DEFAULT_MODULE) -> None:
        self.path = str(path)
        if not Path(self.path).is_file():
            raise ModuleUnavailable(
                f"PKCS#11 module {self.path} not found",
                "install softhsm2 (apt-get install softhsm2) or set PRECHECK_PKCS11_MODULE to the UKey's module",
            )
        try:
            self.lib = pkcs11.lib(self.path)
        except p11x.PKCS11Error as exc:
            raise ModuleUnavailable(f"PKCS#11 module {self.path} failed to load: {exc}") from None

    # ------------------------------------------------------------------ tokens
    def tokens(self) -> list[pkcs11.Token]:
        with translate("list tokens"):
            return [slot.get_token() for slot in self.lib.get_slots(token_present=True)]

    def find(self, label: str) -> pkcs11.Token | None:
        """The initialised token carrying ``label``; two such tokens are an error, not a guess."""
        found = [t for t in self.tokens() if t.flags & TokenFlag.TOKEN_INITIALIZED and t.label == label]
        if len(found) > 1:
            raise TokenStateError(f"{len(found)} tokens carry the label {label!r}", "remove all but one")
        return found[0] if found else None

    def blank_token(self) -> pkcs11.Token:
        for token in self.tokens():
            if not token.flags & TokenFlag.TOKEN_INITIALIZED:
                return token
        raise TokenNotFound("no blank token is present", "insert a new UKey (or check the module's slots)")

    def initialise(self, token: pkcs11.Token, label: str, so_pin: str) -> pkcs11.Token:
        """C_InitToken: give ``token`` its label and SO PIN; return it as the module now lists it."""
        encoded = label.encode("utf-8")
        if len(encoded) > _LABEL_BYTES:
            raise TokenStateError(f"token label {label!r} is longer than {_LABEL_BYTES} bytes")
        pin = so_pin.encode("utf-8")
        init = _function_list(self.path).C_InitToken
        rv = init(token.slot.slot_id, pin, len(pin), encoded.ljust(_LABEL_BYTES, b" "))
        if rv:
            raise _failure_for_rv(rv, f"initialising a token as {label!r}")
        fresh = self.find(label)
        if fresh is None:
            raise TokenStateError(f"the module does not list the token just initialised as {label!r}")
        return fresh

    # ---------------------------------------------------------------- sessions
    @contextmanager
    def session(self, token: pkcs11.Token, *, user_pin: str | None = None, so_pin: str | None = None,
                rw: bool = False) -> Iterator[pkcs11.Session]:
        """A session on ``token``, logged in when a PIN is given; a locked PIN fails before trying."""
        _refuse_if_locked(token, so=so_pin is not None, user=user_pin is not None)
        with translate(f"opening a session on token {token.label!r}"):
            session = token.open(rw=rw, user_pin=user_pin, so_pin=so_pin)
        try:
            with translate(f"working on token {token.label!r}"):
                yield session
        finally:
            with translate(f"closing the session on token {token.label!r}"):
                session.close()

    def finalize(self) -> None:
        with translate("finalising the module"):
            self.lib.finalize()


def serial_of(token: pkcs11.Token) -> str:
    return token.serial.decode("ascii", "replace").strip()


def _refuse_if_locked(token: pkcs11.Token, *, so: bool, user: bool) -> None:
    flags = token.flags
    if user and flags & TokenFlag.USER_PIN_LOCKED:
        raise TokenLocked(f"token {token.label!r} ({serial_of(token)}): the user PIN is locked",
                          "the registration office must unlock it with the SO PIN (business type unlock)")
    if so and flags & TokenFlag.SO_PIN_LOCKED:
        raise TokenLocked(f"token {token.label!r} ({serial_of(token)}): the SO PIN is locked",
                          "the token cannot be administered any more; issue onto a new token")


@contextmanager
def translate(action: str) -> Iterator[None]:
    """Turn python-pkcs11's exceptions into TokenFailure subclasses naming the action."""
    try:
        yield
    except p11x.PinIncorrect:
        raise WrongPin(f"{action}: the PIN is wrong", "check the PIN; repeated wrong PINs lock a UKey") from None
    except p11x.PinLocked:
        raise TokenLocked(f"{action}: the PIN is locked", "unlock the token with its SO PIN") from None
    except (p11x.TokenNotPresent, p11x.DeviceRemoved, p11x.TokenNotRecognised):
        raise TokenNotFound(f"{action}: the token is not present", "insert the UKey again") from None
    except p11x.UserPinNotInitialized:
        raise TokenStateError(f"{action}: the token has no user PIN yet") from None
    except p11x.PKCS11Error as exc:
        raise TokenFailure(f"{action}: {type(exc).__name__} {exc}".strip()) from None


def _failure_for_rv(rv: int, action: str) -> TokenFailure:
    if rv == 0xA0:  # CKR_PIN_INCORRECT
        return WrongPin(f"{action}: the SO PIN is wrong")
    if rv == 0xA4:  # CKR_PIN_LOCKED
        return TokenLocked(f"{action}: the SO PIN is locked")
    return TokenFailure(f"{action}: the module returned CKR 0x{rv:X}")


# ---------------------------------------------------------------- C_InitToken via ctypes
_CK_RV = ctypes.c_ulong
_InitToken = ctypes.CFUNCTYPE(_CK_RV, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)


class _FunctionList(ctypes.Structure):
    # CK_FUNCTION_LIST starts with CK_VERSION, then C_Initialize ... C_InitToken is the 10th entry.
    _fields_ = [("version", ctypes.c_ubyte * 2), *((f"f{i}", ctypes.c_void_p) for i in range(9)),
                ("C_InitToken", _InitToken)]


_FUNCTION_LISTS: dict[str, _FunctionList] = {}


def _function_list(path: str) -> _FunctionList:
    """The module's CK_FUNCTION_LIST; dlopen returns the handle python-pkcs11 already initialised."""
    if path not in _FUNCTION_LISTS:
        dll = ctypes.CDLL(path)
        pointer = ctypes.POINTER(_FunctionList)()
        if dll.C_GetFunctionList(ctypes.byref(pointer)):
            raise ModuleUnavailable(f"{path}: C_GetFunctionList failed")
        _FUNCTION_LISTS[path] = pointer.contents
    return _FUNCTION_LISTS[path]


# ---------------------------------------------------------------- one module per process
_LOADED: dict[str, tuple[tuple[str, ...], Pkcs11Module]] = {}


def load_module(path: str | Path = DEFAULT_MODULE) -> Pkcs11Module:
    """The process's instance of the module at ``path``.

    A module reads its configuration (SoftHSM2: ``SOFTHSM2_CONF``) once, at C_Initialize; when
    that environment changed since, the module is finalised and loaded again.
    """
    key = str(path)
    environment = tuple(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("SOFTHSM2_"))
    cached = _LOADED.get(key)
    if cached and cached[0] == environment:
        return cached[1]
    if cached:
        cached[1].finalize()
    module = Pkcs11Module(key)
    _LOADED[key] = (environment, module)
    return module


def unload_all() -> None:
    """Finalise every loaded module, so the next load reads configuration and token files afresh."""
    for _, module in _LOADED.values():
        module.finalize()
    _LOADED.clear()
