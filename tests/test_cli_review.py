"""The review command's faces: exit codes, JSON on stdout, reports on disk, parallel folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.casedata import case_dict, write_case


def precheck(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def test_a_case_without_uploads_is_rejected_with_exit_1_and_the_report_is_the_only_stdout(tmp_path: Path) -> None:
    folder = write_case(tmp_path / "case")
    result = precheck("review", str(folder), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["decision"] == "rejected"
    assert report["rule_set"]["id"] == "lnzc-employee-ukey" and len(report["rule_set"]["sha256"]) == 64
    missing = {f["slot"] for f in report["findings"] if f["rule"] == "upload.missing" and f["status"] == "fail"}
    assert missing == {"application_form", "seal_form", "authorization", "org_license", "handler_id", "employee_id"}
    assert all(set(f) >= {"rule", "slot", "status", "message", "evidence"} for f in report["findings"])


def test_out_writes_a_json_and_an_html_report_a_browser_can_open_offline(tmp_path: Path) -> None:
    folder = write_case(tmp_path / "case", case_dict(**{"handler.mobile": "123"}))
    result = precheck("review", str(folder), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    saved = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert saved["order_no"] in html and "不通过" in html and "手机号码" in html
    assert "http://" not in html and "https://" not in html


def test_a_missing_path_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    result = precheck("review", str(tmp_path / "nowhere"))
    assert result.returncode == 3 and "Traceback" not in result.stderr and "nowhere" in result.stderr


def test_reviewing_a_folder_in_parallel_gives_the_same_reports_as_one_by_one(tmp_path: Path) -> None:
    for i, mobile in enumerate(["13912345678", "123", "13512345678"]):
        write_case(tmp_path / "cases" / f"case-{i}", case_dict(**{"handler.mobile": mobile}))
    one = precheck("review", str(tmp_path / "cases"), "--json")
    two = precheck("review", str(tmp_path / "cases"), "--json", "--jobs", "2")
    assert one.returncode == two.returncode == 0

    def decisions(out: str) -> dict[str, list[str]]:
        reports = [json.loads(line) for line in out.splitlines()]
        return {r["case_name"]: sorted(f["rule"] for f in r["findings"] if f["status"] == "fail") for r in reports}

    assert decisions(one.stdout) == decisions(two.stdout)
    assert "data.mobile" in decisions(one.stdout)["case-1"]


def test_the_folder_summary_table_lists_every_case_with_its_decision(tmp_path: Path) -> None:
    write_case(tmp_path / "cases" / "only-case")
    result = precheck("review", str(tmp_path / "cases"))
    assert result.returncode == 0
    assert "only-case" in result.stdout and "rejected" in result.stdout and "upload.missing" in result.stdout


def test_a_process_that_loads_precheck_first_runs_opencv_on_one_thread() -> None:
    # a review is one case on one core: cases run side by side in processes
    code = "import pipeline, cv2; print(cv2.getNumThreads())"
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_FOR_THREADS_NUM"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "1"
