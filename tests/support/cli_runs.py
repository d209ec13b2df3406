"""Run the command line in-process exactly as ``delever`` does (``run_guarded``: one-line errors,
exit codes, scrubbed output), capturing stdout and stderr — fast enough for fuzzing."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


def run_delever(*args: str) -> CliRun:
    from bot.cli import app
    from bot.cli.common import run_guarded

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_guarded(app, list(args))
    return CliRun(code, out.getvalue(), err.getvalue())


def assert_one_line_refusal(run: CliRun, code: int = 2, *, contains: str = "") -> None:
    """Refused: exit ``code``, nothing on stdout, one ``delever: error:`` line on stderr."""
    assert run.code == code, (run.code, run.err)
    assert run.out == "", run.out
    assert len(run.err_lines) == 1 and run.err.startswith("delever: error: "), run.err
    assert "Traceback" not in run.err
    assert contains in run.err, run.err
