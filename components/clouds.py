"""The clouds an environment can run on: one line each in NAMES.

A cloud is one package, components/<name>/, whose `cloud.py` exports `CLOUD`, a `Cloud`:
its spec block and cross-checks, its price functions, the outputs the offline plan's mocks
give its resources, and the policy pack's tables of its resource types. The shared modules
(the spec's checks, pricing, the plan runner, the policy rules) loop over `clouds()`
instead of naming a cloud. Everything `cloud.py` imports is pure: the provider SDK is
imported only by the cloud's components, through `foundation()`, so a stack on another
cloud (or on-prem) plans without it installed. Pure: no Pulumi import.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from components.pricing import Pricer
    from components.scan import Skip
    from components.scheduling import GpuNodeRuntime
    from components.spec import EnvironmentSpec

# What the offline plan's mocks give where a cloud would return an account number or an id.
OFFLINE_ACCOUNT = "000000000000"
OFFLINE_UUID = "00000000-0000-0000-0000-000000000000"

# The order is the order of every per-cloud message and of `Topology`'s allowed values.
NAMES = ("aws", "gcp", "azure")

Props = Mapping[str, Any]
SpecProblems = Callable[["EnvironmentSpec"], list[str]]


def _no_problems(_spec: EnvironmentSpec) -> list[str]:
    return []


def _no_outputs(_type: str, _name: str, _inputs: dict[str, Any]) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class ManagedKubernetes:
    """The cloud's managed Kubernetes, whose version the spec pins and the catalog's
    kubernetes_versions.yaml dates."""

    platform: str  # catalog.Platform
    label: str
    # The block's field that pays for extended support, if the service sells it.
    extended_support_field: str | None = None
    # Checked because the platform installs the cluster autoscaler of the same minor.
    needs_autoscaler_image: bool = False
    # Said when a version is past standard support and extended support is not an option.
    past_standard_note: str = ""


@dataclass(frozen=True)
class ApiEndpoint:
    """The managed cluster's API endpoint, as the stack makes it: private (reached only from
    inside the cloud network) unless the block lists CIDRs for a public one."""

    cluster: str
    # The block's field listing the CIDRs a public endpoint admits, empty for a private
    # endpoint; None: the stack always makes the endpoint private.
    public_cidrs_field: str | None

    def is_private(self, block: Any) -> bool:
        return self.public_cidrs_field is None or not getattr(block, self.public_cidrs_field)


# A security check of one resource: what is wrong with it, one sentence each, to follow
# its name ("'bucket' has the public ACL public-read. ...").
Check = Callable[[Props], list[str]]


@dataclass(frozen=True)
class BucketGuards:
    """Settings a bucket type takes as resources of their own, each linked to its bucket."""

    bucket: str
    label: str
    # The component that creates the bucket with every guard.
    builder: str
    # (guard's type token, what it guards) for each.
    guards: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PolicyTypes:
    """What the policy pack reads off this cloud's resources, by Pulumi type token."""

    # Types whose API accepts tags (labels), checked against the provider SDK for every type
    # the example stacks create (tests/test_policies.py).
    taggable: frozenset[str]
    # Where a type keeps its tags when not at `default_tag_path`.
    tag_paths: Mapping[str, tuple[str, ...]]
    default_tag_path: tuple[str, ...]
    # Instance families that carry accelerators, for types the catalog does not list.
    gpu_family: str
    instance_types: Mapping[str, Callable[[Props], list[Any]]]
    accelerators: Mapping[str, Callable[[Props], list[Any]]] = field(default_factory=dict)
    # A node pool's (what, maximum size).
    pool_max: Mapping[str, Callable[[Props], tuple[str, float | None]]] = field(
        default_factory=dict
    )
    # Where a node pool carries the tags naming its pool and purpose.
    pool_tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    on_spot: Mapping[str, Callable[[Props], bool]] = field(default_factory=dict)
    # Where a node pool keeps the Kubernetes labels of its nodes: a pod's nodeSelector is
    # matched against them to find the pool it lands on.
    node_labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # A budget's (monthly amount, threshold alerts that reach someone).
    budgets: Mapping[str, Callable[[Props], tuple[float | None, int]]] = field(
        default_factory=dict
    )
    # The security rules' checks: private and encrypted storage; a cluster endpoint given
    # the CIDRs that count as open; Secrets encryption; instance metadata given the
    # highest hop limit allowed.
    storage: Mapping[str, Check] = field(default_factory=dict)
    endpoint: Mapping[str, Callable[[Props, Collection[str]], list[str]]] = field(
        default_factory=dict
    )
    secrets_encryption: Mapping[str, Check] = field(default_factory=dict)
    instance_metadata: Mapping[str, Callable[[Props, int], list[str]]] = field(
        default_factory=dict
    )
    bucket_guards: BucketGuards | None = None


@dataclass(frozen=True)
class Cloud:
    name: str
    label: str
    # The provider SDK its components import, and the extra that installs it.
    sdk: str
    # Prefix of its resources' Pulumi type tokens.
    type_prefix: str
    # "module:Class" of the ComponentResource that builds an environment's foundation.
    foundation: str
    block: type[BaseModel]
    # (field, CIDR) of every address range the block reserves in the cloud network.
    cidrs: Callable[[Any], list[tuple[str, str]]]
    policy: PolicyTypes
    # Run when the spec has this cloud's block / when the environment runs on this cloud.
    block_problems: SpecProblems = _no_problems
    name_problems: SpecProblems = _no_problems
    # A node pool takes several instance types / an Azure-style spot bid.
    several_instance_types: bool = False
    spot_bid: bool = False
    # The managed Kubernetes that installs the NVIDIA driver and device plugin on its GPU
    # pools itself (so the GPU Operator must not), if any.
    gpu_driver_by: str | None = None
    # How its GPU nodes come (driver path, device plugin); None: the defaults.
    gpu_node_runtime: GpuNodeRuntime | None = None
    # Trusts an on-prem issuer from an uploaded JWKS (a hybrid's onprem_jwks_json).
    jwks_upload: bool = False
    kubernetes: ManagedKubernetes | None = None
    api_endpoint: ApiEndpoint | None = None
    prices: Mapping[str, Pricer] = field(default_factory=dict)
    # Offline plan: what the cloud computes for a resource, and answers to function calls.
    computed: Callable[[str, str, dict[str, Any]], dict[str, Any]] = _no_outputs
    invoke_results: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    # Where an output's shape differs from the input's: (type, outputs) -> outputs.
    as_output: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]] = field(
        default_factory=dict
    )

    # Scanner checks that do not fit its resources, with why (its scanner.py).
    scanner_skips: tuple[Skip, ...] = ()

    @property
    def extra(self) -> str:
        return f"llm-platform[{self.name}]"


@cache
def get(name: str) -> Cloud:
    return importlib.import_module(f"components.{name}.cloud").CLOUD


def clouds() -> list[Cloud]:
    return [get(name) for name in NAMES]


def scanner_skips() -> list[Skip]:
    """Every cloud's scanner skips; a skip matches only its own type, so the exports take
    them all."""
    return [s for cloud in clouds() for s in cloud.scanner_skips]


def of_type(type_: str) -> Cloud | None:
    """The cloud whose provider a Pulumi type token belongs to."""
    return next((c for c in clouds() if type_.startswith(c.type_prefix)), None)


class MissingSdk(ImportError):
    """The environment's cloud needs a provider SDK that is not installed."""


def require_sdk(name: str) -> None:
    """Raises MissingSdk, with the one line that says what to install, unless the cloud's
    provider SDK imports."""
    cloud = get(name)
    try:
        importlib.import_module(cloud.sdk)
    except ImportError:
        raise MissingSdk(
            f"this environment runs on {cloud.name}, whose provider SDK {cloud.sdk} is not "
            f"installed; run: pip install '{cloud.extra}'"
        ) from None


def foundation(name: str) -> type:
    """The cloud's foundation component class (this imports its provider SDK)."""
    require_sdk(name)
    module, cls = get(name).foundation.split(":")
    return getattr(importlib.import_module(module), cls)
