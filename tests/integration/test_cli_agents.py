"""`caseflow agent ...` as an admin runs it (a subprocess on a real SQLite database): adding,
listing, showing, disabling, enabling, renaming agents and setting their passwords."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from caseflow.configuration import import_organisation
from caseflow.passwords import check_password
from caseflow.settings import Settings
from caseflow.store import directory
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.models import Agent
from tests.integration.test_cli import caseflow
from tests.support.api import api_client, bearer

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, seeded home with agents ann (gold, Ann Smith) and sam (supervisor), made
    once through the command itself: each test gets a copy of its database."""
    made = tmp_path_factory.mktemp("agents")
    assert caseflow(made, "db", "upgrade").returncode == 0
    assert caseflow(made, "seed").returncode == 0
    ann = caseflow(made, "agent", "add", "ann", "--email", "ann@x.test", "--queue", "gold",
                   "--queue", "standard", "--name", "Ann Smith")  # fmt: skip
    assert ann.returncode == 0, ann.stderr
    sam = caseflow(made, "agent", "add", "sam", "--email", "sam@x.test", "--role", "supervisor")
    assert sam.returncode == 0, sam.stderr
    return made


@pytest.fixture
def home(prepared: Path, tmp_path: Path) -> Path:
    for name in ("caseflow.db", "caseflow.db-wal"):  # the command closed it: WAL checkpointed
        if (prepared / name).exists():
            shutil.copy(prepared / name, tmp_path / name)
    return tmp_path


def agent(home: Path, handle: str) -> Agent:
    engine = make_engine(f"sqlite:///{home / 'caseflow.db'}")
    with transaction(session_factory(engine), writes=False) as session:
        found = directory.agent_by_handle(session, handle)
    engine.dispose()
    assert found is not None
    return found


def test_agent_list_shows_each_agent_with_name_role_queues_active_and_password(
    home: Path,
) -> None:
    listed = caseflow(home, "agent", "list")

    assert listed.returncode == 0, listed.stderr
    header, rule, *rows = listed.stdout.splitlines()
    assert header.split() == ["handle", "name", "role", "queues", "active", "password"]
    assert set(rule) <= {"-", " "}
    assert rows[0].split() == ["ann", "Ann", "Smith", "agent", "gold,standard", "yes", "no"]
    assert rows[1].split() == ["sam", "-", "supervisor", "-", "yes", "no"]


def test_agent_show_tells_everything_but_secrets_and_names_an_unknown_agent(home: Path) -> None:
    shown = caseflow(home, "agent", "show", "ann")

    assert shown.returncode == 0, shown.stderr
    lines = dict(line.split(":", 1) for line in shown.stdout.splitlines() if ":" in line)
    assert lines["name"].strip() == "Ann Smith" and lines["email"].strip() == "ann@x.test"
    assert lines["queues"].strip() == "gold, standard" and lines["active"].strip() == "yes"
    assert lines["password"].strip().startswith("none")
    assert "cf_" not in shown.stdout and agent(home, "ann").token_hash not in shown.stdout
    unknown = caseflow(home, "agent", "show", "nobody")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "caseflow: there is no agent 'nobody'"


async def test_a_disabled_agents_token_is_refused_until_enabled_again(tmp_path: Path) -> None:
    caseflow(tmp_path, "db", "upgrade")
    caseflow(tmp_path, "seed")
    token = caseflow(tmp_path, "agent", "add", "bo", "--email", "bo@x.test").stdout.split()[-1]
    settings = Settings(home=tmp_path)

    disabled = caseflow(tmp_path, "agent", "disable", "bo")
    assert disabled.returncode == 0, disabled.stderr
    async with api_client(settings, None) as http:
        refused = await http.get("/cases", headers=bearer(token))
        assert refused.status_code == 401 and "disabled" in refused.json()["detail"]
    assert agent(tmp_path, "bo").active is False
    assert "bo" in caseflow(tmp_path, "agent", "list").stdout  # still there, with their history

    assert caseflow(tmp_path, "agent", "enable", "bo").returncode == 0
    async with api_client(settings, None) as http:
        assert (await http.get("/cases", headers=bearer(token))).status_code == 200


def test_an_agent_a_routing_rule_assigns_cases_to_cannot_be_disabled(home: Path) -> None:
    engine = make_engine(f"sqlite:///{home / 'caseflow.db'}")
    with transaction(session_factory(engine)) as session:
        rule = {"name": "gold to ann", "position": 5, "queue": "gold", "agent": "ann",
                "conditions": {"channels": ["phone"]}}  # fmt: skip
        import_organisation(session, {"routing_rules": [rule]})
    engine.dispose()

    refused = caseflow(home, "agent", "disable", "ann")

    assert refused.returncode == 1 and "gold to ann" in refused.stderr
    assert agent(home, "ann").active is True


def test_agent_rename_changes_the_name_that_signs_their_emails(home: Path) -> None:
    renamed = caseflow(home, "agent", "rename", "sam", "--name", "Sam Okafor")

    assert renamed.returncode == 0, renamed.stderr
    assert agent(home, "sam").display_name == "Sam Okafor"
    assert "name: Sam Okafor" in caseflow(home, "export").stdout
    too_long = caseflow(home, "agent", "rename", "sam", "--name", "x" * 201)
    assert too_long.returncode == 1 and "200" in too_long.stderr
    assert agent(home, "sam").display_name == "Sam Okafor"


def test_agent_password_from_stdin_is_checked_then_stored_as_an_argon2_hash(home: Path) -> None:
    short = caseflow(home, "agent", "password", "ann", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    assert agent(home, "ann").password_hash is None

    done = caseflow(home, "agent", "password", "ann", "--password-stdin", stdin=PASSWORD + "\n")

    assert done.returncode == 0, done.stderr
    stored = agent(home, "ann").password_hash
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored
    assert check_password(stored, PASSWORD)
    assert caseflow(home, "agent", "list").stdout.splitlines()[2].split()[-1] == "yes"


def test_agent_password_without_a_terminal_asks_for_password_stdin(home: Path) -> None:
    refused = caseflow(home, "agent", "password", "ann")

    assert refused.returncode == 1 and "--password-stdin" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_agent_add_takes_a_name_and_a_password_and_still_prints_the_token_last(
    home: Path,
) -> None:
    added = caseflow(home, "agent", "add", "cy", "--email", "cy@x.test", "--name", "Cy Young",
                     "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip

    assert added.returncode == 0, added.stderr
    assert added.stdout.strip().splitlines()[-1].startswith("cf_")
    cy = agent(home, "cy")
    assert cy.display_name == "Cy Young" and cy.password_hash is not None
    assert check_password(cy.password_hash, PASSWORD)
    refused = caseflow(home, "agent", "add", "di", "--email", "di@x.test", "--password-stdin",
                       stdin="\n")  # fmt: skip
    assert refused.returncode == 1 and "password" in refused.stderr
    assert "di" not in caseflow(home, "agent", "list").stdout.split()


def test_agent_add_refuses_a_handle_or_address_the_configuration_would_not_take_back(
    home: Path,
) -> None:
    spaced = caseflow(home, "agent", "add", "Ada Admin", "--email", "ada@x.test")
    taken = caseflow(home, "agent", "add", "annie", "--email", "ANN@x.test")

    assert spaced.returncode == 1 and "handle" in spaced.stderr
    assert spaced.stderr.startswith("caseflow: agent 'Ada Admin' not added: ")
    assert taken.returncode == 1
    assert taken.stderr.strip() == "caseflow: agent 'ann' already has the address ann@x.test"
    assert [row.split()[0] for row in caseflow(home, "agent", "list").stdout.splitlines()[2:]] == [
        "ann",
        "sam",
    ]
