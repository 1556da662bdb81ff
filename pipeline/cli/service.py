"""CLI faces of the review service (CONTRACT §6): ``serve``, ``worker``, ``apikey create``,
``audit verify``. ``register(app)`` adds them to the main typer app.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated

import typer

from pipeline.cli.terminal import err
from pipeline.errors import ConfigError, ExitCode
from pipeline.ruleset import DEFAULT_RULE_SET, load_rule_set
from pipeline.service import audit
from pipeline.service.config import ServiceSettings
from pipeline.service.keys import Role, create_key
from pipeline.service.queue import ReviewPolicy, make_broker, send_review
from pipeline.service.store import Store

log = logging.getLogger(__name__)

RulesOption = Annotated[str, typer.Option("--rules", help="规则集 id 或文件路径 / rule set id or path")]


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("worker")(worker)
    apikey_app = typer.Typer(name="apikey", help="API 密钥 / API keys.", no_args_is_help=True)
    apikey_app.command("create")(apikey_create)
    app.add_typer(apikey_app, name="apikey")
    user_app = typer.Typer(name="user", help="控制台用户 / web console users.", no_args_is_help=True)
    user_app.command("create")(user_create)
    app.add_typer(user_app, name="user")
    audit_app = typer.Typer(name="audit", help="审计记录 / the audit trail.", no_args_is_help=True)
    audit_app.command("verify")(audit_verify)
    app.add_typer(audit_app, name="audit")


def serve(
    host: Annotated[str, typer.Option("--host", help="监听地址 / address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    rules: RulesOption = DEFAULT_RULE_SET,
) -> None:
    """REST API；未配置 PRECHECK_BROKER_URL 时在本进程内审核 / the API; reviews in-process by default."""
    import uvicorn

    from pipeline.web.api import create_app
    from pipeline.worker.actors import ReviewJob, declare_review_actor, start_worker

    settings = ServiceSettings.from_env()
    store = Store.open(settings)
    rule_set = load_rule_set(rules)
    broker = make_broker(settings.broker_url)
    embedded = None
    if settings.broker_url is None:  # the embedded default: the same actor on dramatiq's StubBroker
        declare_review_actor(broker, ReviewJob(store, rule_set))
        embedded = start_worker(broker, threads=1)
        _requeue_pending(store, broker)
    try:
        uvicorn.run(create_app(store, broker, rule_set), host=host, port=port, log_level="info")
    finally:
        if embedded is not None:
            embedded.stop()
        broker.close()


def worker(
    threads: Annotated[int, typer.Option("--threads", min=1, help="本进程中的审核线程数 / review threads")] = 1,
    rules: RulesOption = DEFAULT_RULE_SET,
    requeue: Annotated[bool, typer.Option("--requeue-pending", help="先为所有待审案件重新排队 / first queue every "
                                          "pending case again (after Redis lost its data)")] = False,
) -> None:
    """从 Redis 队列取案件审核（PRECHECK_BROKER_URL）/ review queued cases from Redis until stopped."""
    from pipeline.worker.actors import ReviewJob, declare_review_actor, start_sweeper, start_worker

    settings = ServiceSettings.from_env()
    if settings.broker_url is None:
        raise ConfigError("precheck worker needs PRECHECK_BROKER_URL=redis://…; without it `precheck serve` "
                          "reviews in its own process")
    store = Store.open(settings)
    rule_set = load_rule_set(rules)
    _load_readers()
    broker = make_broker(settings.broker_url)
    declare_review_actor(broker, ReviewJob(store, rule_set), ReviewPolicy.from_env())
    if requeue:
        _requeue_pending(store, broker)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    policy = ReviewPolicy.from_env()
    # a case pending for longer than a review may take (time limit + retries' waits) is queued again
    patience = (policy.time_limit_ms * (policy.max_retries + 1) + policy.max_backoff_ms * policy.max_retries) / 1000
    sweeper = start_sweeper(store, broker, older_than_s=patience, every_s=min(patience, 300))
    running = start_worker(broker, threads=threads)
    err.print(f"precheck worker: {threads} thread(s) on {settings.broker_url.split('@')[-1]}")
    try:
        stop.wait()
    finally:
        sweeper.set()
        running.stop()
        broker.close()


def _load_readers() -> None:
    """Load the OCR models before taking cases: a broken install stops the worker at its start,
    loudly, and the first case is not slowed by the load."""
    from pipeline.reading.ocr import get_engine

    get_engine("auto")


def _requeue_pending(store: Store, broker: object) -> None:
    """Queue every case still waiting for its review: a message lost with an in-process queue, or
    never sent while Redis was down, is sent again (the actor is idempotent)."""
    import dramatiq

    assert isinstance(broker, dramatiq.Broker)
    pending = store.pending_case_ids()
    for case_id in pending:
        send_review(broker, case_id)
    if pending:
        log.info("queued %d pending case(s) again", len(pending))


def apikey_create(
    role: Annotated[Role, typer.Option("--role", help="submitter, clerk, auditor 或 admin")],
    name: Annotated[str, typer.Option("--name", help="密钥名称 / a name for the key")] = "",
) -> None:
    """新建 API 密钥，仅显示这一次 / create an API key; it is printed once and stored only as a hash."""
    store = Store.open()
    record, key = create_key(store.engine, role, name)
    err.print(f"API key {record.id} ({record.name}, {record.role.value}) — shown once, keep it now:")
    print(key)


def user_create(
    name: Annotated[str, typer.Argument(help="用户名 / user name")],
    role: Annotated[Role, typer.Option("--role", help="clerk, auditor 或 admin")],
) -> None:
    """新建控制台用户；密码在终端输入两次，或从标准输入读一行 / create a console user; the password is
    asked for twice on a terminal, or read as one line from stdin."""
    import getpass
    import sys

    from pipeline.errors import PrecheckError
    from pipeline.service.users import create_user

    if sys.stdin.isatty():
        password = getpass.getpass("密码 / password: ")
        if getpass.getpass("再输入一次 / again: ") != password:
            err.print("两次输入的密码不同 / the passwords differ")
            raise typer.Exit(ExitCode.USAGE)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = create_user(Store.open().engine, name, role, password)
    except PrecheckError as exc:
        err.print(exc.message)
        raise typer.Exit(ExitCode.USAGE) from exc
    print(f"用户已创建 / user created: {user.name} ({user.role.value})")


def audit_verify() -> None:
    """检查审计链 / verify the audit chain: exit 0 intact, 1 naming the first changed or removed event."""
    store = Store.open()
    verdict = audit.verify(store.engine)
    if verdict.intact:
        print(f"审计链完整 / audit chain intact: {verdict.events} events")
        raise typer.Exit(ExitCode.APPROVED)
    print(f"审计链被改动 / audit chain broken: {verdict.problem}")
    raise typer.Exit(1)
