"""The REST API of CONTRACT §6, under ``/api``: submit a case, replace a file, read the report
(and, from ``pipeline.web.console``, the web console beside it in the same app).

A thin face: requests are checked and stored (``pipeline.service.store``), a review is queued by
case id (``pipeline.service.queue``); the worker face reviews. :func:`create_app` builds the app
from a store, a broker and a rule set — nothing global.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Annotated, Any

import dramatiq
from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from pipeline.casefolder import MAX_CASE_JSON_BYTES, parse_case_json
from pipeline.errors import CaseError, Forbidden, Unauthorized, Unprocessable
from pipeline.ruleset import RuleSet
from pipeline.service.keys import ApiKey, Role, find_key
from pipeline.service.queue import send_review
from pipeline.service.store import NewFile, Store, StoredCase
from pipeline.web import console, errors
from pipeline.web.multipart import Part, PartLimits, read_parts

log = logging.getLogger(__name__)

CASE_PART = "case"
WRITERS = frozenset({Role.SUBMITTER, Role.CLERK, Role.ADMIN})


class Submitted(BaseModel):
    id: str
    report_url: str


class Pending(BaseModel):
    status: str = "pending"


class CaseSummary(BaseModel):
    id: str
    order_no: str
    decision: str  # approved | rejected | needs_review | pending
    created_at: str
    report_url: str


class CaseList(BaseModel):
    cases: list[CaseSummary]
    page: int
    page_size: int


class Health(BaseModel):
    status: str
    database: str
    broker: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": errors.ErrorBody, "description": text}
    for status, text in ((401, "no or unknown API key"), (403, "the key's role may not do this"),
                         (404, "no such case (or not yours)"), (422, "bad case.json, slot or request"))
}


def _multipart_body(names: list[str], required: list[str]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object",
        "properties": {name: {"type": "string", "format": "binary"} for name in names},
        "required": required,
    }}}}}


def caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> ApiKey:
    """The API key of the request (``Authorization: Bearer <key>``), or 401."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("需要 API 密钥 / an API key is required: Authorization: Bearer <key>")
    found = find_key(request.app.state.store.engine, key.strip())
    if found is None:
        raise Unauthorized("API 密钥无效 / unknown API key")
    return found


Caller = Annotated[ApiKey, Depends(caller)]


def writer(key: Caller) -> ApiKey:
    """A key whose role may submit and change cases, or 403."""
    if key.role not in WRITERS:
        raise Forbidden(f"角色 {key.role.value} 不能提交或修改案件 / role {key.role.value} cannot change cases")
    return key


Writer = Annotated[ApiKey, Depends(writer)]


def create_app(store: Store, broker: dramatiq.Broker, rules: RuleSet) -> FastAPI:
    slots = sorted(rules.slots)
    max_file = int(rules.param("upload.too_large", "max_bytes"))
    submit_limits = PartLimits(names=frozenset([CASE_PART, *slots]), max_file_bytes=max_file,
                               max_bytes={CASE_PART: MAX_CASE_JSON_BYTES})
    app = FastAPI(title="precheck", version="1", summary="机构员工数字证书申请材料预审服务 / review service",
                  openapi_url="/openapi.json", docs_url=None, redoc_url=None)
    app.state.store = store
    errors.install(app)
    console.install(app, store, rules)

    def queue(case: StoredCase) -> Submitted:
        try:
            send_review(broker, case.id)
        except Exception:  # stored and pending: the workers' sweeper (or --requeue-pending) queues it again
            log.exception("could not queue the review of case %s", case.id)
        return Submitted(id=case.id, report_url=f"/api/cases/{case.id}/report")

    too_large: dict[int | str, dict[str, Any]] = {
        413: {"model": errors.ErrorBody, "description": "a file of 5 MB or more"}}

    @app.post("/api/cases", status_code=202, response_model=Submitted,
              openapi_extra=_multipart_body([CASE_PART, *slots], [CASE_PART]), responses={**_ERRORS, **too_large})
    async def submit_case(request: Request, key: Writer) -> Submitted:
        """Submit a case: a part ``case`` (case.json) and one file part per slot, named by the slot."""
        parts = await read_parts(request.headers.get("content-type", ""), request.stream(), submit_limits,
                                 request.headers.get("content-length"))
        by_name = {p.name: p for p in parts}
        if CASE_PART not in by_name:
            raise CaseError([("case", "缺少 case.json 部分 / the part 'case' (case.json) is missing")])
        raw = bytes(by_name[CASE_PART].data)
        case = parse_case_json(raw)
        files = [_new_file(p) for p in parts if p.name != CASE_PART]
        # the store writes and fsyncs: off the event loop, which keeps reading other requests
        stored = await run_in_threadpool(store.submit, case, raw, files, rule_set_sha256=rules.sha256, by=key,
                                         actor=key.actor)
        return await run_in_threadpool(queue, stored)

    @app.put("/api/cases/{case_id}/uploads/{slot}", status_code=202, response_model=Submitted,
             openapi_extra=_multipart_body(["file"], ["file"]),
             responses={**_ERRORS, **too_large})
    async def replace_upload(request: Request, key: Writer, case_id: Annotated[str, Path(max_length=64)],
                             slot: Annotated[str, Path(max_length=64)]) -> Submitted:
        """Replace one slot's file (multipart, one file part named ``file`` or by the slot); review again."""
        if slot not in rules.slots:
            raise Unprocessable(f"未知的材料位置 / unknown slot: {slot}")
        await run_in_threadpool(store.case, case_id, visible_to=key)
        limits = PartLimits(names=frozenset({"file", slot}), max_file_bytes=max_file, max_bytes={})
        parts = await read_parts(request.headers.get("content-type", ""), request.stream(), limits,
                                 request.headers.get("content-length"))
        if len(parts) != 1:
            raise Unprocessable("须恰好上传一个文件部分 / send exactly one file part, named 'file' or by the slot")
        new = _new_file(parts[0])
        stored = await run_in_threadpool(store.replace_upload, case_id, NewFile(slot, new.filename, new.data),
                                         rule_set_sha256=rules.sha256, actor=key.actor)
        return await run_in_threadpool(queue, stored)

    @app.get("/api/cases/{case_id}/report", response_model=None,
             responses={200: {"description": "the report (CONTRACT §4)",
                              "content": {"application/json": {"schema": {"type": "object"}}}},
                        202: {"model": Pending, "description": "not reviewed yet"},
                        304: {"description": "unchanged since the ETag given in If-None-Match"}, **_ERRORS})
    def report(key: Caller, case_id: Annotated[str, Path(max_length=64)],
               if_none_match: Annotated[str | None, Header()] = None) -> Response:
        """The report once reviewed (200), or 202 ``{"status": "pending"}``; both carry an ETag."""
        case = store.case(case_id, visible_to=key)
        review = store.current_review(case_id)
        if review is None or review.report_json is None:
            etag = f'"pending-{(case.review_key or "")[:32]}"'
            status, body = 202, Pending().model_dump_json()
        else:
            etag = f'"{hashlib.sha256(review.report_json.encode()).hexdigest()[:32]}"'
            status, body = 200, review.report_json
        if if_none_match is not None and etag in [t.strip() for t in if_none_match.split(",")]:
            return Response(status_code=304, headers={"ETag": etag})
        return Response(body, status_code=status, media_type="application/json", headers={"ETag": etag})

    @app.get("/api/cases", response_model=CaseList, responses=_ERRORS)
    def list_cases(key: Caller,
                   decision: Annotated[str | None, Query(pattern="^(approved|rejected|needs_review|pending)$")] = None,
                   page: Annotated[int, Query(ge=1, le=1_000_000)] = 1) -> CaseList:
        """Cases, newest first, 50 a page; a submitter's key lists only its own."""
        found = store.list_cases(visible_to=key, decision=decision, page=page)
        return CaseList(page=page, page_size=50, cases=[CaseSummary(
            id=c.id, order_no=c.order_no, decision=c.decision or "pending", created_at=c.created_at.isoformat(),
            report_url=f"/api/cases/{c.id}/report") for c in found])

    @app.get("/healthz", response_model=Health, responses={503: {"model": Health}})
    def healthz() -> JSONResponse:
        """Liveness and the database's answer; no key needed."""
        database = "ok"
        try:
            with store.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            database = f"unavailable: {type(exc).__name__}"
        health = Health(status="ok" if database == "ok" else "degraded", database=database,
                        broker=type(broker).__name__)
        return JSONResponse(health.model_dump(), status_code=200 if database == "ok" else 503)

    return app


def _new_file(part: Part) -> NewFile:
    return NewFile(slot=part.name, filename=part.filename or part.name, data=bytes(part.data))

