"""The command line (CONTRACT §3): a thin face over ``review_case`` and the forms renderer."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.cli.batch import Outcome, case_folders, is_case_folder, review_many, review_one
from pipeline.cli.terminal import err, out, print_error
from pipeline.errors import CaseError, ExitCode, PrecheckError
from pipeline.identifiers import mask_resident_ids
from pipeline.models import Decision
from pipeline.report import DECISION_ZH, report_json
from pipeline.ruleset import DEFAULT_RULE_SET
from pipeline.stages.base import ReviewOptions

app = typer.Typer(
    name="precheck",
    help="机构员工数字证书申请材料自动预审 / automated pre-review of UKey certificate applications.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

EXIT_FOR_DECISION = {
    Decision.APPROVED: ExitCode.APPROVED,
    Decision.REJECTED: ExitCode.REJECTED,
    Decision.NEEDS_REVIEW: ExitCode.NEEDS_REVIEW,
}

RuleSetOption = Annotated[str, typer.Option("--rules", help="规则集 id 或文件路径 / rule set id or path")]


def _setup_logging() -> None:
    """Full tracebacks go to the log file; the terminal only gets one-line warnings."""
    log_dir = Path(os.environ.get("PRECHECK_LOG_DIR", "var/log"))
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(log_dir / "precheck.log", encoding="utf-8")
        handler.setFormatter(_Masked("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    except OSError:
        pass
    terminal = logging.StreamHandler(sys.stderr)
    terminal.setLevel(logging.WARNING)
    terminal.setFormatter(_OneLine("%(levelname)s: %(message)s"))
    root.addHandler(terminal)


class _Masked(logging.Formatter):
    """No log line carries a whole resident ID number (210102********1234), tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_resident_ids(super().format(record))


class _OneLine(_Masked):
    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text
        record.exc_info, record.exc_text = None, None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text = saved


@app.command()
def review(
    path: Annotated[Path, typer.Argument(help="案件文件夹，或装有多个案件文件夹的文件夹")],
    json_: Annotated[bool, typer.Option("--json", help="只输出 JSON 报告（文件夹模式每行一个）")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="报告（JSON、HTML、证据图）写入此文件夹")] = None,
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="并行审核的进程数（文件夹模式）")] = 1,
    rules: RuleSetOption = DEFAULT_RULE_SET,
    ocr_engine: Annotated[str, typer.Option("--ocr-engine", help="auto, rapidocr 或 tesseract")] = "auto",
) -> None:
    """审核一个案件或一个文件夹中的所有案件 / review one case or every case in a folder."""
    options = ReviewOptions(ocr_engine=ocr_engine)
    if not path.is_dir():
        err.print(f"[bold red]路径不存在或不是文件夹[/] / not a folder: {path}")
        raise typer.Exit(ExitCode.BAD_CASE)
    if is_case_folder(path):
        outcome = review_one(path, rules, out_dir, options)
        if outcome.error is not None:
            assert isinstance(outcome.error, CaseError)
            print_error(outcome.error)
            raise typer.Exit(ExitCode.BAD_CASE)
        assert outcome.report is not None
        if json_:
            print(report_json(outcome.report))
        else:
            _print_report_summary(outcome)
            if out_dir is not None:
                out.print(f"报告已写入 / report written to: {out_dir}")
        raise typer.Exit(EXIT_FOR_DECISION[outcome.report.decision])
    raise typer.Exit(_review_folder(path, json_, out_dir, jobs, rules, options))


def _review_folder(
    folder: Path, json_: bool, out_dir: Path | None, jobs: int, rules: str, options: ReviewOptions
) -> int:
    paths = case_folders(folder)
    outcomes: list[Outcome] = []
    progress = Progress(
        TextColumn("审核中 / reviewing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.description}"), console=err, disable=not err.is_terminal, transient=json_,
    )
    with progress:
        task = progress.add_task("", total=len(paths))
        for outcome in review_many(paths, rules, out_dir, options, jobs):
            outcomes.append(outcome)
            progress.update(task, advance=1, description=outcome.path.name)
            if outcome.error is not None:
                if isinstance(outcome.error, CaseError):
                    print_error(outcome.error)
                else:
                    err.print(f"[bold red]审核失败[/] {outcome.path}: {outcome.error.message}")
            elif json_:
                assert outcome.report is not None
                print(report_json(outcome.report), flush=True)
    if not json_:
        _print_summary_table(sorted(outcomes, key=lambda o: o.path.name))
        if out_dir is not None:
            out.print(f"报告已写入 / reports written to: {out_dir}")
    return ExitCode.BAD_CASE if any(o.error for o in outcomes) else ExitCode.APPROVED


def _print_report_summary(outcome: Outcome) -> None:
    report = outcome.report
    assert report is not None
    out.print(f"业务单号 {report.order_no}：[bold]{DECISION_ZH[report.decision]}[/] ({report.decision.value})")
    for f in report.findings:
        if f.status.value in ("fail", "uncertain"):
            where = f" [{f.slot}]" if f.slot else ""
            out.print(f"  {f.status.value:9} {f.rule}{where}: {f.message}", highlight=False, markup=False)


def _print_summary_table(outcomes: list[Outcome]) -> None:
    table = Table(title="预审结果 / review summary")
    for header in ("案件 / case", "业务单号 / order", "结论 / decision", "不通过的规则 / failed rules",
                   "需复核 / uncertain"):
        table.add_column(header, overflow="fold")
    styles = {Decision.APPROVED: "green", Decision.REJECTED: "red", Decision.NEEDS_REVIEW: "yellow"}
    for o in outcomes:
        if o.report is None:
            table.add_row(o.path.name, "-", "[red]无法读取 / unreadable[/]", "", "")
            continue
        r = o.report
        table.add_row(o.path.name, r.order_no, f"[{styles[r.decision]}]{r.decision.value}[/]",
                      ", ".join(r.failed_rules()), ", ".join(r.uncertain_rules()))
    out.print(table)


@app.command()
def forms(
    case: Annotated[Path, typer.Argument(help="案件文件夹或 case.json")],
    out_dir: Annotated[Path, typer.Option("--out", help="PDF 写入此文件夹")],
) -> None:
    """生成预填的申请表、电子印章申请表和法人授权书 PDF / render the pre-filled forms."""
    from pipeline.casefolder import parse_case_json
    from pipeline.forms.render import render_forms

    case_file = case / "case.json" if case.is_dir() else case
    try:
        raw = case_file.read_bytes()
    except OSError as exc:
        print_error(CaseError([("case.json", f"无法读取 / cannot read: {exc.strerror}")], str(case)))
        raise typer.Exit(ExitCode.BAD_CASE) from None
    try:
        parsed = parse_case_json(raw)
    except CaseError as exc:
        print_error(CaseError(exc.problems, str(case)))
        raise typer.Exit(ExitCode.BAD_CASE) from None
    for name, written in render_forms(parsed, out_dir).items():
        out.print(f"{name}: {written}")


def _register_faces() -> None:
    from pipeline.cli.issue import register
    from pipeline.cli.service import register as register_service

    register(app)
    register_service(app)


def main() -> None:
    _setup_logging()
    try:
        _register_faces()
    except ImportError:
        logging.getLogger(__name__).debug("issuance commands unavailable", exc_info=True)
    try:
        app()
    except PrecheckError as exc:
        print_error(exc)
        sys.exit(exc.exit_code)
