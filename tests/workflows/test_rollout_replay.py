"""Recorded change rollouts still replay: a change to ChangeRolloutWorkflow that would break a
rollout running across a deploy fails here.

`tests/histories/rollout/` holds the two runs of a rollout over 25 cases in pages of 20 (the
first ends by continuing as new), written by
`CASEFLOW_RECORD_ROLLOUT=1 .venv/bin/pytest tests/integration/test_rollout.py -k batches_once`.
Regenerate them only for a change no running rollout will replay against; otherwise guard the
change with `workflow.patched()` and keep the files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from caseflow.worker import WORKFLOW_RUNNER
from caseflow.workflows.payloads import DATA_CONVERTER
from caseflow.workflows.rollout import ChangeRolloutWorkflow

HISTORIES = Path(__file__).resolve().parent.parent / "histories" / "rollout"
RECORDED = sorted(HISTORIES.glob("*.json"))


def event_types(path: Path) -> list[str]:
    events = json.loads(path.read_text(encoding="utf-8"))["events"]
    return [event["eventType"].removeprefix("EVENT_TYPE_") for event in events]


def test_a_rollout_over_two_pages_is_recorded_as_two_runs() -> None:
    assert [p.name for p in RECORDED] == ["two_pages_run1.json", "two_pages_run2.json"]
    first, second = (event_types(p) for p in RECORDED)
    assert first[-1] == "WORKFLOW_EXECUTION_CONTINUED_AS_NEW"
    assert second[-1] == "WORKFLOW_EXECUTION_COMPLETED"


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
async def test_recorded_rollout_replays_without_nondeterminism(path: Path) -> None:
    replayer = Replayer(
        workflows=[ChangeRolloutWorkflow],
        data_converter=DATA_CONVERTER,
        workflow_runner=WORKFLOW_RUNNER,
    )
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
