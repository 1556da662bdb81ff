"""CLI faces of token issuance (CONTRACT §7): ``ca init|cert``, ``issue``, and ``approve``.

``register(app)`` adds them to the main typer app. Exit codes: 0 issued (or issued before),
1 refused (the findings say why), 3 the case cannot be read, 4 the token or its module failed.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Annotated

import typer

import tokens
from pipeline.casefolder import CaseFolder, load_case_folder
from pipeline.cli.terminal import err, print_error
from pipeline.errors import ExitCode, PrecheckError
from pipeline.issuance.gate import IssuanceSettings, IssueOutcome, issue_case, record_clerk_decision
from pipeline.issuance.register import Register, certificate_fingerprint
from pipeline.models import Decision, Report
from pipeline.ruleset import DEFAULT_RULE_SET, RuleSet, load_rule_set

#: a case id of the review service's store (``POST /api/cases`` answers it)
STORED_ID = re.compile(r"[0-9a-f]{32}")

KeyOption = Annotated[tokens.KeySpec, typer.Option("--key", help="密钥类型 / key type: ec (P-256) or rsa (2048)")]


def register(app: typer.Typer) -> None:
    ca_app = typer.Typer(name="ca", help="签发 CA / the issuing CA (its key on its own token).",
                         no_args_is_help=True)
    ca_app.command("init")(ca_init)
    ca_app.command("cert")(ca_cert)
    app.add_typer(ca_app, name="ca")
    app.command("issue")(issue)
    app.command("approve")(approve)


def ca_init(key: KeyOption = tokens.KeySpec.EC_P256) -> None:
    """创建签发 CA（仅一次，可重复执行）/ create the issuing CA once; running it again changes nothing."""
    with _exits():
        settings = IssuanceSettings.from_env()
        ca, created = settings.init_ca(key)
        der = ca.certificate()
    state = "已创建 / created" if created else "已存在 / already exists"
    typer.echo(f"CA {settings.ca_label}: {state}; SHA-256 {certificate_fingerprint(der)}")


def ca_cert() -> None:
    """输出 CA 证书（PEM）/ print the CA certificate (PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    with _exits():
        der = IssuanceSettings.from_env().ca(signing=False).certificate()
    typer.echo(x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM).decode(), nl=False)


def issue(
    case: Annotated[Path, typer.Argument(help="案件文件夹，或服务中保存的案件 id / case folder or stored case id")],
    json_: Annotated[bool, typer.Option("--json", help="只输出 JSON / JSON only on stdout")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="写入 certificate.pem 和 PIN 码通知函")] = None,
    key: KeyOption = tokens.KeySpec.EC_P256,
    rules: Annotated[str, typer.Option("--rules", help="规则集 / rule set id or path")] = DEFAULT_RULE_SET,
) -> None:
    """为已通过审核且已付款的案件制证（写入 UKey）/ issue the certificate onto a token."""
    with _exits():
        rule_set = load_rule_set(rules)
        if not case.exists() and STORED_ID.fullmatch(str(case)):
            outcome = _issue_stored(str(case), rule_set, key, out_dir)
        else:
            folder = load_case_folder(case, set(rule_set.slots))
            outcome = issue_case(folder, rule_set, Register(), IssuanceSettings.from_env(), key=key,
                                 letter_dir=out_dir, review=_review)
    if out_dir is not None and outcome.certificate_pem:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "certificate.pem").write_text(outcome.certificate_pem, encoding="ascii")
    if json_:
        typer.echo(json.dumps(outcome.to_json(), ensure_ascii=False))
    elif outcome.status == "issued":
        data = outcome.to_json()
        again = "（此前已制证，返回同一证书）/ issued before" if outcome.already_issued else ""
        typer.echo(f"已制证 / issued {outcome.order_no}{again}: serial {data['serial']}, "
                   f"token {outcome.token_serial}")
        if outcome.pin_letter and not outcome.already_issued:
            typer.echo(f"PIN 码通知函 / PIN letter: {outcome.pin_letter}")
    else:
        typer.echo(f"拒绝制证 / refused {outcome.order_no}:")
        for f in outcome.findings:
            if f.status.value != "pass":
                typer.echo(f"  {f.status.value:9} {f.rule}: {f.message}")
    raise typer.Exit(ExitCode.APPROVED if outcome.status == "issued" else ExitCode.REJECTED)


def approve(
    case: Annotated[Path, typer.Argument(help="案件文件夹 / case folder")],
    clerk: Annotated[str, typer.Option("--clerk", help="审核员姓名 / the clerk's name")],
    reason: Annotated[str, typer.Option("--reason", help="说明 / why")] = "",
) -> None:
    """记录审核员的通过决定 / record a clerk's approval of the case as it is now."""
    if not clerk.strip():
        err.print("--clerk 不能为空 / must name the clerk")
        raise typer.Exit(ExitCode.USAGE)
    with _exits():
        folder = load_case_folder(case, set(load_rule_set().slots))
        record_clerk_decision(Register(), folder, Decision.APPROVED, clerk.strip(), reason)
    typer.echo(f"已记录 / recorded: {folder.case.order_no} approved by {clerk.strip()}")


def _issue_stored(case_id: str, rules: RuleSet, key: tokens.KeySpec, out_dir: Path | None) -> IssueOutcome:
    """Issue a case kept by the review service: its stored current review counts as the review
    (reviewed here, in-process, when it has none yet); the PIN letter goes to --out or var/pin-letters/."""
    from pipeline.service.store import Store

    store = Store.open()
    stored_review = store.current_review(case_id)

    def review(folder: CaseFolder, rule_set: RuleSet) -> Report:
        if stored_review is not None and stored_review.report_json is not None:
            return Report.model_validate_json(stored_review.report_json)
        return _review(folder, rule_set)

    with tempfile.TemporaryDirectory(prefix="precheck-issue-") as tmp:
        folder = load_case_folder(store.write_case_folder(case_id, Path(tmp)), set(rules.slots))
        outcome = issue_case(folder, rules, Register(store.engine), IssuanceSettings.from_env(), key=key,
                             letter_dir=out_dir or Path("var") / "pin-letters", review=review)
    if outcome.status == "issued" and not outcome.already_issued:
        data = outcome.to_json()
        store.record_event("certificate_issued", actor="cli", case_id=case_id,
                           payload={"order_no": outcome.order_no, "serial": data["serial"],
                                    "token_serial": outcome.token_serial, "fingerprint": data["fingerprint_sha256"]})
    return outcome


def _review(folder: CaseFolder, rules: RuleSet) -> Report:
    from pipeline.review import review_case

    return review_case(folder, rules)


class _exits:  # a context manager: PrecheckError → message on stderr and its exit code
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, PrecheckError):
            print_error(exc)
            raise typer.Exit(exc.exit_code)
