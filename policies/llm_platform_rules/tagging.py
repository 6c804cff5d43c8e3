"""Tags and labels: what lets finance attribute a bill and on-call find an owner."""

from __future__ import annotations

from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from components import clouds, conventions

from ._base import get, k8s_object, rule, string_list, where

REQUIRED_TAGS = ["team", "cost-center", "environment", "owner", "managed-by"]
REQUIRED_LABELS = [
    *conventions.RECOMMENDED_LABELS,
    f"{conventions.PREFIX}/team",
    f"{conventions.PREFIX}/cost-center",
]

# Where a type keeps its tags, and the types whose cloud API accepts tags or labels, are
# each cloud's (components/<cloud>/policy_types.py). A type that is not listed but is given
# tags is checked too, so a partial set of tags never passes.
TAG_PATHS: dict[str, tuple[str, ...]] = {
    t: path for c in clouds.clouds() for t, path in c.policy.tag_paths.items()
}
TAGGABLE = frozenset(t for c in clouds.clouds() for t in c.policy.taggable)
CLOUD_PREFIXES = tuple(c.type_prefix for c in clouds.clouds())


def tag_path(type_: str) -> tuple[str, ...]:
    """Where a cloud resource keeps its tags: top-level `tags` (AWS, Azure) or `labels` (GCP)
    unless its cloud says otherwise."""
    if type_ in TAG_PATHS:
        return TAG_PATHS[type_]
    cloud = clouds.of_type(type_)
    return cloud.policy.default_tag_path if cloud is not None else ("tags",)


def _missing(found: Any, required: list[str]) -> list[str]:
    found = found if hasattr(found, "keys") else {}
    return [k for k in required if not str(found.get(k) or "").strip()]


def _cloud_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    type_ = args.resource_type
    if not type_.startswith(CLOUD_PREFIXES):
        return
    path = tag_path(type_)
    found = get(args.props, *path)
    if type_ not in TAGGABLE and found is None:
        return
    required = args.get_config().get("requiredTags") or REQUIRED_TAGS
    missing = _missing(found, required)
    if missing:
        key = ".".join(path)
        report(
            f"{where(args)} has no {', '.join(missing)} in `{key}`. Build tags with "
            f"components.naming.tags(spec) (or set them in the stack's `tags` block) so the "
            f"bill can be attributed and the owner paged."
        )


def _k8s_labels(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not k8s_object(args.resource_type):
        return
    required = args.get_config().get("requiredLabels") or REQUIRED_LABELS
    missing = _missing(get(args.props, "metadata", "labels"), required)
    if missing:
        report(
            f"{where(args)} has no label {', '.join(missing)}. Use "
            f"components.naming.k8s_labels(spec, name, component) for metadata.labels."
        )


POLICIES = [
    rule(
        "cloud-resource-tags",
        "Every taggable AWS, GCP or Azure resource carries the required tags or labels.",
        _cloud_tags,
        severity=Severity.MEDIUM,
        schema={
            "requiredTags": string_list("tag (label) keys every resource must carry", REQUIRED_TAGS)
        },
        remediation="Add the missing keys to the resource's tags (labels on GCP), e.g. with "
        "components.naming.tags(spec).",
    ),
    rule(
        "kubernetes-labels",
        "Every Kubernetes object carries the recommended app.kubernetes.io/* labels plus "
        "team and cost-center.",
        _k8s_labels,
        severity=Severity.LOW,
        schema={
            "requiredLabels": string_list("label keys every object must carry", REQUIRED_LABELS)
        },
        remediation="Set metadata.labels from components.naming.k8s_labels(spec, name, component).",
    ),
]
