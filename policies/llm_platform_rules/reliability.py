"""Reliability rules: model servers serve a pinned revision and survive node drains and slow
loads; alerts are actionable."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity, StackValidationArgs

from components import conventions

from ._base import (
    config,
    containers,
    get,
    items,
    known,
    pod_labels,
    pod_spec,
    rule,
    string_list,
    where,
)

MODEL_SERVER = "model-server"
COMPONENT_LABEL = conventions.APP_COMPONENT
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
SEVERITIES = ["critical", "warning", "info"]
_COMPONENT_SCHEMA = {
    "component": {
        "type": "string",
        "default": MODEL_SERVER,
        "description": "app.kubernetes.io/component of model servers",
    }
}


def _is_model_server(type_: str, props: Mapping[str, Any], component: str) -> bool:
    return (
        pod_spec(type_, props) is not None
        and get(pod_labels(type_, props), COMPONENT_LABEL) == component
    )


def _probes(args: ResourceValidationArgs, report: ReportViolation) -> None:
    component = config(args, "component", MODEL_SERVER)
    if not _is_model_server(args.resource_type, args.props, component):
        return
    pod = pod_spec(args.resource_type, args.props)
    for c in containers(pod, init=False):
        missing = [p for p in ("startupProbe", "readinessProbe") if get(c, p) is None]
        if missing:
            report(
                f"{where(args)} container '{get(c, 'name')}' has no {' or '.join(missing)}. "
                f"A model server needs a startup probe as long as its weight load and a "
                f"readiness probe on /v1/models, or traffic reaches it before the model is "
                f"loaded (components.kubernetes.model_server sets both)."
            )


# A pinned revision, as the spec takes models[].revision (components/spec/types.py Revision):
# a Hub repository's 40-hex commit or our own fine-tune's version; never a name that moves.
PINNED_REVISION = re.compile(r"v?[0-9a-z][0-9a-z.-]{0,39}")
MOVING_REVISIONS = ("main", "master", "latest")


def revision_problem(revision: Any) -> str | None:
    """What is wrong with a pod template's revision label; None when it pins one build."""
    if not revision:
        return "no revision"
    if revision in MOVING_REVISIONS:
        return f"revision {revision!r}, a branch or tag that moves"
    if not PINNED_REVISION.fullmatch(str(revision)):
        return f"revision {revision!r}, neither a 40-hex commit nor a version"
    return None


def _model_pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    component = config(args, "component", MODEL_SERVER)
    if not _is_model_server(args.resource_type, args.props, component):
        return
    labels = pod_labels(args.resource_type, args.props)
    problem = revision_problem(get(labels, conventions.REVISION_LABEL))
    if problem:
        model = get(labels, conventions.APP_NAME)
        report(
            f"{where(args)} serves model '{model}' with {problem} on its pod template "
            f"(label {conventions.REVISION_LABEL}): the same spec could serve other weights "
            f"tomorrow, and a rollback has no revision to return to. Set models[].revision "
            f"of '{model}' in the stack to the commit it serves (40 hex, "
            f"huggingface_hub.model_info(hf_id).sha) or to your fine-tune's version; the "
            f"platform labels the model server's pods with it."
        )


def _selects(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    match = selector.get("matchLabels") or {}
    exprs = selector.get("matchExpressions") or []
    if not match and not exprs:
        return False  # an empty selector is never what the author meant
    for expr in exprs:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return all(labels.get(k) == v for k, v in match.items())


def _namespace(props: Mapping[str, Any]) -> str:
    return get(props, "metadata", "namespace") or "default"


def _disruption_budgets(args: StackValidationArgs, report: ReportViolation) -> None:
    component = args.get_config().get("component") or MODEL_SERVER
    pdbs = [known(r.props) for r in args.resources if r.resource_type == PDB]
    for r in args.resources:
        props = known(r.props)
        if not _is_model_server(r.resource_type, props, component):
            continue
        labels = pod_labels(r.resource_type, props)
        ns = _namespace(props)
        if not any(
            _namespace(p) == ns and _selects(get(p, "spec", "selector") or {}, labels) for p in pdbs
        ):
            report(
                f"model server '{r.name}' has no PodDisruptionBudget selecting its pods in "
                f"namespace {ns}: a node drain can take every replica down at once. Add a "
                f"PodDisruptionBudget with maxUnavailable 1 and the Deployment's selector.",
                r.urn,
            )


def _alert_rules(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != "kubernetes:monitoring.coreos.com/v1:PrometheusRule":
        return
    allowed = config(args, "severities", SEVERITIES)
    for group in items(get(args.props, "spec", "groups")):
        for entry in items(get(group, "rules")):
            alert = get(entry, "alert")
            if not alert:
                continue
            problems = []
            if not str(get(entry, "annotations", "runbook_url") or "").strip():
                problems.append("no annotations.runbook_url")
            severity = get(entry, "labels", "severity")
            if severity not in allowed:
                problems.append(f"labels.severity {severity!r} is not one of {', '.join(allowed)}")
            if problems:
                report(
                    f"{where(args)} alert {alert} (group {get(group, 'name')}): "
                    f"{'; '.join(problems)}. Every alert pages or tickets a human, who needs "
                    f"a severity to route it and a runbook to act on it "
                    f"(runbooks/<Alert>.md)."
                )


POLICIES = [
    rule(
        "model-pinned",
        "Every model server (Deployment or Argo Rollouts Rollout) serves a pinned revision: "
        "its pod template carries llm-platform.dev/revision with a commit or a version.",
        _model_pinned,
        severity=Severity.HIGH,
        schema=_COMPONENT_SCHEMA,
        remediation="Pin models[].revision in the stack to the Hub commit (40 hex) or the "
        "fine-tune's version.",
    ),
    rule(
        "model-server-disruption-budget",
        "Every model server has a PodDisruptionBudget.",
        _disruption_budgets,
        stack=True,
        severity=Severity.MEDIUM,
        schema=_COMPONENT_SCHEMA,
        remediation="Add a PodDisruptionBudget whose selector matches the model server pods.",
    ),
    rule(
        "model-server-probes",
        "Every model server container has a startup probe and a readiness probe.",
        _probes,
        severity=Severity.MEDIUM,
        schema=_COMPONENT_SCHEMA,
        remediation="Give the serving container a startupProbe and a readinessProbe.",
    ),
    rule(
        "alert-rule-runbooks",
        "Every alert rule has a runbook_url annotation and a severity label.",
        _alert_rules,
        severity=Severity.MEDIUM,
        schema={"severities": string_list("allowed severity labels", SEVERITIES)},
        remediation="Add annotations.runbook_url and labels.severity to each alert.",
    ),
]
