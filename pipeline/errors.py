"""One exception hierarchy for broken software, environments and unreadable cases.

Defects in an applicant's documents are *findings*, never exceptions. Exceptions are for
things a person other than the applicant must fix; each knows its CLI exit code and HTTP status
so that every face (CLI, worker, web) maps them the same way.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    APPROVED = 0
    REJECTED = 1
    NEEDS_REVIEW = 2
    BAD_CASE = 3
    TOKEN_FAILED = 4
    SOFTWARE = 5
    USAGE = 64


class PrecheckError(Exception):
    """Base of every error precheck raises on purpose."""

    exit_code: ExitCode = ExitCode.SOFTWARE
    http_status: int = 500
    code: str = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CaseError(PrecheckError):
    """The case folder or its case.json cannot be read; one entry per problem, naming the field."""

    exit_code = ExitCode.BAD_CASE
    http_status = 422
    code = "bad_case"

    def __init__(self, problems: list[tuple[str, str]], case: str = "") -> None:
        self.problems = problems
        self.case = case
        lines = [f"{path}: {text}" for path, text in problems]
        super().__init__("\n".join(lines))


class RuleSetError(PrecheckError):
    """A rule set file is broken: the run must stop loudly rather than skip a rule."""

    code = "bad_rule_set"


class ToolMissingError(PrecheckError):
    """An external program or model is not installed; the message says how to install it."""

    code = "tool_missing"


class ToolError(PrecheckError):
    """An external program failed or timed out."""

    code = "tool_failed"


class TokenError(PrecheckError):
    """The PKCS#11 token or its module failed (wrong PIN, locked token, missing module)."""

    exit_code = ExitCode.TOKEN_FAILED
    http_status = 503
    code = "token_failed"


class ConfigError(PrecheckError):
    """A setting (environment variable, option) has a value precheck cannot use."""

    exit_code = ExitCode.USAGE
    code = "bad_configuration"


class ServiceError(PrecheckError):
    """A request to the review service that cannot be answered; the subclasses carry the status."""

    exit_code = ExitCode.USAGE
    http_status = 400
    code = "bad_request"


class Unauthorized(ServiceError):
    http_status = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    http_status = 403
    code = "forbidden"


class NotFound(ServiceError):
    http_status = 404
    code = "not_found"


class TooLarge(ServiceError):
    http_status = 413
    code = "too_large"


class Unprocessable(ServiceError):
    """A request whose form is right but whose content is not (an unknown slot, a part missing)."""

    http_status = 422
    code = "unprocessable"


class Conflict(ServiceError):
    """The request lost a race: someone changed the thing first (a case another clerk acted on)."""

    http_status = 409
    code = "conflict"


class TooManyRequests(ServiceError):
    """Too many failed sign-ins for one name or address: wait and try again."""

    http_status = 429
    code = "too_many_requests"
