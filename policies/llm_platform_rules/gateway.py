"""Gateway rules: every team is limited, team budgets fit the environment's ceiling, and
the image that holds every key is pinned by digest.

The teams and the ceiling are read from `gateway.json` in the ConfigMap `llm-gateway-config`
(the gateway's runtime settings, components/kubernetes/gateway/config.runtime_settings), the
way the engine hands that ConfigMap to the pack.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, Severity

from components import conventions, pricing

from ._base import config, containers, get, pod_labels, pod_spec, rule, string_list, where

CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
GATEWAY = "gateway"
# The four limits a team must state: null in gateway.json means "no limit".
LIMITS = ("rpm", "tpm", "max_parallel_requests", "monthly_budget_usd")


def _settings(args: ResourceValidationArgs, report: ReportViolation) -> Mapping[str, Any] | None:
    """gateway.json of the gateway's ConfigMap, or None for any other resource."""
    if args.resource_type != CONFIG_MAP:
        return None
    if get(args.props, "metadata", "name") != pricing.GATEWAY_CONFIG:
        return None
    text = get(args.props, "data", "gateway.json")
    try:
        settings = json.loads(text) if isinstance(text, str) else None
    except json.JSONDecodeError as exc:
        report(f"{where(args)} data gateway.json is not JSON ({exc.msg}); the gateway cannot "
               f"start. Regenerate it from the spec (llm-platform plan).")
        return None
    return settings if isinstance(settings, dict) else None


def _team_limits(args: ResourceValidationArgs, report: ReportViolation) -> None:
    settings = _settings(args, report)
    exempt = config(args, "exemptTeams", [])
    for team in (settings or {}).get("teams") or []:
        missing = [k for k in LIMITS if team.get(k) is None]
        if missing and team.get("name") not in exempt:
            report(
                f"gateway team '{team.get('name')}' has no {', '.join(missing)} "
                f"({where(args)}, gateway.json): one runaway client of it can use every "
                f"model's capacity and the whole ceiling. Set them on the team in the spec's "
                f"gateway.teams."
            )


def _budgets_within_ceiling(args: ResourceValidationArgs, report: ReportViolation) -> None:
    settings = _settings(args, report) or {}
    ceiling = settings.get("ceiling_usd")
    teams = settings.get("teams") or []
    budgets = [(t.get("name"), t.get("monthly_budget_usd")) for t in teams]
    total = round(sum(b for _, b in budgets if isinstance(b, int | float)), 2)
    overcommit = float(config(args, "overcommitPct", 0))
    if not isinstance(ceiling, int | float) or total <= ceiling * (1 + overcommit / 100):
        return
    listed = ", ".join(f"{n} ${b:,.2f}" for n, b in budgets if isinstance(b, int | float))
    allowed = f" plus the {overcommit:g}% overcommit allowed" if overcommit else ""
    report(
        f"gateway team budgets add up to ${total:,.2f}/month ({listed}), over the "
        f"environment ceiling ${ceiling:,.2f}/month{allowed} ({where(args)}, gateway.json): "
        f"the ceiling refuses every team before each has spent its budget. Lower the teams' "
        f"monthly_budget_usd, raise gateway.ceiling_usd (or budget.monthly_usd), or allow "
        f"the overcommit in the policy config overcommitPct."
    )


def _is_gateway(type_: str, props: Mapping[str, Any]) -> bool:
    component = conventions.APP_COMPONENT
    return GATEWAY in (get(props, "metadata", "labels", component),
                       get(pod_labels(type_, props), component))


def _image_digest(args: ResourceValidationArgs, report: ReportViolation) -> None:
    # A gateway object without a pod template (its Service) has no containers to check.
    if not _is_gateway(args.resource_type, args.props):
        return
    pod = pod_spec(args.resource_type, args.props)
    reason = config(args, "reason", "")
    lowered = f" Lowered by the policy config: {reason}." if reason else ""
    for c in containers(pod):
        image = get(c, "image")
        if not (isinstance(image, str) and "@sha256:" in image):
            report(
                f"{where(args)} container '{get(c, 'name')}' runs {image}, not pinned by "
                f"digest: the gateway holds every team's key and the hosted API keys, and a "
                f"tag can be moved to a compromised build (LiteLLM 1.82.7 and 1.82.8, "
                f"MAL-2026-2144). Pin it as image@sha256:<digest> (components/catalog/"
                f"versions.yaml row `gateway`).{lowered}"
            )


POLICIES = [
    rule(
        "gateway-team-limits",
        "Every gateway team has an rpm, tpm, parallel-request and monthly budget limit.",
        _team_limits,
        severity=Severity.HIGH,
        schema={"exemptTeams": string_list("teams allowed to go without a limit", [])},
        remediation="Set rpm, tpm, max_parallel_requests and monthly_budget_usd on every "
        "team in the spec's gateway.teams.",
    ),
    rule(
        "gateway-budgets-within-ceiling",
        "The gateway teams' monthly budgets add up to at most the environment's ceiling.",
        _budgets_within_ceiling,
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.ADVISORY,
        schema={
            "overcommitPct": {
                "type": "number",
                "minimum": 0,
                "default": 0,
                "description": "how far (percent) team budgets may add up past the ceiling, "
                "since teams rarely all spend their whole budget",
            }
        },
        remediation="Lower the teams' monthly_budget_usd, or raise gateway.ceiling_usd.",
    ),
    rule(
        "gateway-image-digest",
        "Gateway containers (the llm-gateway Deployment and its provisioning Jobs) run "
        "images pinned by @sha256 digest.",
        _image_digest,
        severity=Severity.CRITICAL,
        schema={
            "reason": {
                "type": "string",
                "minLength": 1,
                "description": "why the policy config lowers this rule below mandatory; "
                "shown in every violation",
            }
        },
        remediation="Pin the gateway image by digest in components/catalog/versions.yaml.",
    ),
]
