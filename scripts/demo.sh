#!/usr/bin/env bash
# README command 1: set everything up, then run the main job on the embedded defaults —
# generate the demo cases, review them all, print the summary and write the reports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cases=var/demo/cases
reports=var/demo/reports
rm -rf "$cases" "$reports"
echo "==> generating demo cases into $cases"
.venv/bin/python -m fixtures.scans.generate "$cases"
echo "==> reviewing every case"
status=0
.venv/bin/precheck review "$cases" --out "$reports" || status=$?
echo "==> JSON and HTML reports: $reports/<case>/report.json, report.html"
exit "$status"
