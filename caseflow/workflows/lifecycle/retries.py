"""Agent actions sent again under the same update id: what the case remembers of those it did.

Temporal answers a repeated update id with the first outcome only within one run. A case that
continued as new between an attempt and its retry would carry the action out twice, so the state
keeps the ids of the latest actions (`CaseState.acted`, carried across continue-as-new) and a
retry of one of them is answered as done.
"""

from __future__ import annotations

from caseflow.workflows.model import (
    ACTION_UPDATE_PREFIX,
    REMEMBERED_ACTIONS,
    ActedOn,
    CaseState,
)


def is_action_id(update_id: str) -> bool:
    """Whether this update id names an agent's action (one derived from an Idempotency-Key)."""
    return update_id.startswith(ACTION_UPDATE_PREFIX)


def acted_before(state: CaseState, update_id: str) -> ActedOn | None:
    """The action this update id already carried out in this case, if the case remembers it."""
    if not is_action_id(update_id):
        return None
    return next((done for done in state.acted if done.update_id == update_id), None)


def remember_action(state: CaseState, update_id: str, activity_id: int | None = None) -> None:
    """Remember an action carried out (the latest REMEMBERED_ACTIONS of them); other updates'
    ids (the customer's links, other cases asking) are not agent actions and are not kept."""
    if not is_action_id(update_id) or acted_before(state, update_id) is not None:
        return
    state.acted.append(ActedOn(update_id=update_id, activity_id=activity_id))
    del state.acted[:-REMEMBERED_ACTIONS]
