"""PIN policy: random, typeable, never a well-known default."""

from __future__ import annotations

import pytest

from tokens.pins import SO_PIN, USER_PIN, WELL_KNOWN, PinPolicy


def test_generated_user_pins_are_eight_digits_and_never_a_well_known_default() -> None:
    pins = {USER_PIN.generate() for _ in range(2000)}
    assert all(len(p) == 8 and p.isdigit() for p in pins)
    assert not pins & WELL_KNOWN
    assert "12345678" not in pins
    assert len(pins) > 1990  # random: collisions among 2000 draws from 10^8 are rare


def test_so_pins_are_long_and_alphanumeric() -> None:
    pin = SO_PIN.generate()
    assert len(pin) == 16 and pin.isalnum()


@pytest.mark.parametrize("pin", ["12345678", "87654321", "00000000", "77777777", "23456789", "98765432"])
def test_well_known_repeated_and_stepped_pins_are_not_acceptable(pin: str) -> None:
    assert not USER_PIN.acceptable(pin)


def test_a_pin_of_the_wrong_length_or_alphabet_is_not_acceptable() -> None:
    assert not USER_PIN.acceptable("1357913")
    assert not USER_PIN.acceptable("1357913a")
    assert USER_PIN.acceptable("13579135")


def test_a_policy_too_weak_to_resist_guessing_cannot_be_made() -> None:
    with pytest.raises(ValueError):
        PinPolicy(length=4)
    with pytest.raises(ValueError):
        PinPolicy(length=8, alphabet="0123")
