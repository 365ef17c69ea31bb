"""The `caseflow` command run in the test's own process, for a test of what a command does rather
than of how its process behaves (signals, a server it starts): the exit code, standard output
and standard error that `python -m caseflow.cli` would give, without a Python start and its
imports (about a second each) for every command."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

from caseflow.cli import main


def run_caseflow(
    *args: str, env: Mapping[str, str], stdin: str = "", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`caseflow *args` with exactly the environment `env`, standard input `stdin` (never a
    terminal) and working directory `cwd` (else this process's), as `subprocess.run(...,
    capture_output=True, text=True)` answers it: a refusal's message on standard error and exit
    code 1, a bug's traceback on standard error and exit code 1, logging as the command sets it
    up, on standard error."""
    out, err = io.StringIO(), io.StringIO()
    with _environment(env, cwd), _own_logging(), redirect_stdout(out), redirect_stderr(err):
        sys.stdin, stdin_before = io.StringIO(stdin), sys.stdin
        try:
            main(list(args))
            code = 0
        except SystemExit as exit:
            code = _exit_code(exit.code, err)
        except Exception:  # what the interpreter does with an uncaught exception
            err.write(traceback.format_exc())
            code = 1
        finally:
            sys.stdin = stdin_before
    return subprocess.CompletedProcess(["caseflow", *args], code, out.getvalue(), err.getvalue())


def _exit_code(code: object, err: io.StringIO) -> int:
    """The status of a process that raised `SystemExit(code)`: a message is printed, status 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=err)
    return 1


@contextmanager
def _environment(env: Mapping[str, str], cwd: Path | None) -> Iterator[None]:
    before, here = dict(os.environ), Path.cwd()
    os.environ.clear()
    os.environ.update(env)
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(here)
        os.environ.clear()
        os.environ.update(before)


@contextmanager
def _own_logging() -> Iterator[None]:
    """The root logger without pytest's handlers, so that the command's `logging.basicConfig`
    writes to its standard error as in a process of its own; as it was afterwards."""
    root = logging.getLogger()
    loggers = [root, logging.getLogger("mail.log")]
    handlers, levels = root.handlers[:], [logger.level for logger in loggers]
    root.handlers = []
    try:
        yield
    finally:
        root.handlers = handlers
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
