"""What the plan says about model versions (components/plan/versions.py): the revision each
model serves, the one it replaces, whether it is signed, and a rollout's effective canary
share per step. The figures are worked out here from Argo Rollouts' basic-canary
arithmetic (tests/test_canary.py has it step by step)."""

from __future__ import annotations

import copy

from conftest import stack_spec

from components.plan import versions
from components.spec import load_spec

CANDIDATE = "a09a35458c702b33eeacc393d103063234e8bc28"
STABLE = "bb46c15ee4bb56c5b63245ef50fd7637234d6f75"
ROUTER = (
    "  exact percentages need a traffic router: Argo Rollouts' Gateway API plugin (an "
    "HTTPRoute over support-bot-stable and support-bot-canary; not installed)"
)


def test_the_mid_upgrade_example_in_plan_json(planned):
    (bot, analyst) = planned["onprem-mixed"].plan["model_versions"]
    assert (bot["revision"], bot["replaces"], bot["signed"], bot["served_by"]) == (
        CANDIDATE, STABLE, True, "Rollout")
    # 1 replica: each weight of 1-99 is 1 canary beside 1 stable (maxSurge 1), 50%.
    assert [(s["weight_pct"], s["canary_pods"], s["pods"], s["share_pct"])
            for s in bot["rollout"]["steps"]] == [(5, 1, 2, 50.0), (25, 1, 2, 50.0),
                                                  (50, 1, 2, 50.0)]
    # The surge pod, and the gate's candidate pod still scaling down: 2 x TP1.
    assert bot["rollout"]["extra_gpus"] == 2
    assert (analyst["replaces"], analyst["served_by"], analyst["rollout"]) == (
        None, "Deployment", None)


def test_the_printed_lines_of_the_example():
    (bot, analyst) = versions.model_versions(load_spec(stack_spec("onprem-mixed")))
    assert versions.lines(bot) == [
        f"support-bot: serves {CANDIDATE}, replaces {STABLE}; signed: synced to "
        "onprem.artifact_claim, verified before the engine starts",
        "  Rollout at 1 replica: eval gate on 1 candidate pod, no traffic, shadow 5% for 60 "
        "min, approval (kubectl argo rollouts promote), then",
        "    step 5% → 50%: 1 of 2 pods",
        "    step 25% → 50%: 1 of 2 pods",
        "    step 50% → 50%: 1 of 2 pods",
        ROUTER,
        "  needs 2 GPUs beyond the planned replicas while it runs",
    ]
    assert versions.lines(analyst) == [
        "analyst: serves 6f6073b423013f6a7d4d9f39144961bfbfbc386b, a first version; not "
        "signed: served from a prefilled read-only claim, nothing is synced",
        "  Deployment: a new revision replaces its pods at once (no rollout)",
    ]


def _busy(steps: list[dict] | None = None) -> dict:
    """support-bot at 1,000,000 conversations a day: ~363 concurrent on average over 119
    sequences per replica -> min 4 replicas (its plan's reasons say so)."""
    raw = copy.deepcopy(stack_spec("onprem-mixed"))
    bot = raw["models"][0]
    bot["traffic"]["conversations_per_day"] = 1_000_000
    bot["slo"]["peak_concurrent_requests"] = 1000
    if steps is not None:
        bot["rollout"]["steps"] = steps
    return raw


def test_four_replicas_show_where_the_share_is_not_the_weight():
    env = load_spec(_busy())
    assert env.plans["support-bot"].replicas_min == 4
    (bot, _) = versions.model_versions(env)
    # 5%: 1 of 4 would be 25%, 1 of 5 (with the surge pod) 20%, closer: 20%.
    # 25%: 1 of 4 exactly. 50%: 2 of 4 exactly.
    assert versions.lines(bot)[2:] == [
        "    step 5% → 20%: 1 of 5 pods",
        "    step 25% → 25%: 1 of 4 pods",
        "    step 50% → 50%: 2 of 4 pods",
        ROUTER,
        "  needs 2 GPUs beyond the planned replicas while it runs",
    ]


def test_exact_steps_need_no_router_note():
    steps = [{"weight_pct": 25, "pause_minutes": 30}, {"weight_pct": 50, "pause_minutes": 60}]
    (bot, _) = versions.model_versions(load_spec(_busy(steps)))
    assert bot["rollout"]["exact"] is True
    assert versions.lines(bot)[2:] == [
        "    step 25% → 25%: 1 of 4 pods",
        "    step 50% → 50%: 2 of 4 pods",
        "  needs 2 GPUs beyond the planned replicas while it runs",
    ]


def test_without_a_store_nothing_is_signed():
    (assistant,) = versions.model_versions(load_spec(stack_spec("local")))
    assert (assistant["signed"], assistant["signing"]) == (False, "not signed: no artifact store")
    assert versions.lines(assistant)[0] == (
        "assistant: serves 0e9e39f249a16976918f6564b8830bc894c89659, a first version; not "
        "signed: no artifact store")
