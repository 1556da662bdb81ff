"""A registration office for issuance tests: its own SoftHSM2 tokens, database and CA in tmp_path.

The commands are registered on a local typer app exactly as pipeline/cli/main.py registers them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from pipeline.cli.issue import register
from tests.test_tokens_softhsm import softhsm_conf
from tokens.module import unload_all

ORDER = "00202009200000604"


def run(*args: str) -> Result:
    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, list(args))


@pytest.fixture()
def office(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """chdir into tmp_path with its own tokens and database, and an issuing CA made there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOFTHSM2_CONF", str(softhsm_conf(tmp_path / "softhsm")))
    monkeypatch.setenv("PRECHECK_DATABASE_URL", f"sqlite:///{tmp_path / 'precheck.db'}")
    for name in ("PRECHECK_CA_PIN", "PRECHECK_PKCS11_MODULE", "PRECHECK_CA_LABEL"):
        monkeypatch.delenv(name, raising=False)
    result = run("ca", "init")
    assert result.exit_code == 0, result.output
    yield tmp_path
    unload_all()
