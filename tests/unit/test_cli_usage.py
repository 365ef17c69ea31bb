"""The `caseflow` command line as Typer parses it, before any command runs: every command of the
README is there, help is plain text, and a mistake on the command line is one line and exit
code 2, as argparse gave."""

from __future__ import annotations

import subprocess
import sys

import pytest

from caseflow.cli import main

COMMANDS = [
    ["dev"], ["worker"], ["api"], ["intake"], ["seed"], ["import"], ["export"], ["report"],
    ["db", "upgrade"], ["temporal", "setup"],
    ["sla", "load"], ["sla", "migrate"], ["sla", "simulate"],
    ["calendar", "add"], ["calendar", "between"], ["calendar", "load"],
    ["agent", "add"], ["agent", "token"], ["agent", "list"], ["agent", "show"],
    ["agent", "disable"], ["agent", "enable"], ["agent", "rename"], ["agent", "password"],
]  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_each_command_has_plain_help_under_dash_h(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    code, out, err = run(capsys, *command, "-h")

    assert code == 0 and err == ""
    assert out.startswith(f"Usage: caseflow {' '.join(command)} ")
    assert not set(out) & set("╭╮╰╯│─")  # no rich boxes


def test_the_help_of_agent_add_names_its_options_and_roles(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = run(capsys, "agent", "add", "--help")

    for option in ["--email", "--name", "--role", "--queue", "--password-stdin"]:
        assert option in out
    assert "{agent,supervisor,admin}" in out and "prints the API token as the last line" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["report", "--by", "colour"], "invalid choice: 'colour'"),
        (["agent", "add", "ann"], "Missing option '--email'"),
        (["agent", "add", "ann", "--email", "a@x.test", "--role", "boss"], "invalid choice"),
        (["agent", "show"], "Missing argument 'HANDLE'"),
        (["calendar", "add", "--calendar", "x.yaml"], "Missing option '--start'"),
        (["report", "--colour"], "No such option: --colour"),
        (["bogus"], "No such command 'bogus'"),
        (["worker", "--role", "everything"], "invalid choice: 'everything'"),
    ],
)
def test_a_mistake_on_the_command_line_is_one_line_and_exit_code_two(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    code, out, err = run(capsys, *argv)

    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("caseflow") and ": error: " in err
    assert words in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [[], ["agent"], ["sla"], ["calendar"], ["db"], ["temporal"]])
def test_a_group_without_its_command_prints_its_help_and_exits_two(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run(capsys, *argv)

    assert code == 2 and err == ""
    assert out.startswith(f"Usage: {' '.join(['caseflow', *argv])} ") and "Commands:" in out


HEAVY = ["temporalio", "sqlalchemy", "alembic", "fastapi", "uvicorn", "jinja2", "pydantic_settings"]


def test_the_command_line_itself_imports_none_of_the_servers_libraries() -> None:
    """Each command imports what it uses when it runs: parsing the command line and printing
    help (every start of `caseflow`) stays a fraction of a second."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, caseflow.cli; print(*sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()

    assert [name for name in HEAVY if name in loaded] == []


# A process in which Temporal's client has run ends without the interpreter's teardown, which
# its threads could abort (temporalio/sdk-python#300): what the command printed and its exit
# code are as they would be otherwise.
_WITH_BRIDGE = (
    "import sys, temporalio.bridge.temporal_sdk_bridge\n"
    "from caseflow.cli.commands import run\n"
    "sys.argv = ['caseflow', *sys.argv[1:]]\n"
    "run()\n"
)


@pytest.mark.parametrize(
    ("argv", "code", "stream", "text"),
    [
        (["sla", "-h"], 0, "out", "Usage: caseflow sla "),
        (["no-such-command"], 2, "err", "No such command"),
        (
            ["calendar", "between", "--calendar", "/nowhere.yaml", "--start", "2026-01-01T00:00Z",
             "--end", "2026-01-02T00:00Z"],
            1, "err", "caseflow: cannot read calendar /nowhere.yaml",
        ),
    ],
)  # fmt: skip
def test_a_process_that_loaded_temporals_client_exits_with_its_output_and_code(
    argv: list[str], code: int, stream: str, text: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITH_BRIDGE, *argv], capture_output=True, text=True, timeout=120
    )

    assert done.returncode == code, done.stderr
    assert text in (done.stdout if stream == "out" else done.stderr)
