"""precheck's own commands run as real processes (``python -m pipeline …``) for the service tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.services import free_port

REPO = Path(__file__).resolve().parents[1]


def environment(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), **extra}
    return env


def precheck(cwd: Path, *args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


@contextmanager
def process(cwd: Path, *args: str, env: dict[str, str], log: str) -> Iterator[subprocess.Popen[bytes]]:
    """A long-running precheck command, stopped (SIGTERM, then SIGKILL) when the block ends."""
    with open(cwd / log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def served(cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """``precheck serve`` on a free loopback port; yields its base URL once /healthz answers."""
    port = free_port()
    with process(cwd, "serve", "--port", str(port), env=env, log="serve.log") as proc:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (cwd / "serve.log").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "precheck serve did not answer within 60 s"
            time.sleep(0.2)
        yield base


def new_key(cwd: Path, env: dict[str, str], role: str = "submitter") -> str:
    result = precheck(cwd, "apikey", "create", "--role", role, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def submit_folder(base: str, key: str, folder: Path) -> str:
    files = [("case", ("case.json", (folder / "case.json").read_bytes(), "application/json"))]
    files += [(p.name.split(".")[0], (p.name, p.read_bytes(), "application/octet-stream"))
              for p in sorted((folder / "uploads").iterdir())]
    answer = httpx.post(f"{base}/api/cases", files=files, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def wait_report(base: str, key: str, case_id: str, timeout: float = 180) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = httpx.get(f"{base}/api/cases/{case_id}/report", headers={"Authorization": f"Bearer {key}"},
                           timeout=10)
        if answer.status_code == 200:
            return dict(answer.json())
        assert answer.status_code == 202, answer.text
        time.sleep(0.3)
    raise AssertionError(f"no report for case {case_id} within {timeout} s")


def expected_decision(folder: Path) -> str:
    return str(json.loads((folder / "expected.json").read_text())["decision"])
