"""Auditors' views: a case's whole rule report with its history and the chain's verdict, and the
statistics (decisions per day, fail and uncertain rate per rule, review times, share automated)
as SVG drawn here and as CSV."""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from sqlalchemy import select

from pipeline.models import Report
from pipeline.report import BEIJING, view_context
from pipeline.ruleset import RuleSet
from pipeline.service import actions, audit
from pipeline.service.keys import Role
from pipeline.service.store import Store, StoredCase
from pipeline.service.tables import cases, reviews
from pipeline.service.users import User
from pipeline.web.session import require, signed_in

AUDITORS = (Role.AUDITOR, Role.ADMIN)
DAYS = 30
SignedIn = Annotated[User, Depends(signed_in)]
_RANK = {"fail": 0, "uncertain": 1, "skipped": 2, "pass": 3}


def router(store: Store, rules: RuleSet, page: Callable[..., Response],
           case_data: Callable[[Store, StoredCase, Report | None], dict[str, Any]],
           report_of: Callable[[StoredCase], Report | None]) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/cases/{case_id}/audit")
    @r.get("/cases/{case_id}/audit.json")
    def case_audit(request: Request, user: SignedIn,
                   case_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]) -> Response:
        require(user, *AUDITORS)
        case = store.case(case_id)
        report = report_of(case)
        verdict = audit.verify(store.engine)
        data = {**case_data(store, case, report), "reviews": review_history(store, case_id),
                "events": actions.case_events(store, case),
                "chain": {"intact": verdict.intact, "events": verdict.events, "first_bad": verdict.first_bad,
                          "problem": verdict.problem}}
        view = view_context(report, rules) if report else {}
        context = {**view, "case": case, "report_view": view or None}
        return page(request, user, "audit.html", data, context)

    @r.get("/stats")
    @r.get("/stats.json")
    def stats_page(request: Request, user: SignedIn) -> Response:
        require(user, *AUDITORS)
        data = statistics_of(store, rules)
        return page(request, user, "stats.html", data, {"charts": charts(data)})

    @r.get("/stats.csv")
    def stats_csv(user: SignedIn) -> Response:
        require(user, *AUDITORS)
        data = statistics_of(store, rules)
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["section", "key", "metric", "value"])
        for day in data["per_day"]:
            for k, v in day.items():
                if k != "day":
                    w.writerow(["decisions_per_day", day["day"], k, v])
        for row in data["per_rule"]:
            for k in ("fail", "uncertain", "total", "fail_rate", "uncertain_rate"):
                w.writerow(["per_rule", row["rule"], k, row[k]])
        for k, v in data["summary"].items():
            w.writerow(["summary", "", k, v])
        return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="precheck-stats.csv"'})

    return r


def review_history(store: Store, case_id: str) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(reviews).where(reviews.c.case_id == case_id).order_by(reviews.c.id)).mappings()
        return [{"review_key": r["review_key"], "state": r["state"], "decision": r["decision"], "worker": r["worker"],
                 "attempts": r["attempts"], "rule_set_sha256": r["rule_set_sha256"], "error": r["error"],
                 "started_at": _iso(r["started_at"]), "finished_at": _iso(r["finished_at"]),
                 "duration_ms": r["duration_ms"]} for r in rows]


def statistics_of(store: Store, rules: RuleSet) -> dict[str, Any]:
    """Figures over the last ``DAYS`` days (Beijing days): each finished review counts once; a rule's fail
    (uncertain) rate is the share of reviewed cases in which it failed (was uncertain) on any slot."""
    since = datetime.now(UTC) - timedelta(days=DAYS)
    done = actions.review_rows(store, since)
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    per_rule: dict[str, Counter[str]] = defaultdict(Counter)
    durations = []
    for row in done:
        day = _day(row["finished_at"])
        per_day[day][f"review_{row['decision']}"] += 1
        if row["duration_ms"] is not None:
            durations.append(row["duration_ms"])
        try:
            findings = json.loads(row["report_json"] or "{}").get("findings", [])
        except ValueError:
            findings = []
        # per case: a rule that failed on any slot failed the case; else uncertain on any slot is uncertain
        worst: dict[str, str] = {}
        for f in findings:
            if isinstance(f, dict) and isinstance(f.get("rule"), str):
                status, seen = str(f.get("status")), worst.get(f["rule"])
                if seen is None or _RANK.get(status, 9) < _RANK.get(seen, 9):
                    worst[f["rule"]] = status
        for rule_id, status in worst.items():
            per_rule[rule_id]["total"] += 1
            per_rule[rule_id][status] += 1
    with store.engine.connect() as conn:
        created = {r.id: r.created_at for r in conn.execute(select(cases.c.id, cases.c.created_at))}
    waits = []
    for a in actions.all_actions(store):
        if a.at >= since:
            per_day[_day(a.at)][f"clerk_{a.action}"] += 1
            if a.case_id in created:
                start = created[a.case_id] if created[a.case_id].tzinfo else created[a.case_id].replace(tzinfo=UTC)
                waits.append((a.at - start).total_seconds())
    decided = sum(1 for r in done if r["decision"] in ("approved", "rejected", "needs_review"))
    automated = sum(1 for r in done if r["decision"] == "approved")
    rule_rows = [{"rule": rid, "title": rules.rules[rid].title if rid in rules.rules else "",
                  "fail": c["fail"], "uncertain": c["uncertain"], "total": c["total"],
                  "fail_rate": round(c["fail"] / c["total"], 4),
                  "uncertain_rate": round(c["uncertain"] / c["total"], 4)}
                 for rid, c in sorted(per_rule.items()) if c["total"]]
    return {
        "days": DAYS,
        "per_day": [{"day": d, **dict(c)} for d, c in sorted(per_day.items())],
        "per_rule": rule_rows,
        "summary": {
            "reviews": decided,
            "median_review_seconds": round(statistics.median(durations) / 1000, 2) if durations else None,
            "median_seconds_to_clerk_action": round(statistics.median(waits), 1) if waits else None,
            "share_automated": round(automated / decided, 4) if decided else None,
        },
    }


SERIES = (("review_approved", "自动通过", "#2e7d32"), ("review_rejected", "自动不通过", "#c62828"),
          ("review_needs_review", "转人工", "#c77700"), ("clerk_approved", "审核员通过", "#1565c0"),
          ("clerk_rejected", "审核员退回", "#6a1b9a"), ("clerk_upload_requested", "要求补传", "#00838f"))


def charts(data: dict[str, Any]) -> dict[str, Any]:
    """Geometry for the SVG charts (drawn by the template): stacked bars per day, bars per rule."""
    days = data["per_day"]
    peak = max([sum(d.get(k, 0) for k, _, _ in SERIES) for d in days] + [1])
    width = max(8, len(days))  # a few days do not make bars as wide as the chart
    bars = []
    for i, d in enumerate(days):
        y = 200.0
        for key, label, colour in SERIES:
            n = d.get(key, 0)
            if n:
                h = 180.0 * n / peak
                y -= h
                bars.append({"x": 40 + i * 640 / width, "y": y, "w": max(2.0, 640 / width * 0.7), "h": h,
                             "colour": colour, "title": f"{d['day']} {label}: {n}"})
    labels = [{"x": 40 + (i + 0.35) * 640 / width, "text": d["day"][5:]} for i, d in enumerate(days)]
    rules = sorted(data["per_rule"], key=lambda r: -(r["fail_rate"] + r["uncertain_rate"]))
    return {"series": SERIES, "bars": bars, "labels": labels, "peak": peak, "rules": rules}


def _day(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(BEIJING).date().isoformat()


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()
