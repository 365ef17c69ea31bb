"""The `caseflow` command as a user runs it: a subprocess with CASEFLOW_* variables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from caseflow.settings import DEVELOPMENT_SECRET
from caseflow.signing import token_hash
from caseflow.store import directory
from caseflow.store.db import make_engine, session_factory, transaction

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
    return subprocess.run(
        [sys.executable, "-m", "caseflow.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


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
