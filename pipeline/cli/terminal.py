"""The command line's two consoles and how an error is shown on them (shared by its modules)."""

from __future__ import annotations

import sys

from rich.console import Console

from pipeline.errors import CaseError, PrecheckError

out = Console(width=None if sys.stdout.isatty() else 200)  # pipes and logs get full rows
# a message stays whole on its line when stderr is a pipe or a log: no break inside a path or word
err = Console(stderr=True, soft_wrap=not sys.stderr.isatty())


def print_error(exc: PrecheckError) -> None:
    """One line naming the error, then (for an unreadable case) one line per problem field."""
    if isinstance(exc, CaseError):
        err.print(f"[bold red]无法读取案件[/] {exc.case}", highlight=False)
        for path, text in exc.problems:
            err.print(f"  {path}: {text}", highlight=False, markup=False)
        return
    err.print(f"[bold red]错误[/] ({exc.code}): {exc.message}", highlight=False)
