"""The web console of CONTRACT §6 for clerks and auditors, served by the same app as the API.

Pages are rendered on the server (Jinja2, Chinese); each answers JSON at ``<path>.json`` or with
``Accept: application/json`` for the same signed-in user. Sign-in is a session cookie
(``pipeline.web.session``); every form carries a CSRF token. Clerks' actions go through
``pipeline.service.actions`` (one audit event each); an approval or rejection is also recorded in
the issuance register, so ``precheck issue`` honours it.
"""

from __future__ import annotations

import json
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path as FsPath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware

from pipeline.casefolder import load_case_folder
from pipeline.errors import NotFound, Unprocessable
from pipeline.identifiers import mask_resident_ids
from pipeline.issuance.gate import record_clerk_decision
from pipeline.issuance.register import Register
from pipeline.models import Decision, Report
from pipeline.report import BEIJING, DECISION_ZH, STATUS_ZH, applicant_messages, view_context
from pipeline.ruleset import RuleSet
from pipeline.service import actions
from pipeline.service.keys import Role
from pipeline.service.store import Store, StoredCase
from pipeline.service.users import User, authenticate
from pipeline.web import stats
from pipeline.web.previews import PREVIEW_NAME, Previews
from pipeline.web.session import (
    SESSION_COOKIE,
    SESSION_HOURS,
    LoginThrottle,
    SignInRequired,
    check_csrf,
    csrf_token,
    require,
    secure_cookies,
    session_secret,
    signed_in,
)

log = logging.getLogger(__name__)

CLERKS = (Role.CLERK, Role.ADMIN)
READERS = (Role.CLERK, Role.AUDITOR, Role.ADMIN)
AUDITORS = (Role.AUDITOR, Role.ADMIN)
#: roles that see whole ID numbers: they compare them with the scans
SEES_IDS = (Role.CLERK, Role.ADMIN)
STATE_ZH = {"needs_review": "需人工复核", "rejected": "待通知申请人（不通过）", "approved": "通过",
            "pending": "审核中", "clerk_approved": "已由审核员通过",
            "clerk_rejected": "已退回申请人", "clerk_upload_requested": "等待补传材料"}
#: the queue's count boxes: first what waits for a person or the applicant, then the totals
COUNT_ZH = {"open_needs_review": "待人工复核", "open_rejected": "待通知申请人",
            "clerk_upload_requested": "等待补传材料", "pending": "审核中", "approved": "自动通过",
            "needs_review": "转人工（累计）", "rejected": "自动不通过（累计）", "clerk_approved": "审核员通过",
            "clerk_rejected": "已退回申请人"}
ACTION_ZH = {"approved": "审核员通过", "rejected": "退回申请人", "upload_requested": "要求补传材料"}
PREFACE = "您好，您提交的业务单号 {order_no} 的申请材料经预审存在以下问题，请修改后重新提交："

SignedIn = Annotated[User, Depends(signed_in)]
CaseRef = Annotated[str, Path(max_length=80, pattern=r"^[0-9a-f]{32}(\.json)?$")]


def install(app: FastAPI, store: Store, rules: RuleSet) -> None:
    """Add the console's routes, its session middleware and its sign-in redirect to ``app``."""
    app.add_middleware(SessionMiddleware, secret_key=session_secret(), session_cookie=SESSION_COOKIE,
                       max_age=SESSION_HOURS * 3600, same_site="strict", https_only=secure_cookies())
    app.add_exception_handler(SignInRequired, _to_sign_in)
    app.state.throttle = LoginThrottle(store.engine)
    app.include_router(_router(store, rules))


async def _to_sign_in(request: Request, exc: Exception) -> Response:
    from pipeline.web.errors import error_response

    if wants_json(request):
        return error_response(401, "unauthorized", "请先登录 / sign in first")
    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)


def wants_json(request: Request) -> bool:
    if request.url.path.endswith(".json"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


_loader = ChoiceLoader([PackageLoader("pipeline", "web/templates"), PackageLoader("pipeline", "templates")])
_env = Environment(loader=_loader, autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def page(request: Request, user: User | None, template: str, data: dict[str, Any], context: dict[str, Any],
         status: int = 200) -> Response:
    """The page, or its JSON twin (``data``), for the same user."""
    if wants_json(request):
        return JSONResponse(_masked(data, user), status_code=status)
    html = _env.get_template(template).render({
        "user": user, "csrf": csrf_token(request), "state_zh": STATE_ZH, "action_zh": ACTION_ZH, "status_zh": STATUS_ZH,
        "data": data, **context})
    if user is not None and user.role not in SEES_IDS:
        html = mask_resident_ids(html)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def _masked(data: Any, user: User | None) -> Any:
    if user is not None and user.role in SEES_IDS:
        return data
    return json.loads(mask_resident_ids(json.dumps(data, ensure_ascii=False, default=str)))


def _router(store: Store, rules: RuleSet) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    previews: Previews = Previews(store, rules)

    def case_or_404(case_id: str) -> StoredCase:
        return store.case(case_id)

    def report_of(case: StoredCase) -> Report | None:
        review = store.review(case.review_key) if case.review_key else None
        if review is None or review.state != "done" or review.report_json is None:
            return None
        try:
            return Report.model_validate_json(review.report_json)
        except ValueError:  # a review that failed after its retries stores a shorter body
            return None

    # ------------------------------------------------------------------ sign-in
    @router.get("/")
    def home() -> RedirectResponse:
        return RedirectResponse("/queue", status_code=303)

    @router.get("/login")
    def login_form(request: Request, next: str = "/queue") -> Response:
        return page(request, None, "login.html", {"signed_in": "uid" in request.session},
                    {"next": _safe_next(next), "message": ""})

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        check_csrf(request, form)
        name, password = str(form.get("username") or ""), str(form.get("password") or "")
        address = request.client.host if request.client else "?"
        throttle: LoginThrottle = request.app.state.throttle
        await run_in_threadpool(throttle.check, name, address)
        # argon2 is meant to be slow: off the event loop, which keeps answering other requests
        user = await run_in_threadpool(authenticate, store.engine, name, password) if name and password else None
        nxt = _safe_next(str(form.get("next") or "/queue"))
        if user is None:
            await run_in_threadpool(throttle.failed, name, address)
            log.info("failed sign-in for %r from %s", name, address)
            return page(request, None, "login.html", {"error": "wrong_credentials"},
                        {"next": nxt, "message": "用户名或密码错误，请重新输入。多次失败后将暂时禁止登录。",
                         "username": name}, status=401)
        await run_in_threadpool(throttle.succeeded, name)
        request.session.clear()
        request.session.update({"uid": user.id, "csrf": None})
        csrf_token(request)  # a new token for the new session
        await run_in_threadpool(store.record_event, "signed_in", actor=user.actor, case_id=None,
                                 payload={"address": address})
        return RedirectResponse(nxt, status_code=303)

    @router.post("/logout")
    async def logout(request: Request, user: SignedIn) -> Response:
        check_csrf(request, await request.form())
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # ------------------------------------------------------------------ queue
    @router.get("/queue")
    @router.get("/queue.json")
    def queue(request: Request, user: SignedIn, decision: str = "", rule: str = "", since: str = "",
              until: str = "") -> Response:
        require(user, *READERS)
        flt = actions.QueueFilter(decision=decision or None, since=_date(since, "since"),
                                  until=_date(until, "until"))
        rows = []
        for case in actions.open_cases(store, flt):
            report = report_of(case)
            flagged = sorted({f.rule for f in report.findings if f.status.value in ("fail", "uncertain")}) \
                if report else []
            if rule and rule not in flagged:
                continue
            rows.append({"id": case.id, "order_no": case.order_no, "decision": case.decision,
                         "org_name": _entered(case).get("org", {}).get("name", ""),
                         "submitted_at": case.created_at.isoformat(), "rules": flagged,
                         "submitted_beijing": _beijing(case.created_at),
                         "url": f"/cases/{case.id}"})
        data = {"counts": actions.state_counts(store), "cases": rows,
                "filters": {"decision": decision, "rule": rule, "since": since, "until": until}}
        return page(request, user, "queue.html", data,
                    {"rule_ids": sorted(rules.rules), "count_zh": COUNT_ZH})

    # ------------------------------------------------------------------ a case
    @router.get("/cases/{ref}")
    def case_page(request: Request, user: SignedIn, ref: CaseRef) -> Response:
        require(user, *READERS)
        case = case_or_404(ref.removesuffix(".json"))
        report = report_of(case)
        data = _case_data(store, case, report)
        context: dict[str, Any] = {"case": case, "entered": _entered(case), "report_view": None,
                                   "slot_titles": {s: rules.slot_title(s) for s in rules.slots}}
        if report is not None and not wants_json(request):
            view = view_context(previews.for_report(report), rules)
            context.update(view, report_view=view)
        return page(request, user, "case.html", data, context)

    @router.get("/cases/{case_id}/artifacts/pages/{name}")
    def preview_image(user: SignedIn, case_id: CaseRef, name: Annotated[str, Path(max_length=80)]) -> Response:
        require(user, *READERS)
        case = case_or_404(case_id)
        match = PREVIEW_NAME.match(name)
        report = report_of(case)
        sha = report.uploads.get(match.group("slot"), {}).get("sha256") if match and report else None
        found = previews.image(sha, name) if isinstance(sha, str) else None
        if found is None:
            raise NotFound(f"没有这个页面图像 / no preview {name}")
        return FileResponse(found, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    @router.get("/cases/{case_id}/files/{slot}/{version}")
    def upload_file(user: SignedIn, case_id: CaseRef, slot: Annotated[str, Path(max_length=64)],
                    version: Annotated[int, Path(ge=1, le=100_000)]) -> Response:
        require(user, *READERS)
        case_or_404(case_id)
        found = [u for u in store.upload_history(case_id) if u.slot == slot and u.version == version]
        if not found:
            raise NotFound(f"没有这个文件版本 / no version {version} of {slot}")
        upload = found[0]
        media = {"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif",
                 "bmp": "image/bmp"}.get(upload.detected_type, "application/octet-stream")
        return Response(store.blobs.get(upload.sha256), media_type=media, headers={
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(upload.filename)}",
            "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})

    # ------------------------------------------------------------------ clerks' actions
    def act(case_id: str, user: User, action: str, text: str, slots: list[str]) -> str:
        """Check and record one action (in a worker thread: it writes the store and a case folder)."""
        require(user, *CLERKS)
        case = case_or_404(case_id)
        if case.decision is None:
            raise Unprocessable("案件正在重新审核，请等审核完成后再处理 / the case is being reviewed again")
        if action == "approved" and case.decision != "needs_review":
            raise Unprocessable("只有需人工复核的案件可由审核员通过 / only a needs-review case can be approved")
        if not text and action != "upload_requested":
            raise Unprocessable("请填写通过的理由 / a reason is required" if action == "approved" else
                                "请填写给申请人的说明 / the message to the applicant is required")
        if action == "upload_requested" and (not slots or any(s not in rules.slots for s in slots)):
            raise Unprocessable("请选择需要补传的材料 / choose the slots to upload again")
        # the action first (of two clerks at once, one wins), then the decision in the issuance register
        actions.record_action(store, case, action, actor=user.actor, reason=text, slots=slots)
        if action in ("approved", "rejected"):
            _record_decision(store, rules, case, Decision(action), user, text)
        return f"/cases/{case.id}"

    async def acting(request: Request, user: User, case_id: str, action: str, field: str) -> Response:
        form = await request.form()
        check_csrf(request, form)
        text = str(form.get(field) or "").strip()
        slots = [str(s) for s in form.getlist("slots")]
        target = await run_in_threadpool(act, case_id, user, action, text, slots)
        return RedirectResponse(target, status_code=303)

    @router.post("/cases/{case_id}/approve")
    async def approve(request: Request, user: SignedIn, case_id: CaseRef) -> Response:
        return await acting(request, user, case_id, "approved", "reason")

    @router.post("/cases/{case_id}/reject")
    async def reject(request: Request, user: SignedIn, case_id: CaseRef) -> Response:
        return await acting(request, user, case_id, "rejected", "message")

    @router.post("/cases/{case_id}/request-upload")
    async def request_upload(request: Request, user: SignedIn, case_id: CaseRef) -> Response:
        return await acting(request, user, case_id, "upload_requested", "message")

    router.include_router(stats.router(store, rules, page, _case_data, report_of))
    return router


def _record_decision(store: Store, rules: RuleSet, case: StoredCase, decision: Decision, user: User,
                     reason: str) -> None:
    """In the issuance register, tied to the case as it is now: ``precheck issue`` honours it."""
    with tempfile.TemporaryDirectory(prefix="precheck-decision-") as tmp:
        folder = load_case_folder(store.write_case_folder(case.id, FsPath(tmp)), set(rules.slots))
        record_clerk_decision(Register(store.engine), folder, decision, user.actor, reason, case_id=case.id)


def _case_data(store: Store, case: StoredCase, report: Report | None) -> dict[str, Any]:
    history = store.upload_history(case.id)
    current = store.current_uploads(case.id)
    done = actions.actions_of(store, case.id)
    messages = applicant_messages(report) if report else []
    prefilled = PREFACE.format(order_no=case.order_no) + "".join(f"\n{n}. {m}" for n, m in enumerate(messages, 1))
    now = actions.current_action(store, case)
    waiting = actions.waiting_for(store, case.id)
    review = store.review(case.review_key) if case.review_key else None
    return {
        "id": case.id, "order_no": case.order_no, "decision": case.decision or "pending",
        "decision_zh": DECISION_ZH[Decision(case.decision)] if case.decision else "审核中",
        "submitted_at": case.created_at.isoformat(), "entered": _entered(case),
        "open": case.decision in actions.OPEN_DECISIONS and now is None and not waiting,
        "waiting_for": waiting,
        "current_action": _action_json(now) if now else None,
        "applicant_message": prefilled,
        "uploads": [{"slot": u.slot, "version": u.version, "filename": u.filename, "size": u.size,
                     "type": u.detected_type, "sha256": u.sha256, "current": current.get(u.slot) == u,
                     "url": f"/cases/{case.id}/files/{u.slot}/{u.version}"} for u in history],
        "actions": [_action_json(a) for a in done],
        "report": report.model_dump(mode="json") if report else None,
        # a review that kept failing is stored as needs_review with its error: a person checks everything
        "review_error": review.error if review is not None and review.state == "done" else None,
    }


def _action_json(a: actions.CaseAction) -> dict[str, Any]:
    return {"action": a.action, "actor": a.actor, "reason": a.reason, "slots": a.slots, "at": a.at.isoformat(),
            "review_key": a.review_key}


def _entered(case: StoredCase) -> dict[str, Any]:
    try:
        data = json.loads(case.case_json)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _beijing(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _safe_next(target: str) -> str:
    """Only a path of this site (never ``//elsewhere`` or a URL)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/queue"


def _date(value: str, name: str) -> Any:
    from datetime import date

    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise Unprocessable(f"{name}: 日期格式应为 YYYY-MM-DD / a date YYYY-MM-DD") from exc
