"""Random PINs that a person can type and an attacker cannot guess from a list.

The user PIN is typed on a keypad-less UKey by its holder, so it is digits only; the SO PIN
is never typed by a person (the registration office unlocks tokens with it through software),
so it is long and alphanumeric. Well-known defaults such as 12345678 — the PIN the seed's own
guide tells users their UKey ships with — are never produced.
"""

from __future__ import annotations

import itertools
import secrets
import string
from dataclasses import dataclass

#: Factory defaults and patterns that appear on every "common PINs" list.
WELL_KNOWN: frozenset[str] = frozenset(
    {"12345678", "87654321", "00000000", "11111111", "88888888", "66666666", "123456", "111111",
     "000000", "666666", "888888", "1234567890", "12341234", "11223344", "20202020"}
)


@dataclass(frozen=True)
class PinPolicy:
    """How long a PIN is and which characters it uses."""

    length: int = 8
    alphabet: str = string.digits

    def __post_init__(self) -> None:
        if self.length < 6 or len(set(self.alphabet)) < 10:
            raise ValueError("a PIN needs at least 6 characters from at least 10 symbols")

    def generate(self) -> str:
        """A fresh random PIN from the OS's CSPRNG that passes :meth:`acceptable`."""
        while True:
            pin = "".join(secrets.choice(self.alphabet) for _ in range(self.length))
            if self.acceptable(pin):
                return pin

    def acceptable(self, pin: str) -> bool:
        """Right length and alphabet, not well known, not one repeated or stepped pattern."""
        if len(pin) != self.length or any(c not in self.alphabet for c in pin):
            return False
        return pin not in WELL_KNOWN and not _trivial(pin)


def _trivial(pin: str) -> bool:
    """Same character throughout, or a run stepping by +1/-1 (123456…, 987654…)."""
    if len(set(pin)) == 1:
        return True
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(pin)}
    return steps in ({1}, {-1})


USER_PIN = PinPolicy(length=8, alphabet=string.digits)
SO_PIN = PinPolicy(length=16, alphabet=string.ascii_letters + string.digits)
