"""The `caseflow` command as a user runs it, with CASEFLOW_* variables: run in this process
(tests/support/cli.py), its exit code and output as a subprocess's."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from caseflow.settings import DEVELOPMENT_SECRET, find_home
from caseflow.signing import token_hash
from caseflow.store import directory
from caseflow.store.db import head_revision, make_engine, session_factory, transaction
from tests.conftest import empty_postgres_database
from tests.support.cli import run_caseflow

PARIS = """
name: paris-office
timezone: Europe/Paris
hours:
  monday: ["09:00-13:00", "14:00-18:00"]
  thursday: ["09:00-13:00", "14:00-18:00"]
  friday: ["09:00-13:00", "14:00-17:00"]
holidays: ["2026-12-25"]
"""


def caseflow(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The command with this home, standard input from `stdin` (never a terminal)."""
    env = {**os.environ, "CASEFLOW_HOME": str(home)}
    env.pop("CASEFLOW_DATABASE_URL", None)
    return run_caseflow(*args, env=env, stdin=stdin)


def test_agent_add_prints_the_token_last_and_stores_only_its_hash(tmp_path: Path) -> None:
    assert caseflow(tmp_path, "db", "upgrade").returncode == 0
    assert caseflow(tmp_path, "seed").returncode == 0
    added = caseflow(tmp_path, "agent", "add", "ann", "--email", "ann@x.test", "--queue", "gold")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("cf_") and len(token) > 40
    engine = make_engine(f"sqlite:///{tmp_path / 'caseflow.db'}")
    with transaction(session_factory(engine)) as session:
        agent = directory.agent_by_token_hash(session, token_hash(DEVELOPMENT_SECRET, token))
        assert agent is not None and agent.handle == "ann" and agent.token_hash != token
        assert [q.name for q in agent.queues] == ["gold"]
    engine.dispose()


def test_agent_add_refuses_an_unknown_queue_and_a_duplicate(tmp_path: Path) -> None:
    caseflow(tmp_path, "db", "upgrade")
    caseflow(tmp_path, "seed")
    unknown = caseflow(tmp_path, "agent", "add", "bo", "--email", "bo@x.test", "--queue", "nope")
    assert unknown.returncode == 1 and "unknown queue 'nope'" in unknown.stderr
    assert caseflow(tmp_path, "agent", "add", "bo", "--email", "bo@x.test").returncode == 0
    again = caseflow(tmp_path, "agent", "add", "bo", "--email", "bo2@x.test")
    assert again.returncode == 1 and "already exists" in again.stderr


def test_seed_twice_is_harmless(tmp_path: Path) -> None:
    caseflow(tmp_path, "db", "upgrade")
    assert caseflow(tmp_path, "seed").returncode == 0
    assert caseflow(tmp_path, "seed").returncode == 0


def test_calendar_add_prints_the_due_instant_in_business_time(tmp_path: Path) -> None:
    calendar = tmp_path / "paris.yaml"
    calendar.write_text(PARIS)
    start = "2026-12-24T16:00:00+01:00"  # Thursday 16:00; Friday is Christmas
    due = caseflow(tmp_path, "calendar", "add", "--calendar", str(calendar), "--start", start,
                   "--duration", "PT4H")  # fmt: skip
    assert due.stdout.strip() == "2026-12-28T11:00:00+01:00", due.stderr
    between = caseflow(tmp_path, "calendar", "between", "--calendar", str(calendar),
                       "--start", start, "--end", "2026-12-28T10:00:00+01:00")  # fmt: skip
    assert between.stdout.strip() == "10800"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name: x\ntimezone: Mars/Base\n", "unknown time zone"),
        ('timezone: UTC\nhours:\n  monday: ["09:00-12:00", "11:00-13:00"]\n', "overlap"),
        ('timezone: UTC\nhours:\n  monday: ["12:00-09:00"]\n', "empty"),
        ('timezone: UTC\nhours:\n  funday: ["09:00-12:00"]\n', "unknown weekday"),
        ("[not, a, mapping]", "mapping"),
    ],
)
def test_a_bad_calendar_is_refused_with_a_clear_message(
    tmp_path: Path, content: str, message: str
) -> None:
    calendar = tmp_path / "bad.yaml"
    calendar.write_text(content)
    result = caseflow(tmp_path, "calendar", "add", "--calendar", str(calendar),
                      "--start", "2026-12-24T16:00:00+01:00", "--duration", "PT1H")  # fmt: skip
    assert result.returncode == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_an_instant_without_offset_is_refused(tmp_path: Path) -> None:
    calendar = tmp_path / "paris.yaml"
    calendar.write_text(PARIS)
    result = caseflow(tmp_path, "calendar", "add", "--calendar", str(calendar),
                      "--start", "2026-12-24T16:00:00", "--duration", "PT1H")  # fmt: skip
    assert result.returncode == 1 and "needs a UTC offset" in result.stderr


DRAFT = """
name: standard
calendar: business-hours-paris
kpis:
  first_response: {warn_after: PT6H, fail_after: PT8H}
"""


def test_sla_load_saves_a_policy_and_refuses_a_bad_one(tmp_path: Path) -> None:
    caseflow(tmp_path, "db", "upgrade")
    caseflow(tmp_path, "seed")
    (tmp_path / "draft.yaml").write_text(DRAFT)
    assert caseflow(tmp_path, "sla", "load", str(tmp_path / "draft.yaml")).returncode == 0
    (tmp_path / "bad.yaml").write_text(DRAFT.replace("PT6H", "PT9H"))
    bad = caseflow(tmp_path, "sla", "load", str(tmp_path / "bad.yaml"))
    assert bad.returncode == 1 and "must come before its failure" in bad.stderr


def test_sla_simulate_reports_without_changing_anything(tmp_path: Path) -> None:
    caseflow(tmp_path, "db", "upgrade")
    caseflow(tmp_path, "seed")
    (tmp_path / "draft.yaml").write_text(DRAFT)
    result = caseflow(
        tmp_path, "sla", "simulate", "--policy", str(tmp_path / "draft.yaml"), "--since", "P30D"
    )
    assert result.returncode == 0, result.stderr
    assert "0 cases created since" in result.stdout and "no case would change" in result.stdout


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_organisation() -> str:
    """The full organisation example of the README (the YAML block after its marker)."""
    text = README.read_text(encoding="utf-8")
    after = text.split("<!-- organisation-example", 1)[1]
    return after.split("```yaml\n", 1)[1].split("```", 1)[0]


def test_the_readme_organisation_imports_once_then_changes_nothing(tmp_path: Path) -> None:
    caseflow(tmp_path, "db", "upgrade")
    caseflow(tmp_path, "seed")
    file = tmp_path / "organisation.yaml"
    file.write_text(readme_organisation(), encoding="utf-8")

    first = caseflow(tmp_path, "import", str(file), "--no-retime")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1].endswith("0 updated, 0 unchanged")
    again = caseflow(tmp_path, "import", str(file), "--no-retime")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1].startswith("0 created, 0 updated")

    exported = caseflow(tmp_path, "export")
    assert exported.returncode == 0, exported.stderr
    (tmp_path / "exported.yaml").write_text(exported.stdout, encoding="utf-8")
    back = caseflow(tmp_path, "import", str(tmp_path / "exported.yaml"), "--no-retime")
    assert back.stdout.strip().splitlines()[-1].startswith("0 created, 0 updated"), back.stdout


def test_an_organisation_with_a_mistake_imports_nothing_and_says_where(tmp_path: Path) -> None:
    caseflow(tmp_path, "db", "upgrade")
    caseflow(tmp_path, "seed")
    file = tmp_path / "organisation.yaml"
    file.write_text(
        readme_organisation().replace(
            "queue: billing\n    agent: rui", "queue: billing\n    agent: nobody"
        ),
        encoding="utf-8",
    )
    refused = caseflow(tmp_path, "import", str(file))
    assert refused.returncode != 0
    assert "nothing imported" in refused.stderr and "invoices" in refused.stderr
    assert "nobody" in refused.stderr
    exported = caseflow(tmp_path, "export")
    assert "Initech" not in exported.stdout and "lisbon-office" not in exported.stdout


def test_an_organisation_with_several_mistakes_lists_each_on_its_own_line(tmp_path: Path) -> None:
    caseflow(tmp_path, "db", "upgrade")
    caseflow(tmp_path, "seed")
    file = tmp_path / "organisation.yaml"
    mistaken = (
        readme_organisation()
        .replace("queue: billing\n    agent: rui", "queue: billing\n    agent: nobody")
        .replace("timezone: Europe/Lisbon", "timezone: Europe/Atlantis")
        .replace("{name: Initech Payroll}", "{name: Initech Payroll, colour: blue}")
    )
    file.write_text(mistaken, encoding="utf-8")

    refused = caseflow(tmp_path, "import", str(file))

    assert refused.returncode == 1
    first, *problems = refused.stderr.strip().splitlines()
    assert first == f"caseflow: {file}: nothing imported, {len(problems)} problems:"
    assert any(p.startswith("  calendars 'lisbon-office': ") and "Atlantis" in p for p in problems)
    assert any(p.startswith("  products 'Initech Payroll': colour: ") for p in problems)
    assert any(p.startswith("  routing_rules 'invoices': ") and "nobody" in p for p in problems)
    assert "Initech" not in caseflow(tmp_path, "export").stdout


# -- which database: the project's .caseflow, found upwards -------------------------------------


def caseflow_in(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The command run from `folder` in a new terminal: no CASEFLOW_HOME, no database URL."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CASEFLOW_")}
    return run_caseflow(*args, env={**clean, **env}, cwd=folder)


@pytest.fixture
def nowhere(tmp_path: Path) -> Path:
    """A folder with no .caseflow in it or in any folder above it."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    if find_home(folder) is not None:
        pytest.skip(f"{find_home(folder)} is above the test's folder")
    return folder


def test_from_a_subfolder_the_cli_uses_the_projects_caseflow_above_it(tmp_path: Path) -> None:
    project = tmp_path / "project"
    deep = project / "src" / "module"
    deep.mkdir(parents=True)
    assert caseflow_in(project, "db", "upgrade").returncode == 0
    assert (project / ".caseflow" / "caseflow.db").is_file()

    added = caseflow_in(deep, "agent", "add", "ann", "--email", "ann@x.test")

    assert added.returncode == 0, added.stderr
    assert "ann" in caseflow_in(project, "agent", "list").stdout
    assert sorted(p.name for p in deep.iterdir()) == []


@pytest.mark.parametrize(
    "command",
    [["report"], ["export"], ["agent", "list"], ["import", "org.yaml"], ["api"], ["worker"],
     ["intake"]],
)  # fmt: skip
def test_without_a_caseflow_anywhere_a_command_says_so_in_one_line_and_creates_nothing(
    nowhere: Path, command: list[str]
) -> None:
    refused = caseflow_in(nowhere, *command)

    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and refused.stdout == ""
    assert refused.stderr.startswith(f"caseflow: no .caseflow directory in {nowhere} ")
    assert "caseflow db upgrade" in refused.stderr
    assert list(nowhere.iterdir()) == []


@pytest.mark.parametrize("command", [["report"], ["agent", "list"], ["api"], ["worker"]])
def test_an_unmigrated_database_is_refused_in_one_line_naming_the_fix(
    tmp_path: Path, command: list[str]
) -> None:
    (tmp_path / ".caseflow").mkdir()
    database = tmp_path / ".caseflow" / "caseflow.db"
    sqlite3.connect(database).close()  # an empty file, as the CLI used to leave behind
    below = tmp_path / "sub"
    below.mkdir()

    refused = caseflow_in(below, *command)

    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == (
        f"caseflow: the database sqlite:///{database} is not migrated (revision none, needs "
        f"{head_revision()}): run 'caseflow db upgrade'\n"
    )


def test_a_missing_database_says_it_does_not_exist_and_where_it_looked(tmp_path: Path) -> None:
    (tmp_path / ".caseflow").mkdir()
    below = tmp_path / "sub"
    below.mkdir()

    refused = caseflow_in(below, "export")
    explicit = caseflow_in(below, "export", CASEFLOW_HOME=str(tmp_path / "gone"))

    database = tmp_path / ".caseflow" / "caseflow.db"
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert f"the database sqlite:///{database} does not exist" in refused.stderr
    assert f"found from {below}" in refused.stderr and "caseflow db upgrade" in refused.stderr
    assert explicit.returncode == 1 and f"CASEFLOW_HOME is {tmp_path / 'gone'}" in explicit.stderr
    assert not database.exists() and not (tmp_path / "gone").exists()


def test_an_unmigrated_postgresql_database_is_refused_without_its_password(tmp_path: Path) -> None:
    with empty_postgres_database() as url:
        secret_url = url.replace("postgres@", "postgres:hunter2@")
        refused = caseflow_in(tmp_path, "report", CASEFLOW_DATABASE_URL=secret_url)

    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert "is not migrated (revision none" in refused.stderr
    assert "hunter2" not in refused.stderr and "***" in refused.stderr


def test_seed_in_a_folder_without_caseflow_makes_one_there_migrated(nowhere: Path) -> None:
    seeded = caseflow_in(nowhere, "seed")

    assert seeded.returncode == 0, seeded.stderr
    assert (nowhere / ".caseflow" / "caseflow.db").is_file()
    assert caseflow_in(nowhere, "agent", "list").stdout.strip() == "no agents"
