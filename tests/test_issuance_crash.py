"""A crash between the issuance steps leaves a case that the next `precheck issue` completes.

The crash is real: a child process issues the case and SIGKILLs itself at the named step (the
issuer's progress hook); then the command is run again in this process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pkcs11 import Attribute, ObjectClass
from sqlalchemy import select

from pipeline.issuance.register import Register, issuance_events
from tests.casedata import case_dict, write_case
from tests.office import ORDER, run
from tokens import load_module
from tokens.certs import public_key_info
from tokens.module import DEFAULT_MODULE, unload_all

CRASHING_ISSUE = """
import os, signal, sys
from pathlib import Path
from pipeline.casefolder import load_case_folder
from pipeline.issuance.gate import IssuanceSettings, issue_case
from pipeline.issuance.register import Register
from pipeline.ruleset import load_rule_set

def crash_at(step):
    if step == sys.argv[2]:
        os.kill(os.getpid(), signal.SIGKILL)

rules = load_rule_set()
folder = load_case_folder(Path(sys.argv[1]), set(rules.slots))
issue_case(folder, rules, Register(), IssuanceSettings.from_env(), progress=crash_at)
print("no crash")
"""


def public_keys_on_token(label: str) -> list[bytes]:
    """The token's public keys (public objects: readable without the PIN nobody kept)."""
    unload_all()  # read the token files as the crashed process left them
    module = load_module(DEFAULT_MODULE)
    token = module.find(label)
    assert token is not None, f"no token labelled {label}"
    with module.session(token) as session:
        return [public_key_info(key).dump()  # type: ignore[arg-type]
                for key in session.get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY})]


def crash_while_issuing(office: Path, folder: Path, step: str) -> None:
    child = subprocess.run([sys.executable, "-c", CRASHING_ISSUE, str(folder), step], cwd=office,
                           env=dict(os.environ), capture_output=True, text=True, check=False, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr


@pytest.mark.parametrize("step", ["key_generated", "certificate_issued"])
def test_a_crash_between_key_generation_and_certificate_write_is_completed_by_the_next_issue(
        office: Path, step: str) -> None:
    # Given an approved, paid case whose issuance was killed after the step
    folder = write_case(office / "case", case_dict())
    assert run("approve", str(folder), "--clerk", "王芳").exit_code == 0
    crash_while_issuing(office, folder, step)
    keys_before = public_keys_on_token(ORDER)
    assert len(keys_before) == 1
    assert not (folder / f"pin-letter-{ORDER}.pdf").exists()  # no PIN was handed over
    # When it is issued again
    result = run("issue", str(folder), "--json")
    # Then the same token and key carry a certificate, the PIN letter is written once
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    certificate = x509.load_pem_x509_certificate(data["certificate_pem"].encode())
    spki = certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert public_keys_on_token(ORDER) == keys_before == [spki]
    assert (folder / f"pin-letter-{ORDER}.pdf").exists()
    with Register().engine.connect() as conn:
        events = [row.event for row in conn.execute(
            select(issuance_events.c.event).where(issuance_events.c.order_no == ORDER)
            .order_by(issuance_events.c.id))]
    assert events == ["prepared", "certified", "completed"]  # one SO PIN, one certificate ever signed
    # And a third run returns that certificate again
    again = json.loads(run("issue", str(folder), "--json").stdout)
    assert again["serial"] == data["serial"] and again["already_issued"] is True


def test_without_a_crash_the_child_issues_normally(office: Path) -> None:
    """The harness itself: with a step name that never occurs, the child completes."""
    folder = write_case(office / "case", case_dict())
    assert run("approve", str(folder), "--clerk", "王芳").exit_code == 0
    child = subprocess.run([sys.executable, "-c", CRASHING_ISSUE, str(folder), "no-such-step"], cwd=office,
                           env=dict(os.environ), capture_output=True, text=True, check=False, timeout=120)
    assert child.returncode == 0 and "no crash" in child.stdout, child.stderr


def test_two_processes_issuing_at_once_each_get_their_own_token(office: Path) -> None:
    # Given two approved cases, when two processes issue them at the same moment
    folders = []
    for i, order in enumerate(("00202009200000604", "00202009200000605")):
        folder = write_case(office / f"case{i}", case_dict(order_no=order))
        assert run("approve", str(folder), "--clerk", "王芳").exit_code == 0
        folders.append(folder)
    children = [subprocess.Popen([sys.executable, "-c", CRASHING_ISSUE, str(f), "no-such-step"], cwd=office,
                                 env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for f in folders]
    outputs = [child.communicate(timeout=120) for child in children]
    # Then both complete, onto two different tokens
    assert [child.returncode for child in children] == [0, 0], outputs
    records = [Register().issued(order) for order in ("00202009200000604", "00202009200000605")]
    assert all(r is not None and r.completed for r in records)
    assert records[0].token_serial != records[1].token_serial  # type: ignore[union-attr]
    assert len(public_keys_on_token("00202009200000604")) == len(public_keys_on_token("00202009200000605")) == 1
