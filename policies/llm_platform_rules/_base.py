"""What every rule needs: reading the engine's property view, and declaring a rule once.

Properties arrive as the policy SDK's proxies: reading a value the engine does not know yet
(an ID during preview) raises `UnknownValueError`, which the SDK turns into an advisory
"can't run during preview" note. Rules read through `get` so that a missing key is `None`
and an unknown one still raises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from components.props import get, items  # noqa: F401 - the rules read through these

Validate = Callable[[ResourceValidationArgs, ReportViolation], None]
ValidateStack = Callable[[StackValidationArgs, ReportViolation], None]


def known(value: Any) -> Any:
    """A plain copy with every value the engine does not know yet as None: for code that
    reads whole objects (the cost model) and must not stop at the first unknown."""
    if isinstance(value, Mapping):
        out = {}
        for k in value:
            try:
                out[k] = known(value[k])
            except UnknownValueError:
                out[k] = None
        return out
    if isinstance(value, Sequence) and not isinstance(value, str):
        out_list = []
        for i in range(len(value)):
            try:
                out_list.append(known(value[i]))
            except UnknownValueError:
                out_list.append(None)
        return out_list
    return value


def config(args: ResourceValidationArgs | StackValidationArgs, key: str, default: Any) -> Any:
    value = args.get_config().get(key)
    return default if value is None else value


def rule(
    name: str,
    description: str,
    validate: Validate | ValidateStack,
    *,
    severity: Severity,
    remediation: str,
    schema: dict[str, dict[str, Any]] | None = None,
    stack: bool = False,
    enforcement: EnforcementLevel = EnforcementLevel.MANDATORY,
) -> Policy:
    """A policy, mandatory unless `enforcement` says otherwise (a stack policy with
    `stack=True`); its config schema is always declared, so the engine rejects config it
    would not read."""
    kind = StackValidationPolicy if stack else ResourceValidationPolicy
    return kind(
        name=name,
        description=description,
        validate=validate if stack else _outside_charts(validate),  # type: ignore[arg-type]
        enforcement_level=enforcement,
        config_schema=PolicyConfigSchema(properties=schema or {}),
        severity=severity,
        remediation_steps=remediation,
    )


def in_chart(urn: str) -> bool:
    """An object a third-party chart renders: a child of a helm.v4.Chart, which render mode
    installs charts as (components/kubernetes/helm.py). A helm.v3.Release's objects never
    reach the pack, so these are left to their chart the same way."""
    parents = urn.split("::")[2].split("$")[:-1] if urn.count("::") >= 3 else []
    return "kubernetes:helm.sh/v4:Chart" in parents


def _outside_charts(validate: Validate) -> Validate:
    def run(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if not in_chart(args.urn):
            validate(args, report)

    return run


def string_list(description: str, default: list[str]) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {"type": "string"},
        "default": default,
        "description": description,
    }


ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"
# Kubernetes kinds whose objects carry a pod template, and where it sits.
_POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    # A model with a rollout block is served by an Argo Rollouts Rollout, whose spec.template
    # is a pod template like a Deployment's (rollouts.argoproj.io v1alpha1 in chart
    # argo-rollouts 2.41.0, templates/crds/rollout-crd.yaml:1012). One that borrows a
    # Deployment's template (spec.workloadRef, :3959) has none: that Deployment is checked.
    ROLLOUT: ("spec", "template", "spec"),
}


def pod_spec(type_: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    path = _POD_SPEC_PATHS.get(type_)
    return get(props, *path) if path else None


def pod_labels(type_: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    path = _POD_SPEC_PATHS.get(type_)
    if not path or len(path) == 1:
        return get(props, "metadata", "labels") or {}
    return get(props, *path[:-1], "metadata", "labels") or {}


def containers(pod: Mapping[str, Any], *, init: bool = True) -> Iterator[Mapping[str, Any]]:
    kinds = ("containers", "initContainers") if init else ("containers",)
    for kind in kinds:
        yield from items(get(pod, kind))


def k8s_object(type_: str) -> bool:
    """A Kubernetes API object we create directly (not a Helm release or a provider)."""
    return type_.startswith("kubernetes:") and not type_.startswith(
        ("kubernetes:helm.sh/", "kubernetes:yaml", "kubernetes:kustomize")
    )


def annotation(props: Mapping[str, Any], key: str) -> str | None:
    """A non-blank annotation value (a stated reason), else None."""
    value = get(props, "metadata", "annotations", key)
    return value if isinstance(value, str) and value.strip() else None


def where(args: ResourceValidationArgs) -> str:
    return f"{args.resource_type} '{args.name}'"
