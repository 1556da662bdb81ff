"""One error shape for every answer that is not a success: ``{"error": {"code", "message"}}``.

One set of handlers, installed by :func:`install`, turns precheck's own errors (each knows its
HTTP status), FastAPI's request validation, unknown routes and methods, and anything unexpected
into that shape. A bad ``case.json`` adds ``problems``: the same field-named lines as the CLI.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from pipeline.errors import CaseError, PrecheckError

log = logging.getLogger(__name__)

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          406: "not_acceptable", 413: "too_large", 415: "unsupported_media_type", 422: "unprocessable"}


class ErrorDetail(BaseModel):
    code: str
    message: str
    problems: list[dict[str, str]] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status, headers=headers)


async def _precheck_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PrecheckError)
    if isinstance(exc, CaseError):
        problems = [{"field": path, "message": text} for path, text in exc.problems]
        return error_response(exc.http_status, exc.code, exc.message, problems=problems)
    if exc.http_status >= 500:
        log.error("request failed: %s", exc.message)
    return error_response(exc.http_status, exc.code, exc.message)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, _CODES.get(exc.status_code, f"http_{exc.status_code}"), str(exc.detail))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    lines = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    return error_response(422, "unprocessable", "; ".join(lines) or "invalid request")


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error answering a request", exc_info=exc)
    return error_response(500, "internal", "内部错误，已记录 / internal error, logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(PrecheckError, _precheck_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
