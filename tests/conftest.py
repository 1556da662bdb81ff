"""Session-wide fixtures: the generated fixture cases (made once, deterministically)."""

from __future__ import annotations

from pathlib import Path

import pytest

#: Fixtures shared by several test modules.
pytest_plugins = ["tests.office"]

REAL_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "real-samples"


@pytest.fixture(scope="session")
def fixture_cases(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from fixtures.scans.generate import generate_all

    return generate_all(tmp_path_factory.mktemp("fixture-cases"))


@pytest.fixture(scope="session")
def real_samples() -> Path:
    assert REAL_SAMPLES.is_dir(), f"real samples not found at {REAL_SAMPLES} (shared/ must sit beside the repo)"
    return REAL_SAMPLES
