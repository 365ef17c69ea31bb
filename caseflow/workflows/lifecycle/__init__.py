"""The case lifecycle as pure functions: who may do what in which state, and what follows.

Each function takes the case state, a request and the current time, refuses with `Refusal` before
changing anything, or changes the state and returns the `Effects` the workflow must carry out:
timeline events to record, emails to send, entitlement changes, follow-up cases to open.

The rules live by concern, in layers (each module imports only those before it): `base`, then
`outbound`, `entitlements`, `clocks`, `activities`, `policy`, then `transitions` (every change of
status), then `inbound`, `customer`, `timers`, `resolution`, then `related` and `actions` (each
module registers its own agent actions in `ACTIONS`), then `creation`; `retries` (the agent
actions a case remembers, so that a retried one is not done twice) and `replies` (whether a
reply to a resolved case reopens it, judged from its words) stand apart, on the model only.
This package is their one entry: the workflows and the tests use what it exports.
"""

from __future__ import annotations

from caseflow.workflows.lifecycle.actions import (
    STALE,
    carry_out_accepted,
    check_seen,
    perform,
    validate,
)
from caseflow.workflows.lifecycle.base import (
    ACTIONS,
    ACTIVE,
    ESCALATIONS_QUEUE,
    FINAL,
    MAX_TEXT,
    PAUSED_BY_WAITING,
    RULES_VERSION,
    STAGE_FIELDS,
    STAGE_ORDER,
    UNVERIFIED_KEPT,
    WORKING,
    Action,
    Effects,
    Refusal,
    humanize,
    required_fields,
    stage_requirements,
)
from caseflow.workflows.lifecycle.creation import commit, create
from caseflow.workflows.lifecycle.customer import (
    LinkState,
    answer_survey,
    check_resolution_response,
    check_survey_answer,
    email_failed,
    follow_up_opened,
    resolution_link,
    respond_to_resolution,
    survey_link,
    survey_link_of,
)
from caseflow.workflows.lifecycle.entitlements import give_back_entitlement, holds_entitlement_use
from caseflow.workflows.lifecycle.inbound import follow_up_for, receive_email
from caseflow.workflows.lifecycle.outbound import (
    ack_withheld,
    customer_address,
    customer_recipient,
)
from caseflow.workflows.lifecycle.policy import calendar_changed, migrate_policy
from caseflow.workflows.lifecycle.related import (
    absorb,
    adopt_child,
    check_absorb,
    check_adopt,
    children_notified,
    parent_changed,
)
from caseflow.workflows.lifecycle.replies import ReplyVerdict, judge_reply
from caseflow.workflows.lifecycle.resolution import missing_before_resolve
from caseflow.workflows.lifecycle.retries import acted_before, is_action_id, remember_action
from caseflow.workflows.lifecycle.timers import fire_timers, next_wakeup, survey_to_hand_off

_give_back_entitlement = give_back_entitlement  # its name before the rules were split

__all__ = [
    "ACTIONS", "ACTIVE", "ESCALATIONS_QUEUE", "FINAL", "MAX_TEXT", "PAUSED_BY_WAITING",
    "RULES_VERSION", "STAGE_FIELDS", "STAGE_ORDER", "UNVERIFIED_KEPT", "WORKING", "Action",
    "Effects", "LinkState", "Refusal", "ReplyVerdict", "absorb", "ack_withheld", "acted_before",
    "adopt_child", "answer_survey",
    "calendar_changed", "carry_out_accepted", "check_absorb", "check_adopt",
    "check_resolution_response", "check_survey_answer", "children_notified", "commit", "create",
    "customer_address", "customer_recipient", "email_failed", "fire_timers", "follow_up_for",
    "follow_up_opened", "give_back_entitlement", "holds_entitlement_use", "humanize",
    "is_action_id", "judge_reply", "migrate_policy", "missing_before_resolve", "next_wakeup",
    "parent_changed",
    "perform", "receive_email", "remember_action", "required_fields", "resolution_link",
    "respond_to_resolution", "stage_requirements", "survey_link", "survey_link_of",
    "survey_to_hand_off", "validate", "STALE", "check_seen",
]  # fmt: skip
