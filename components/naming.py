"""Names and labels from one place, so every resource carries the required tags.

Pure: no Pulumi imports. Kubernetes objects get the recommended app.kubernetes.io/*
labels plus the spec's team, cost-center, environment and owner; cloud resources (later
topologies) get the same keys as tags.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from components.conventions import (
    APP_COMPONENT,
    APP_INSTANCE,
    APP_MANAGED_BY,
    APP_NAME,
    APP_PART_OF,
    PREFIX,
)

if TYPE_CHECKING:  # spec checks names with the rules below, so no import at run time
    from components.spec import EnvironmentSpec

PART_OF = "llm-platform"
MANAGED_BY = "llm-platform"


# Characters of the stable hash a shortened name ends with: 16**6 values, so two names
# that share a long prefix still differ after cutting.
HASH_CHARS = 6
# Pulumi's auto-name: the resource's logical name, then (bridged providers) "-" and 7
# random hex characters, pulumi-terraform-bridge pkg/tfbridge/info/autonaming.go `AutoName`
# (Randlen 7, separator "-"), or (azure-native, top-level resources) 8 random hex
# characters and no separator, pulumi/pulumi-azure-native#519 and #3406. Either way 8.
AUTONAME_SUFFIX = 8


@dataclass(frozen=True)
class NameRule:
    """What an API accepts as one kind of name. `pattern` is matched in full; `allowed` is
    the regex character class a name is cleaned to (with "-" last when hyphens are allowed:
    then a shortened name joins its hash with "-"); `suffix` is how many characters
    Pulumi appends when the resource is auto-named; `source` documents the limit."""

    max_len: int
    pattern: str
    source: str
    allowed: str = "a-z0-9-"
    min_len: int = 1
    suffix: int = 0

    @property
    def budget(self) -> int:
        """Characters left for what the program passes (the logical name when auto-named)."""
        return self.max_len - self.suffix

    def accepts(self, name: str) -> bool:
        """Whether the API takes `name` (with Pulumi's suffix, when auto-named)."""
        full = name + "0" * self.suffix
        return (
            len(name) <= self.budget
            and self.min_len <= len(full)
            and re.fullmatch(self.pattern, full) is not None
        )


def fit(name: str, rule: NameRule) -> str:
    """`name` as `rule` accepts it: unchanged when it already fits; else cleaned to the
    rule's characters and cut in the middle, where a stable hash of the full name goes, so
    the name keeps its start (the environment) and its last words (what the resource is),
    and names that share a long prefix, or clean to the same characters, stay distinct.
    Raises ValueError when the rule has no room for the hash and a readable part: a bug in
    the caller, not in the spec."""
    if rule.accepts(name):
        return name
    lowered = name if "A-Z" in rule.allowed else name.lower()
    clean = re.sub(f"[^{rule.allowed}]", "", lowered)
    digest = hashlib.sha256(name.encode()).hexdigest()[:HASH_CHARS]
    for fitted in _shortened(clean, digest, rule):
        if rule.accepts(fitted):
            return fitted
    raise ValueError(f"{name!r} cannot be fitted to {rule.pattern} in {rule.budget}")


def _shortened(clean: str, digest: str, rule: NameRule) -> list[str]:
    """Candidates, most readable first: start, hash and last words (for rules with "-");
    then start and hash."""
    sep = "-" if rule.allowed.endswith("-") else ""
    room = rule.budget - len(digest) - len(sep)
    head_only = clean[:room].rstrip("-_.")
    candidates = [f"{head_only}{sep}{digest}"] if head_only else []
    if not sep:
        return candidates
    tail = clean[-((room - 1) // 2) :]
    tail = tail[tail.index(sep) + 1 :] if sep in tail else tail
    head = clean[: room - 1 - len(tail)].rstrip("-_.")
    if head and tail and len(head) + len(tail) < len(clean):
        candidates.insert(0, f"{head}{sep}{digest}{sep}{tail}")
    return candidates


K8S_VALIDATION = (
    "https://github.com/kubernetes/apimachinery/blob/master/pkg/util/validation/validation.go"
)
# LabelValueMaxLength 63, labelValueFmt "(" + qualifiedNameFmt + ")?".
LABEL_VALUE = NameRule(
    63, r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?", K8S_VALIDATION, allowed="A-Za-z0-9_.-"
)


def tags(spec: EnvironmentSpec) -> dict[str, str]:
    return {
        "team": spec.tags.team,
        "cost-center": spec.tags.cost_center,
        "environment": spec.tags.environment,
        "owner": spec.tags.owner,
        "managed-by": MANAGED_BY,
    }


def selector_labels(name: str, component: str) -> dict[str, str]:
    """The stable subset used in selectors: never add keys here after a release, since a
    Deployment's selector is immutable."""
    return {APP_NAME: name, APP_COMPONENT: component}


@dataclass(frozen=True)
class K8sLabeler:
    """The labels of every Kubernetes object of one environment: what components receive
    instead of the spec, to label each object they make."""

    environment: str
    # The spec's tags (see `tags`), each set as an llm-platform.dev/<key> label.
    tags: dict[str, str]

    def __call__(self, name: str, component: str, **extra: str) -> dict[str, str]:
        labels = {
            **selector_labels(name, component),
            APP_INSTANCE: fit(f"{self.environment}-{name}", LABEL_VALUE),
            APP_PART_OF: PART_OF,
            APP_MANAGED_BY: MANAGED_BY,
        }
        labels.update({f"{PREFIX}/{k}": v for k, v in self.tags.items() if k != "managed-by"})
        labels.update({f"{PREFIX}/{k}": v for k, v in extra.items()})
        return labels


def labeler(spec: EnvironmentSpec) -> K8sLabeler:
    return K8sLabeler(environment=spec.environment, tags=tags(spec))


def k8s_labels(spec: EnvironmentSpec, name: str, component: str, **extra: str) -> dict[str, str]:
    return labeler(spec)(name, component, **extra)


def monitoring_labels(spec: EnvironmentSpec) -> dict[str, str]:
    """Labels an existing Prometheus Operator selects ServiceMonitors and rules by."""
    return dict(spec.observability.prometheus.match_labels)
