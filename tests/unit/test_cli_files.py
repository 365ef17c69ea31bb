"""Calendar and SLA policy files given to `caseflow calendar ...` and `caseflow sla ...`: a key
the configuration kind does not know is refused, naming the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from caseflow.cli import main
from caseflow.cli.base import UsageError, refuse_unknown_keys

README = Path(__file__).resolve().parents[2] / "README.md"


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "file.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_unknown_top_level_key_is_named_with_the_file_and_the_known_keys(
    tmp_path: Path,
) -> None:
    path = written(tmp_path, "name: x\ntimezone: UTC\ncolour: blue\n")

    with pytest.raises(UsageError) as refused:
        refuse_unknown_keys(path, "calendars")

    assert str(refused.value) == (
        f"{path}: unknown key 'colour' (calendars take name, timezone, hours, holidays, closures)"
    )


def test_unknown_keys_inside_are_named_by_their_path(tmp_path: Path) -> None:
    policy = written(
        tmp_path,
        "name: x\nkpis:\n  first_response: {warn_after: PT1H, fail_after: PT2H, colour: 1}\n",
    )
    with pytest.raises(UsageError, match=r"unknown key 'kpis\.first_response\.colour'$"):
        refuse_unknown_keys(policy, "sla_policies")

    calendar = written(
        tmp_path,
        "name: x\nholidays: {country: FR, colour: 1}\n"
        "closures: [{start: '2026-12-31T12:00:00+01:00', end: '2026-12-31T18:00:00+01:00', "
        "why: x}]\n",
    )
    with pytest.raises(UsageError, match=r"unknown keys 'holidays\.colour', 'closures\.0\.why'"):
        refuse_unknown_keys(calendar, "calendars")


@pytest.mark.parametrize(
    "text",
    [
        "timezone: UTC\nholidays: ['2026-12-25']\n",  # no name, holidays as a list: files may
        "[not, a, mapping]",
        "name: x\ntimezone: Mars/Base\nhours: {funday: ['09:00-12:00']}\n",
        "name: x\n  bad: yaml: here\n",
    ],
)
def test_what_the_keys_hold_is_left_to_the_loader(tmp_path: Path, text: str) -> None:
    refuse_unknown_keys(written(tmp_path, text), "calendars")


def yaml_blocks_of_the_readme() -> list[str]:
    text = README.read_text(encoding="utf-8")
    return [block.split("```", 1)[0] for block in text.split("```yaml\n")[1:]]


def test_the_readmes_calendar_and_policy_files_have_only_known_keys(tmp_path: Path) -> None:
    blocks = yaml_blocks_of_the_readme()
    calendar = next(b for b in blocks if b.startswith("name: paris-office"))
    policy = next(b for b in blocks if b.startswith("name: gold"))

    refuse_unknown_keys(written(tmp_path, calendar), "calendars")
    refuse_unknown_keys(written(tmp_path, policy), "sla_policies")


def test_caseflow_calendar_add_refuses_a_file_with_an_unknown_key_in_one_line(
    tmp_path: Path,
) -> None:
    path = written(tmp_path, "name: x\ntimezone: UTC\nhours: {monday: ['09:00-17:00']}\nhour: 1\n")
    start = ["--start", "2026-12-24T16:00:00+01:00", "--duration", "PT1H"]

    with pytest.raises(SystemExit) as refused:
        main(["calendar", "add", "--calendar", str(path), *start])

    assert refused.value.code == (
        f"caseflow: {path}: unknown key 'hour' (calendars take name, timezone, hours, holidays, "
        "closures)"
    )
