"""Issuance time per token on SoftHSM2, EC P-256 and RSA-2048: median and p95.

Each run issues one case end to end as `precheck issue` does — gate (a recorded clerk
approval), SO PIN sealed by the CA token, token initialised, key pair generated on the token,
CSR signed on it, certificate signed by the CA token, written to the token, PIN letter PDF,
register rows — and times each step through the issuer's progress hook.
Naive baseline, side by side: the same certificate made with in-memory keys (`cryptography`,
no token, no register, no letter) — the floor any token-based issuance sits on.

Usage: .venv/bin/python bench/issuance.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

STEPS = ("token_initialised", "key_generated", "certificate_issued", "certificate_written", "pin_delivered")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def token_runs(key: str, runs: int, work: Path) -> tuple[list[float], dict[str, list[float]]]:
    from pipeline.casefolder import load_case_folder
    from pipeline.issuance.gate import IssuanceSettings, issue_case, record_clerk_decision
    from pipeline.issuance.register import Register
    from pipeline.models import Decision
    from pipeline.ruleset import load_rule_set
    from tests.casedata import case_dict, write_case
    from tokens import KeySpec

    rules, register, settings = load_rule_set(), Register(), IssuanceSettings.from_env()
    totals: list[float] = []
    steps: dict[str, list[float]] = {s: [] for s in STEPS}
    for i in range(runs):
        order = f"9{key == 'rsa':d}{i:015d}"
        folder = load_case_folder(write_case(work / f"{key}-{i}", case_dict(order_no=order)), set(rules.slots))
        record_clerk_decision(register, folder, Decision.APPROVED, "bench")
        marks: list[tuple[str, float]] = []

        def mark(step: str, marks: list[tuple[str, float]] = marks) -> None:
            marks.append((step, time.perf_counter()))

        start = time.perf_counter()
        outcome = issue_case(folder, rules, register, settings, key=KeySpec(key), progress=mark)
        totals.append(time.perf_counter() - start)
        assert outcome.status == "issued", outcome.findings
        previous = start
        for step, at in marks:
            steps[step].append(at - previous)
            previous = at
    return totals, steps


def software_runs(key: str, runs: int) -> list[float]:
    """The naive floor: keys in memory, the CA key in memory, one certificate built by `cryptography`."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench CA")])
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        user_key = ec.generate_private_key(ec.SECP256R1()) if key == "ec" else rsa.generate_private_key(65537, 2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "张伟"),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, "沈阳示例科技有限公司")])
        csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(user_key, hashes.SHA256())
        now = datetime.now(UTC)
        (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca_name)
         .public_key(csr.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now).not_valid_after(now + timedelta(days=365)).sign(ca_key, hashes.SHA256()))
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "softhsm" / "tokens").mkdir(parents=True)
        conf = work / "softhsm" / "softhsm2.conf"
        conf.write_text(f"directories.tokendir = {work / 'softhsm' / 'tokens'}\nobjectstore.backend = file\n"
                        "log.level = ERROR\nslots.removable = false\n")
        os.environ["SOFTHSM2_CONF"] = str(conf)
        os.environ["PRECHECK_DATABASE_URL"] = f"sqlite:///{work / 'precheck.db'}"
        os.chdir(work)
        from pipeline.issuance.gate import IssuanceSettings

        IssuanceSettings.from_env().init_ca()
        results = {}
        for key in ("ec", "rsa"):
            totals, steps = token_runs(key, args.runs, work)
            naive = software_runs(key, args.runs)
            results[key] = {
                "runs": args.runs,
                "token_median_ms": statistics.median(totals) * 1000, "token_p95_ms": p95(totals) * 1000,
                "naive_median_ms": statistics.median(naive) * 1000, "naive_p95_ms": p95(naive) * 1000,
                "steps_median_ms": {s: statistics.median(v) * 1000 for s, v in steps.items() if v},
            }
    print(f"{'key':5} {'token median':>13} {'token p95':>10} {'naive median':>13} {'naive p95':>10} {'ratio':>6}")
    for key, r in results.items():
        ratio = r["token_median_ms"] / r["naive_median_ms"]
        print(f"{key:5} {r['token_median_ms']:11.1f}ms {r['token_p95_ms']:8.1f}ms "
              f"{r['naive_median_ms']:11.1f}ms {r['naive_p95_ms']:8.1f}ms {ratio:5.1f}x")
    for key, r in results.items():
        print(f"{key} steps (median ms): " + ", ".join(f"{s} {v:.1f}" for s, v in r["steps_median_ms"].items()))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
