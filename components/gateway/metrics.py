"""The gateway's own metrics (names and labels are the contract the alert rules, dashboards
and tests use). They live in prometheus_client's default registry, which LiteLLM's /metrics/
serves (litellm==1.106.12 integrations/prometheus.py:4816,4830: `make_metrics_asgi_app(REGISTRY)`
when PROMETHEUS_MULTIPROC_DIR is unset, as with one worker per pod).

Several replicas report the same gauges; rules take `max by (team)` of them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Summary

from components.gateway.settings import Settings

REQUESTS = Counter("llm_gateway_requests", "Requests answered, by HTTP status",
                   ["team", "model", "served_by", "code"])
TOKENS = Counter("llm_gateway_tokens", "Tokens of answered requests",
                 ["team", "model", "served_by", "direction"])
SPEND = Counter("llm_gateway_spend_usd", "USD spent (LiteLLM's response_cost)",
                ["team", "model", "served_by"])
RATE_LIMITED = Counter("llm_gateway_rate_limited", "Requests refused with 429, by the limit hit",
                       ["team", "model", "limit"])
FALLBACKS = Counter("llm_gateway_fallbacks", "Requests served by the hosted fallback",
                    ["team", "model", "reason"])
REFUSALS = Counter("llm_gateway_refusals", "Answers that decline (components/quality/logs.py)",
                   ["team", "model"])
TEAM_BUDGET = Gauge("llm_gateway_team_budget_usd", "A team's monthly budget", ["team"])
TEAM_SPEND = Gauge("llm_gateway_team_spend_usd", "A team's spend this UTC month", ["team"])
# Shadow traffic (shadow.py): `revision` is the candidate's. A Summary without quantiles is
# exactly the _sum and _count pair the shadow analysis divides (prometheus_client==0.26.0
# metrics.py Summary).
SHADOW_REQUESTS = Counter("llm_gateway_shadow_requests", "Requests copied to a rollout's candidate",
                          ["model", "revision", "outcome"])
SHADOW_SCORE = Summary("llm_gateway_shadow_score",
                       "Candidate answers' scores against the incumbent's (0..1)",
                       ["model", "revision"])
SHADOW_REFUSALS = Counter("llm_gateway_shadow_refusals",
                          "Refusals among shadowed requests both answered, by whose answer",
                          ["model", "revision", "role"])
CEILING = Gauge("llm_gateway_ceiling_usd", "The environment's monthly cost ceiling")
MONTH_SPEND = Gauge("llm_gateway_spend_month_usd", "The environment's spend this UTC month")

# served_by label values: the model's own servers, or its hosted fallback.
SELF_HOSTED = "self-hosted"
FALLBACK = "fallback"


def publish_settings(settings: Settings) -> None:
    """The budgets and the ceiling, known from the settings alone (a team with no budget
    has no series)."""
    for team in settings.teams:
        if team.monthly_budget_usd is not None:
            TEAM_BUDGET.labels(team.name).set(team.monthly_budget_usd)
    if settings.ceiling_usd is not None:
        CEILING.set(settings.ceiling_usd)


def publish_spend(team: str, team_usd: float, environment_usd: float) -> None:
    TEAM_SPEND.labels(team).set(team_usd)
    MONTH_SPEND.set(environment_usd)
