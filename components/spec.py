"""EnvironmentSpec: the one typed description of an environment.

A stack's `llm-platform:spec` config value parses into this. The shape is checked by
pydantic; the checks that need the catalog or the sizing model (does the model fit, is the
GPU known, is min <= max) run in `check`, so `load_spec` reports every problem at once,
one line each, with its config path.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from components import catalog, scheduling, sizing
from components.azure import names as azure_names
from components.catalog.engine_releases import engine_releases
from components.gcp import names as gcp_names

PROJECT = "llm-platform"
CONFIG_KEY = f"{PROJECT}:spec"

DnsLabel = Annotated[
    str, Field(pattern=r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$", description="DNS label, max 40")
]
LabelValue = Annotated[str, Field(pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")]
LabelKey = Annotated[
    str,
    Field(
        pattern=r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
    ),
]
DnsSubdomain = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")]
NonEmpty = Annotated[str, Field(min_length=1, max_length=4096)]
Topology = Literal["onprem", "aws", "gcp", "azure", "hybrid"]
CloudName = Literal["aws", "gcp", "azure"]
Uuid = Annotated[
    str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
]
KubernetesVersion = Annotated[
    str, Field(pattern=r"^1\.[0-9]{2}$", description="control-plane minor version, e.g. 1.31")
]


# Numbers are strict: pydantic's lax mode reads `true` as 1 and "5" as 5, so
# `monthly_usd: true` would become a $1 budget. A Float still takes an integer (5 -> 5.0).
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]


ConfigKeyName = Annotated[
    str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$", description="a Pulumi config key")
]


def _cidr(v: str) -> str:
    try:
        net = ipaddress.IPv4Network(v, strict=True)
    except ValueError as exc:
        raise ValueError(f"must be an IPv4 network such as 10.40.0.0/16 ({exc})") from None
    return str(net)


Cidr = Annotated[str, AfterValidator(_cidr)]

# RFC 1918 private address space: a cloud network (VPC, VNet, GKE ranges) built from
# anything else would take over public addresses its nodes could then never reach.
RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def _private(v: str) -> str:
    net = ipaddress.IPv4Network(v)
    if not any(net.subnet_of(block) for block in RFC1918):
        raise ValueError(
            f"must be a private (RFC 1918) range inside 10.0.0.0/8, 172.16.0.0/12 or "
            f"192.168.0.0/16 (got {v})"
        )
    return v


PrivateCidr = Annotated[str, AfterValidator(_cidr), AfterValidator(_private)]


def _prefix_between(v: str, largest: int, smallest: int, why: str) -> str:
    prefix = ipaddress.IPv4Network(v).prefixlen
    if not largest <= prefix <= smallest:
        raise ValueError(f"must be a /{largest} to /{smallest} ({why}; got {v})")
    return v


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class Tags(_Strict):
    """Required on every taggable resource (as tags, labels or Kubernetes labels)."""

    team: LabelValue
    cost_center: LabelValue
    environment: LabelValue
    owner: LabelValue


class Budget(_Strict):
    monthly_usd: Float = Field(gt=0, le=10_000_000)
    alert_thresholds_pct: list[Annotated[Int, Field(ge=1, le=200)]] = Field(
        default=[50, 80, 100], min_length=1
    )

    notify_emails: list[Annotated[str, Field(pattern=_EMAIL)]] = Field(
        default_factory=list,
        max_length=20,
        description="who the cloud budget's own notifications reach (required on a cloud)",
    )
    hard_cap_pct: Int | None = Field(
        default=100,
        ge=1,
        le=200,
        description="at this share of the budget (actual spend) GPU pools are scaled to zero; "
        "null disables the cap",
    )

    @field_validator("alert_thresholds_pct")
    @classmethod
    def _ascending(cls, v: list[int]) -> list[int]:
        if v != sorted(set(v)):
            raise ValueError("must be distinct and ascending, for example [50, 80, 100]")
        return v

    @property
    def hard_cap_usd(self) -> float | None:
        return None if self.hard_cap_pct is None else self.monthly_usd * self.hard_cap_pct / 100


def _known_instance_type(v: str) -> None:
    if v not in catalog.instances():
        raise ValueError(
            f"unknown instance type {echo(v)}{catalog.suggest(v, catalog.instances())}"
        )


class NodeAllocatable(_Strict):
    """An on-prem node's allocatable, as `kubectl get node <n> -o jsonpath='{.status.allocatable}'`
    shows it (cloud pools take theirs from the catalog)."""

    cpu: Float = Field(gt=0, le=4096, description="allocatable CPUs")
    memory_gib: Float = Field(gt=0, le=65536, description="allocatable memory in GiB")


class GpuPool(_Strict):
    name: DnsLabel
    gpu: str = Field(description="catalog GPU id, e.g. L40S")
    gpus_per_node: Int = Field(default=1, ge=1, le=16)
    instance_type: str | None = Field(default=None, description="cloud instance type")
    min_nodes: Int = Field(default=0, ge=0, le=1000)
    max_nodes: Int = Field(ge=1, le=1000)
    extra_instance_types: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="more instance types with the same GPUs, for spot capacity (AWS)",
    )
    purpose: Literal["inference", "training"] = "inference"
    capacity: Literal["on-demand", "spot"] = "on-demand"
    node_hours_per_month: Float | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        description="expected node-hours a month, for the cost estimate; default: the nodes "
        "that are always up (inference) or none (training) x 730 h",
    )
    spot_max_usd_per_hour: Float | None = Field(
        default=None, gt=0, le=1000, description="Azure spot bid; default the on-demand price"
    )
    node_labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict,
        description="labels that select this pool's nodes; default llm-platform.dev/pool=<name>",
    )
    node_allocatable: NodeAllocatable | None = Field(
        default=None,
        description="an on-prem node's allocatable CPU and memory; sizes the model servers' "
        "CPU and memory to it and checks that they fit",
    )

    @field_validator("gpu")
    @classmethod
    def _known_gpu(cls, v: str) -> str:
        gpus = catalog.gpus()
        if v not in gpus:
            raise ValueError(
                f"unknown GPU {echo(v)}{catalog.suggest(v, gpus)}; allowed: {', '.join(gpus)}"
            )
        return v

    @field_validator("instance_type")
    @classmethod
    def _known_instance(cls, v: str | None) -> str | None:
        if v is not None:
            _known_instance_type(v)
        return v

    @field_validator("extra_instance_types")
    @classmethod
    def _known_extras(cls, v: list[str]) -> list[str]:
        for name in v:
            _known_instance_type(name)
        return v

    @model_validator(mode="after")
    def _bounds(self) -> GpuPool:
        if self.min_nodes > self.max_nodes:
            raise ValueError(
                f"min_nodes ({self.min_nodes}) must be <= max_nodes ({self.max_nodes})"
            )
        return self


class Architecture(_Strict):
    """For a model that is not in the catalog: the facts from its config.json."""

    params_b: Float = Field(gt=0, le=2000)
    layers: Int = Field(gt=0, le=1000)
    attention_heads: Int = Field(gt=0, le=1024)
    kv_heads: Int = Field(gt=0, le=1024)
    head_dim: Int = Field(gt=0, le=1024)
    hidden_size: Int = Field(gt=0, le=65536)
    intermediate_size: Int = Field(gt=0, le=262144)
    vocab_size: Int = Field(gt=0, le=1_000_000)
    max_position_embeddings: Int = Field(gt=0, le=10_000_000)
    sliding_window: Int | None = Field(default=None, ge=1, le=10_000_000)
    tie_word_embeddings: bool = False
    num_experts: Int = Field(default=1, ge=1, le=1024)
    experts_per_token: Int = Field(default=1, ge=1, le=64)
    native_quantization: Literal["fp8", "awq", "gptq"] | None = None


_PINNED = re.compile(r"^[^\s:@]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$")


def pinned_image(v: str) -> str:
    """An image reference that names one build: a tag other than latest, or a digest."""
    if not _PINNED.match(v):
        raise ValueError("must look like registry/repo:tag or registry/repo:tag@sha256:<64 hex>")
    name = v.split("@")[0]
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else None
    if "@sha256:" not in v and tag is None:
        raise ValueError("must be pinned with a tag or digest, e.g. vllm/vllm-openai:v0.33.0")
    if tag == "latest":
        raise ValueError("must not use the 'latest' tag; pin a release such as :v0.33.0")
    return v


class Engine(_Strict):
    kind: Literal["vllm", "tensorrt-llm"]
    image: str = Field(description="registry/repo:tag[@sha256:digest]; never latest")

    _pinned = field_validator("image")(pinned_image)


class Slo(_Strict):
    ttft_p95_ms: Float = Field(gt=0, le=600_000)
    peak_concurrent_requests: Int = Field(ge=1, le=1_000_000)
    availability: Float = Field(
        default=0.995, gt=0.5, lt=1, description="target share of requests served without error"
    )
    max_usd_per_1k_conversations: Float | None = Field(
        default=None,
        gt=0,
        le=1_000_000,
        description="cost ceiling alerted on; default twice the planned figure",
    )


class Traffic(_Strict):
    conversations_per_day: Float = Field(ge=0, le=1e9)
    prompt_tokens_per_turn: Int = Field(ge=1, le=10_000_000)
    completion_tokens_per_turn: Int = Field(ge=1, le=10_000_000)
    turns_per_conversation: Float = Field(ge=1, le=10_000)


class WeightStorage(_Strict):
    """Where a model server keeps its weights. `per-pod`: each pod gets its own volume (a
    generic ephemeral volume, deleted with the pod), filled before the server starts, so any
    pod can start on any node and rollouts may surge. `shared`: one claim all pods mount,
    which must be ReadWriteMany (or ReadOnlyMany, filled beforehand) unless only one pod
    ever runs."""

    volume: Literal["per-pod", "shared"] = "per-pod"
    size_gib: Int | None = Field(
        default=None, ge=1, le=100_000, description="volume size; default weights x 1.5 rounded up"
    )
    storage_class: DnsSubdomain | None = None
    access_mode: Literal["ReadWriteMany", "ReadOnlyMany", "ReadWriteOnce"] | None = Field(
        default=None, description="the shared claim's access mode; default ReadWriteMany"
    )

    @property
    def shared_access_mode(self) -> str:
        return self.access_mode or "ReadWriteMany"


class SecretRef(_Strict):
    name: DnsLabel
    # A Secret data key, as k8s.io/apimachinery's IsConfigMapKey accepts it
    # (pkg/util/validation/validation.go @eed236ce, 2026-07-23): [-._a-zA-Z0-9]+, at most
    # 253 characters, and not `.`, `..` or starting with `..` (hasChDirPrefix): the key
    # becomes a file name where the Secret is mounted.
    key: str = Field(default="token", max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")

    @field_validator("key")
    @classmethod
    def _not_a_directory(cls, v: str) -> str:
        if v == "." or v.startswith(".."):
            raise ValueError("must not be '.' or '..' or start with '..'")
        return v


class HostedApiPrice(_Strict):
    """A hosted API to compare against for the break-even figure."""

    name: str = Field(min_length=1, max_length=80)
    usd_per_million_input: Float = Field(ge=0, le=10_000)
    usd_per_million_output: Float = Field(ge=0, le=10_000)


class Model(_Strict):
    name: DnsLabel
    hf_id: str | None = Field(default=None, description="catalog model id")
    architecture: Architecture | None = None
    engine: Engine
    pool: DnsLabel
    quantization: sizing.Quantization = "none"
    kv_cache_dtype: sizing.KvDtype = "auto"
    max_context: Int = Field(ge=256, le=10_000_000)
    gpu_memory_utilization: Float = Field(default=0.9, ge=0.5, le=0.98)
    prefix_caching: bool = True
    slo: Slo
    traffic: Traffic
    weights: WeightStorage = WeightStorage()
    hf_token_secret: SecretRef | None = None
    hosted_api: HostedApiPrice | None = None

    @field_validator("hf_id")
    @classmethod
    def _known_model(cls, v: str | None) -> str | None:
        models = catalog.models()
        if v is not None and v not in models:
            raise ValueError(
                f"{echo(v)} is not in the catalog{catalog.suggest(v, models)}; "
                "add an architecture block to serve another model"
            )
        return v


class OnPrem(_Strict):
    gpu_hour_usd: Float = Field(
        gt=0, le=1000, description="amortised cost of one owned GPU for one hour"
    )


class Artifacts(_Strict):
    """The bucket for weights and checkpoints (cloud and hybrid topologies)."""

    expected_gib: Int | None = Field(
        default=None,
        ge=1,
        le=10_000_000,
        description="stored GB for the cost estimate; default three versions of every "
        "model's weights",
    )
    noncurrent_version_days: Int = Field(
        default=30, ge=1, le=3650, description="overwritten or deleted versions expire after"
    )
    checkpoint_days: Int = Field(
        default=14, ge=1, le=3650, description="objects under checkpoints/ expire after"
    )


def _system_instance(cloud: str, v: str) -> str:
    inst = catalog.instances().get(v)
    if inst is None or inst.cloud != cloud or inst.gpu_count:
        cpu = sorted(
            i.id for i in catalog.instances().values() if i.cloud == cloud and not i.gpu_count
        )
        raise ValueError(f"must be a CPU instance type of {cloud} in the catalog: {', '.join(cpu)}")
    return v


class Aws(_Strict):
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", description="e.g. us-east-1")
    account_id: str = Field(
        pattern=r"^[0-9]{12}$", description="the only account this stack may deploy into"
    )
    availability_zones: list[str] | None = Field(
        default=None, min_length=3, max_length=3, description="default <region>a, b and c"
    )
    vpc_cidr: PrivateCidr = Field(
        default="10.40.0.0/16", description="RFC 1918, /16 to /24"
    )
    nat: Literal["per-az", "single"] = Field(
        default="per-az", description="one NAT gateway per AZ, or a single cheaper one"
    )
    kubernetes_version: KubernetesVersion = Field(
        default_factory=lambda: catalog.default_kubernetes_version("eks"),
        description="EKS minor version; default the catalog's, in standard support",
    )
    extended_support: bool = Field(
        default=False,
        description="keep a version past its end of standard support, at EKS's extended-support "
        "price; off: EKS upgrades the cluster at the end of standard support",
    )
    activate_cost_allocation_tag: bool = Field(
        default=False,
        description="activate the `environment` cost-allocation tag from this stack; only the "
        "payer account can, and only once billing has seen the tag",
    )
    public_endpoint_cidrs: list[Cidr] = Field(
        default_factory=list,
        description="CIDRs allowed to reach a public API endpoint; empty keeps it private",
    )
    system_instance_type: str = "m6i.xlarge"
    system_nodes: Int = Field(default=2, ge=1, le=100)
    log_retention_days: Literal[30, 60, 90, 120, 150, 180, 365, 400, 545, 731] = 90

    _system = field_validator("system_instance_type")(lambda v: _system_instance("aws", v))
    # CreateVpc takes /16 to /28 (EC2 API reference, CreateVpc CidrBlock, 2026-12-01), and
    # components/aws/network.py cuts public subnets of /(n+4), which must stay >= /28.
    _vpc_size = field_validator("vpc_cidr")(
        lambda v: _prefix_between(v, 16, 24, "AWS VPCs are /16 to /28 and the public subnets "
                                  "are a sixteenth of it")
    )

    @model_validator(mode="after")
    def _zones_in_region(self) -> Aws:
        for zone in self.availability_zones or ():
            if not zone.startswith(self.region):
                raise ValueError(f"availability zone {echo(zone)} is not in region {self.region}")
        return self

    @property
    def zones(self) -> list[str]:
        return self.availability_zones or [f"{self.region}{z}" for z in "abc"]


class Gcp(_Strict):
    project: str = Field(pattern=r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")
    region: str = Field(pattern=r"^[a-z]+-[a-z]+[0-9]$", description="e.g. us-central1")
    zones: list[str] | None = Field(
        default=None, min_length=1, max_length=4, description="GPU node zones; default <region>-a"
    )
    billing_account: str = Field(pattern=r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$")
    subnet_cidr: PrivateCidr = "10.50.0.0/20"
    pods_cidr: PrivateCidr = "10.64.0.0/14"
    services_cidr: PrivateCidr = "10.68.0.0/20"
    control_plane_cidr: Cidr = Field(
        default="172.16.0.0/28", description="the private control plane's /28"
    )
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    authorized_networks: list[Cidr] = Field(
        default_factory=list,
        description="CIDRs allowed to reach a public control-plane endpoint; empty: private",
    )
    system_machine_type: str = "e2-standard-4"
    system_nodes: Int = Field(default=1, ge=1, le=100, description="per zone")

    _system = field_validator("system_machine_type")(lambda v: _system_instance("gcp", v))

    @property
    def node_zones(self) -> list[str]:
        return self.zones or [f"{self.region}-a"]


class Azure(_Strict):
    subscription_id: Uuid
    location: str = Field(pattern=r"^[a-z][a-z0-9]{2,30}$", description="e.g. eastus")
    vnet_cidr: PrivateCidr = Field(default="10.60.0.0/16", description="RFC 1918, /8 to /26")
    kubernetes_version: KubernetesVersion = Field(
        default_factory=lambda: catalog.default_kubernetes_version("aks"),
        description="AKS minor version; default the catalog's, in standard support",
    )
    admin_group_object_ids: list[Uuid] = Field(
        default_factory=list, description="Entra ID groups made cluster admins (Azure RBAC)"
    )
    budget_start: str = Field(
        pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])-01$",
        description="first day of the month the budget starts (Azure requires one)",
    )
    system_vm_size: str = "Standard_D4s_v5"
    system_nodes: Int = Field(default=2, ge=1, le=100)

    _system = field_validator("system_vm_size")(lambda v: _system_instance("azure", v))
    # components/azure/network.py puts the nodes in the first quarter and the VPN gateway
    # in the last /27; below a /26 the two would overlap.
    _vnet_size = field_validator("vnet_cidr")(
        lambda v: _prefix_between(v, 8, 26, "the nodes subnet is its first quarter and the "
                                  "gateway subnet its last /27")
    )


# Private and shared address space a VPN peer cannot be reached at over the internet.
_UNROUTABLE = ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16")


class Vpn(_Strict):
    """A site-to-site IPsec VPN from the cloud network to the on-prem gateway."""

    kind: Literal["vpn"]
    peer_ip: str = Field(description="the on-prem VPN gateway's public IPv4 address")
    onprem_cidrs: list[Cidr] = Field(min_length=1)
    bgp_asn: Int = Field(default=65000, ge=64512, le=65534, description="on-prem private ASN")
    shared_key_secret: ConfigKeyName = Field(
        default="vpnSharedKey", description="Pulumi secret holding the IPsec pre-shared key"
    )

    @field_validator("peer_ip")
    @classmethod
    def _public_ip(cls, v: str) -> str:
        try:
            ip = ipaddress.IPv4Address(v)
        except ValueError:
            raise ValueError("must be an IPv4 address such as 203.0.113.10") from None
        unroutable = [ipaddress.IPv4Network(n) for n in _UNROUTABLE]
        if (
            ip.is_loopback
            or ip.is_link_local
            or ip.is_multicast
            or any(ip in n for n in unroutable)
        ):
            raise ValueError(f"must be the gateway's public address (got {v})")
        return v


class ExistingLink(_Strict):
    """Connectivity that already exists (Direct Connect, Interconnect, ExpressRoute)."""

    kind: Literal["existing"]
    name: str = Field(min_length=1, max_length=200, description="what the link is, for review")
    onprem_cidrs: list[Cidr] = Field(min_length=1)


class Hybrid(_Strict):
    """Inference on the on-prem cluster; artifacts and spot training in one cloud."""

    cloud: CloudName
    connectivity: Annotated[Vpn | ExistingLink, Field(discriminator="kind")]
    onprem_oidc_issuer: str = Field(
        pattern=r"^https://[^\s/]+(/\S*)?$",
        description="the on-prem cluster's service-account issuer; the cloud trusts its tokens "
        "so serving pods read weights with no stored key",
    )
    onprem_jwks_json: str | None = Field(
        default=None,
        min_length=2,
        description="the issuer's JWKS, for an issuer the cloud cannot reach (GCP only)",
    )


class Cluster(_Strict):
    kubeconfig: NonEmpty | None = Field(default=None, description="path to a kubeconfig file")
    context: NonEmpty | None = None
    render_to_directory: NonEmpty | None = Field(
        default=None, description="write manifests here instead of applying them"
    )
    namespace: DnsLabel | None = Field(default=None, description="default llm-<environment>")
    gpu_operator: bool = Field(default=False, description="install the NVIDIA GPU Operator")
    prometheus_namespace: DnsLabel = "monitoring"


class Receiver(_Strict):
    """Where an alert goes. The credential (PagerDuty routing key, Slack webhook URL, SMTP
    password, webhook bearer token) is never in the spec: `secret` names a Pulumi secret in
    this stack's config, and Alertmanager reads it from a mounted file."""

    kind: Literal["pagerduty", "slack", "email", "webhook"]
    secret: ConfigKeyName = Field(
        description="Pulumi config key set with `pulumi config set --secret <key> <value>`"
    )
    channel: str | None = Field(default=None, pattern=r"^[#@]?[-\w.]{1,80}$")
    to: str | None = Field(default=None, pattern=_EMAIL)
    sender: str | None = Field(default=None, pattern=_EMAIL)
    smarthost: str | None = Field(default=None, pattern=r"^[-a-zA-Z0-9.]+:[0-9]{1,5}$")
    username: str | None = Field(default=None, min_length=1, max_length=256)
    url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s@?#]+$",
        description="webhook endpoint; the secret is the bearer token sent to it",
    )

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Receiver:
        needs = {
            "slack": ("channel",),
            "email": ("to", "sender", "smarthost", "username"),
            "webhook": ("url",),
        }
        missing = [f for f in needs.get(self.kind, ()) if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.kind} receiver needs {', '.join(missing)}")
        return self


class Alerting(_Strict):
    """Critical alerts page; warnings open a ticket. Both must reach a human."""

    pager: Receiver
    ticket: Receiver


_CHART_VERSION = Field(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$", description="pinned chart version")


class Prometheus(_Strict):
    mode: Literal["install", "existing"] = Field(
        default="install",
        description="install kube-prometheus-stack, or use a Prometheus Operator already there",
    )
    chart_version: Annotated[str, _CHART_VERSION] = "65.1.1"
    adapter_chart_version: Annotated[str, _CHART_VERSION] = "4.11.0"
    install_adapter: bool = Field(
        default=True, description="Prometheus Adapter, which serves the HPA's queue metric"
    )
    retention: str = Field(default="15d", pattern=r"^[0-9]+[dhw]$")
    storage_gib: Int = Field(default=50, ge=1, le=100_000)
    storage_class: DnsSubdomain | None = None
    match_labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict,
        description="labels the existing operator selects ServiceMonitors and rules by",
    )
    url: str = Field(
        default="http://kube-prometheus-stack-prometheus.monitoring.svc:9090",
        pattern=r"^https?://[^\s/]+(:[0-9]+)?(/\S*)?$",
        description="Prometheus the adapter queries (the installed one by default)",
    )
    grafana_admin_secret: ConfigKeyName = Field(
        default="grafanaAdminPassword",
        description="Pulumi secret with Grafana's admin password (install mode)",
    )


class Quality(_Strict):
    """The quality and drift monitor: a CronJob over the gateway's request/response logs."""

    log_volume_claim: DnsLabel = Field(description="PVC holding JSONL request/response logs")
    reference_dir: str = Field(
        default="reference",
        pattern=r"^[A-Za-z0-9_][-\w/]*$",
        description="directory in the claim with <model>.jsonl reference prompts",
    )
    schedule: str = Field(
        default="*/15 * * * *", pattern=r"^(\S+\s+){4}\S+$", description="cron schedule"
    )
    sample_size: Int = Field(default=400, ge=50, le=20_000)
    image: str = Field(default="ghcr.io/llm-platform/quality-monitor:0.1.0")
    # Measured with tests/quality_corpus.py (bench/drift.py): about 0.000 for a fresh sample
    # of the same topic, 0.008 with 20% of prompts off-topic, 0.05 at 50%, 0.20 for a new
    # topic. 0.02 flags roughly a third of traffic moving to something new.
    input_drift_threshold: Float = Field(
        default=0.02, gt=0, le=2, description="MMD^2 of prompt embeddings vs the reference"
    )
    output_length_drift_pct: Float = Field(
        default=30, gt=0, le=1000, description="change of mean output tokens, 1h vs 7d"
    )
    refusal_spike_factor: Float = Field(default=2.0, gt=1, le=100)
    refusal_rate_floor: Float = Field(default=0.05, gt=0, lt=1)

    _pinned = field_validator("image")(pinned_image)


class AlertThresholds(_Strict):
    kv_cache_full_pct: Float = Field(default=95, gt=0, le=100)
    preemptions_per_minute: Float = Field(default=1, gt=0, le=100_000)
    gpu_idle_util_pct: Float = Field(default=10, gt=0, le=100)
    spot_interruptions_per_hour: Int = Field(default=3, ge=1, le=1000)


class Observability(_Strict):
    alerting: Alerting
    prometheus: Prometheus = Prometheus()
    runbook_base_url: str = Field(
        default="https://github.com/llm-platform/llm-platform/blob/main/runbooks",
        pattern=r"^https?://\S+[^/]$",
    )
    grafana_url: str = Field(default="http://grafana.monitoring.svc", pattern=r"^https?://\S+[^/]$")
    thresholds: AlertThresholds = AlertThresholds()
    quality: Quality | None = None


class EnvironmentSpec(_Strict):
    environment: DnsLabel
    topology: Topology
    tags: Tags
    budget: Budget
    gpu_pools: list[GpuPool] = Field(min_length=1)
    models: list[Model] = Field(default_factory=list)
    onprem: OnPrem | None = None
    aws: Aws | None = None
    gcp: Gcp | None = None
    azure: Azure | None = None
    hybrid: Hybrid | None = None
    artifacts: Artifacts = Artifacts()
    cluster: Cluster = Cluster()
    observability: Observability

    def secret_keys(self) -> dict[str, tuple[str, ...]]:
        """Pulumi secret config keys the spec refers to, with the spec path of each."""
        obs = self.observability
        keys: dict[str, tuple[str, ...]] = {}
        # A rendering provider writes every value to a file in plain text, so in render
        # mode the Secrets holding these are made with kubectl, not from Pulumi secrets.
        if self.cluster.render_to_directory is None:
            keys[obs.alerting.pager.secret] = ("observability", "alerting", "pager", "secret")
            keys[obs.alerting.ticket.secret] = ("observability", "alerting", "ticket", "secret")
            if obs.prometheus.mode == "install":
                keys[obs.prometheus.grafana_admin_secret] = (
                    "observability",
                    "prometheus",
                    "grafana_admin_secret",
                )
        if self.hybrid is not None and isinstance(self.hybrid.connectivity, Vpn):
            keys[self.hybrid.connectivity.shared_key_secret] = (
                "hybrid",
                "connectivity",
                "shared_key_secret",
            )
        return keys

    @property
    def cloud(self) -> CloudName | None:
        """The cloud that hosts this environment's pools, artifacts and budget."""
        if self.topology in ("aws", "gcp", "azure"):
            return self.topology  # type: ignore[return-value]
        return self.hybrid.cloud if self.hybrid is not None else None

    def cloud_pools(self) -> list[GpuPool]:
        """The GPU pools a cloud foundation creates: all of them, or in a hybrid the
        training pools (inference stays on the on-prem cluster)."""
        if self.topology == "hybrid":
            return [p for p in self.gpu_pools if p.purpose == "training"]
        return list(self.gpu_pools) if self.cloud is not None else []

    @property
    def namespace(self) -> str:
        return self.cluster.namespace or f"llm-{self.environment}"

    def pool(self, name: str) -> GpuPool:
        return next(p for p in self.gpu_pools if p.name == name)


@dataclass(frozen=True)
class Environment:
    """A spec that passed every check, with the serving plan of each model."""

    spec: EnvironmentSpec
    plans: dict[str, sizing.ServingPlan]
    warnings: list[str] = field(default_factory=list)

    def pool_gpus_min(self, pool: str) -> int:
        """GPUs the models served from `pool` hold at their minimum replicas."""
        return sum(self.plans[m.name].gpus_min for m in self.spec.models if m.pool == pool)


class SpecError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


_PLAIN_KEY = re.compile(r"^[A-Za-z_][-\w./]*$")
# A value quoted back in a problem is cut to this many characters: enough to recognise it,
# and a pasted file does not flood the terminal.
ECHO_LIMIT = 80


def echo(value: Any) -> str:
    """`value` as a problem quotes it: its repr (one line, control characters escaped), cut
    to ECHO_LIMIT characters with the original length."""
    text = repr(value)
    if len(text) <= ECHO_LIMIT:
        return text
    size = f"{len(value)} characters" if isinstance(value, str) else f"{len(text)} as text"
    return f"{text[:ECHO_LIMIT]}... ({size})"


def names_a_secret(loc: tuple[Any, ...]) -> bool:
    """Whether `loc` is a field that names a Pulumi secret (`secret`, `*_secret`, and the
    parts of hf_token_secret): a bad value there may be the credential itself, pasted by
    mistake, so it is never echoed."""
    return any(isinstance(p, str) and (p == "secret" or p.endswith("_secret")) for p in loc)


def key_text(key: str) -> str:
    """A mapping key as a problem names it: as written when plain, else quoted (a key with
    spaces or newlines stays on one line) and cut like a value."""
    return key if _PLAIN_KEY.match(key) and len(key) <= ECHO_LIMIT else echo(key)


def config_path(loc: tuple[Any, ...]) -> str:
    out = CONFIG_KEY
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = key_text(str(part))
            out += f".{key}" if key == part else f"[{key}]"
    return out


def nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = nested_model(arg)
        if found:
            return found
    return None


def _locate(loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], Any]:
    """The config path of an error location, and the model holding its last part.

    pydantic puts the tag of a discriminated union in the location (`vpn` in
    hybrid.connectivity.vpn.peer_ip); the config has no such key, so it is dropped and the
    tagged member is the model walked into."""
    out: list[Any] = []
    current: Any = EnvironmentSpec
    holder: Any = None
    tags: dict[str, type[BaseModel]] | None = None
    for part in loc:
        if tags is not None:
            member, tags = tags.get(part), None
            if member is not None:
                current = member
                continue
        out.append(part)
        if isinstance(part, int):
            continue
        holder = current
        info = current.model_fields.get(part) if hasattr(current, "model_fields") else None
        if info is None:
            current = None
            continue
        if isinstance(info.discriminator, str):
            tags = {
                get_args(m.model_fields[info.discriminator].annotation)[0]: m
                for m in get_args(info.annotation)
            }
        current = nested_model(info.annotation)
    return tuple(out), holder


def _shape_problems(err: ValidationError) -> list[str]:
    lines = []
    for e in err.errors(include_url=False):
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        # pydantic marks a bad mapping key with a trailing "[key]" location element.
        key_problem = loc[-1:] == ("[key]",)
        loc, holder = _locate(loc[:-1] if key_problem else loc)
        if e["type"] == "extra_forbidden":
            allowed = ", ".join(sorted(getattr(holder, "model_fields", {})))
            lines.append(f"{config_path(loc)}: unknown field; allowed here: {allowed}")
            continue
        msg = e["msg"].removeprefix("Value error, ")
        got = e.get("input")
        # Our own validators already quote the value; pydantic's built-ins do not.
        quiet = e["type"] in ("missing", "value_error") or isinstance(got, dict | list)
        if names_a_secret(loc):
            shown = " (value not shown: this field names a secret and must not hold one)"
        else:
            shown = "" if quiet else f" (got {echo(got)})"
        lines.append(f"{config_path(loc)}: {'key: ' if key_problem else ''}{msg}{shown}")
    return lines


def architecture_of(model: Model) -> Architecture | catalog.ModelInfo | None:
    if model.architecture is not None:
        return model.architecture
    return catalog.models().get(model.hf_id or "")


def serving_inputs(model: Model, arch: Architecture | catalog.ModelInfo) -> sizing.ServingInputs:
    return sizing.ServingInputs(
        max_context=model.max_context,
        quantization=model.quantization,
        native_quantization=arch.native_quantization,
        kv_cache_dtype=model.kv_cache_dtype,
        gpu_memory_utilization=model.gpu_memory_utilization,
        prefix_caching=model.prefix_caching,
        ttft_p95_ms=model.slo.ttft_p95_ms,
        peak_concurrent_requests=model.slo.peak_concurrent_requests,
        conversations_per_day=model.traffic.conversations_per_day,
        prompt_tokens_per_turn=model.traffic.prompt_tokens_per_turn,
        completion_tokens_per_turn=model.traffic.completion_tokens_per_turn,
        turns_per_conversation=model.traffic.turns_per_conversation,
    )


def engine_release_warnings(spec: EnvironmentSpec) -> list[str]:
    """The engine flags, the adapter and the rules are written for one release per engine
    (components/catalog/engines.yaml); another image may refuse a flag or export other
    series, so say so."""
    out = []
    for i, model in enumerate(spec.models):
        pinned = engine_releases()[model.engine.kind].image
        if model.engine.image.split("@")[0] != pinned:
            out.append(
                f"{config_path(('models', i, 'engine', 'image'))}: engine flags and metric "
                f"names target {pinned}; with {model.engine.image} the server may refuse a "
                "flag or the alerts may see no series"
            )
    return out


def check(spec: EnvironmentSpec, plan_date: date | None = None) -> Environment:
    """Cross-field and catalog checks. Raises SpecError listing every problem. Support
    windows are judged as of `plan_date` (default catalog.plan_date(): today, or
    LLM_PLATFORM_PLAN_DATE)."""
    problems: list[str] = []
    warnings: list[str] = []
    problems += kubernetes_support(spec, plan_date, warnings)
    problems += gcp_zone_problems(spec)
    problems += network_problems(spec)
    plans: dict[str, sizing.ServingPlan] = {}
    gpus = catalog.gpus()

    if spec.tags.environment != spec.environment:
        problems.append(
            f"{config_path(('tags', 'environment'))}: must equal environment '{spec.environment}' "
            f"(got {echo(spec.tags.environment)})"
        )
    if spec.topology in ("onprem", "hybrid") and spec.onprem is None:
        problems.append(
            f"{config_path(('onprem',))}: required for topology {spec.topology}; "
            "set onprem.gpu_hour_usd to the amortised cost of one GPU-hour"
        )
    problems += _topology_blocks(spec)
    problems += _name_problems(spec)
    warnings += engine_release_warnings(spec)

    seen: set[str] = set()
    for i, pool in enumerate(spec.gpu_pools):
        where = ("gpu_pools", i)
        if pool.name in seen:
            problems.append(f"{config_path((*where, 'name'))}: duplicate pool name '{pool.name}'")
        seen.add(pool.name)
        if gpus[pool.gpu].vendor == "amd" and not spec.cluster.gpu_operator:
            warnings.append(
                f"{config_path((*where, 'gpu'))}: {pool.gpu} nodes need AMD's ROCm device plugin, "
                "which llm-platform does not install; the NVIDIA runtime skips this pool"
            )
        if pool.purpose == "training" and pool.capacity != "spot":
            warnings.append(
                f"{config_path((*where, 'capacity'))}: training pool '{pool.name}' is on-demand; "
                "checkpointed training can run on spot at a fraction of the price "
                "(see components/catalog/instances.yaml)"
            )
        typed: list[tuple[tuple[str | int, ...], str | None]] = [
            (("instance_type",), pool.instance_type),
            *((("extra_instance_types", j), n) for j, n in enumerate(pool.extra_instance_types)),
        ]
        for sub, name in typed:
            if name is None:
                continue
            inst = catalog.instances()[name]
            path = config_path((*where, *sub))
            if inst.gpu != pool.gpu or inst.gpu_count != pool.gpus_per_node:
                problems.append(
                    f"{path}: {inst.id} has {inst.gpu_count}x {inst.gpu}, but the pool says "
                    f"{pool.gpus_per_node}x {pool.gpu}"
                )
        problems += _cloud_pool_problems(spec, pool, where)

    names: set[str] = set()
    pools = {p.name: p for p in spec.gpu_pools}
    for i, model in enumerate(spec.models):
        where = ("models", i)
        if model.name in names:
            problems.append(f"{config_path((*where, 'name'))}: duplicate model name '{model.name}'")
        names.add(model.name)
        if model.hf_id is None and model.architecture is None:
            problems.append(
                f"{config_path(where)}: set hf_id (a catalog model) "
                "or architecture (for any other model)"
            )
            continue
        if model.architecture is not None:
            inconsistent = architecture_problems((*where, "architecture"), model.architecture)
            if inconsistent:
                problems += inconsistent
                continue
        arch = architecture_of(model)
        assert arch is not None  # hf_id is checked against the catalog by the field validator
        if model.max_context > arch.max_position_embeddings:
            problems.append(
                f"{config_path((*where, 'max_context'))}: must be <= the model's max positions "
                f"{arch.max_position_embeddings} (got {model.max_context})"
            )
            continue
        pool = pools.get(model.pool)
        if pool is None:
            problems.append(
                f"{config_path((*where, 'pool'))}: no gpu_pool named '{model.pool}'"
                f"{catalog.suggest(model.pool, pools)}; pools: {', '.join(pools)}"
            )
            continue
        if pool.purpose != "inference":
            problems.append(
                f"{config_path((*where, 'pool'))}: pool '{pool.name}' is for {pool.purpose}; "
                "models are served from an inference pool"
            )
            continue
        gpu = gpus[pool.gpu]
        if model.engine.kind == "tensorrt-llm" and gpu.vendor != "nvidia":
            problems.append(
                f"{config_path((*where, 'engine', 'kind'))}: "
                "TensorRT-LLM runs on NVIDIA GPUs only; "
                f"pool '{pool.name}' has {gpu.id}"
            )
            continue
        try:
            plan = sizing.plan_serving(arch, gpu, pool.gpus_per_node, serving_inputs(model, arch))
        except sizing.SizingError as exc:
            problems.append(f"{config_path(where)}: {model.name} {exc}")
            continue
        capacity = pool.max_nodes * pool.gpus_per_node
        if plan.gpus_min > capacity:
            problems.append(
                f"{config_path((*where, 'pool'))}: needs at least {plan.gpus_min} GPUs "
                f"({plan.replicas_min} replicas x TP{plan.tensor_parallel}) but pool "
                f"'{pool.name}' has at most {capacity}; raise max_nodes"
            )
            continue
        if plan.gpus_max > capacity:
            capped = capacity // plan.tensor_parallel
            warnings.append(
                f"{config_path((*where, 'slo', 'peak_concurrent_requests'))}: peak needs "
                f"{plan.gpus_max} GPUs but pool '{pool.name}' has {capacity}; autoscaling is "
                f"capped at {capped} replicas"
            )
            plan = replace(plan, replicas_max=capped)
        plans[model.name] = plan
        problems += _volume_problems(where, model, arch)

    # Models sharing a pool share its GPUs: their minimums must fit together.
    for i, pool in enumerate(spec.gpu_pools):
        sharing = [m.name for m in spec.models if m.pool == pool.name and m.name in plans]
        if len(sharing) < 2:
            continue
        capacity = pool.max_nodes * pool.gpus_per_node
        need_min = sum(plans[n].gpus_min for n in sharing)
        need_max = sum(plans[n].gpus_max for n in sharing)
        if need_min > capacity:
            problems.append(
                f"{config_path(('gpu_pools', i, 'max_nodes'))}: models {', '.join(sharing)} need "
                f"{need_min} GPUs at their minimum replicas but pool '{pool.name}' has at most "
                f"{capacity}; raise max_nodes or move a model to another pool"
            )
        elif need_max > capacity:
            warnings.append(
                f"{config_path(('gpu_pools', i, 'max_nodes'))}: models {', '.join(sharing)} need "
                f"{need_max} GPUs at peak but pool '{pool.name}' has {capacity}; they will "
                "compete for GPUs when all scale out"
            )

    problems += _scheduling_problems(spec, plans, warnings)
    if problems:
        raise SpecError(problems)
    return Environment(spec=spec, plans=plans, warnings=warnings)


def architecture_problems(where: tuple, arch: Architecture) -> list[str]:
    """Facts of a config.json that contradict each other, which the sizing model would turn
    into nonsense (a negative active parameter count, a negative concurrency)."""
    problems = []
    if arch.experts_per_token > arch.num_experts:
        problems.append(
            f"{config_path((*where, 'experts_per_token'))}: must be <= num_experts "
            f"({arch.num_experts}) (got {arch.experts_per_token})"
        )
    # Grouped-query attention gives each KV head an equal group of query heads; vLLM's
    # Attention asserts num_heads % num_kv_heads == 0
    # (vllm/model_executor/layers/attention/attention.py, v0.33.0).
    if arch.attention_heads % arch.kv_heads:
        problems.append(
            f"{config_path((*where, 'kv_heads'))}: must divide attention_heads "
            f"({arch.attention_heads}) (got {arch.kv_heads})"
        )
    experts_b = arch.num_experts * sizing.expert_params_b(arch)
    if arch.num_experts > 1 and not problems and experts_b > arch.params_b:
        problems.append(
            f"{config_path((*where, 'params_b'))}: {arch.num_experts} experts of "
            f"layers x 3 x hidden_size x intermediate_size hold {experts_b:.1f}B parameters, "
            f"more than the model's {arch.params_b}B; params_b is the total over all experts"
        )
    return problems


def _volume_problems(
    where: tuple, model: Model, arch: Architecture | catalog.ModelInfo
) -> list[str]:
    """A weights volume smaller than the weights fills up before the server starts."""
    size = model.weights.size_gib
    quant = sizing.effective_quantization(model.quantization, arch.native_quantization)
    need = math.ceil(sizing.weight_bytes(arch, quant) / sizing.GIB)
    if size is None or size >= need:
        return []
    return [
        f"{config_path((*where, 'weights', 'size_gib'))}: {size} GiB cannot hold the model's "
        f"{need} GiB of {'16-bit' if quant == 'none' else quant} weights; set at least "
        f"{need}, or leave it out for weights x 1.5"
    ]


def network_problems(spec: EnvironmentSpec) -> list[str]:
    """Address ranges that overlap: GKE's node, pod, service and control-plane ranges
    route to different places, and a hybrid's on-prem ranges are reached over the link
    from the cloud network, so none of them may share an address."""
    ranges: list[tuple[tuple, str]] = []
    if spec.aws is not None:
        ranges.append((("aws", "vpc_cidr"), spec.aws.vpc_cidr))
    if spec.azure is not None:
        ranges.append((("azure", "vnet_cidr"), spec.azure.vnet_cidr))
    if spec.gcp is not None:
        for name in ("subnet_cidr", "pods_cidr", "services_cidr", "control_plane_cidr"):
            ranges.append((("gcp", name), getattr(spec.gcp, name)))
    if spec.hybrid is not None:
        for j, cidr in enumerate(spec.hybrid.connectivity.onprem_cidrs):
            ranges.append((("hybrid", "connectivity", "onprem_cidrs", j), cidr))
    problems = []
    for k, (where, cidr) in enumerate(ranges):
        net = ipaddress.IPv4Network(cidr)
        for other, taken in ranges[:k]:
            if net.overlaps(ipaddress.IPv4Network(taken)):
                problems.append(
                    f"{config_path(where)}: {cidr} overlaps {config_path(other)} ({taken}); "
                    "choose a range that shares no address with it"
                )
                break
    return problems


def _scheduling_problems(
    spec: EnvironmentSpec, plans: dict[str, sizing.ServingPlan], warnings: list[str]
) -> list[str]:
    """What the scheduler would refuse: a model server that does not fit its pool's nodes,
    and a shared ReadWriteOnce weights claim that a second pod on another node would wait
    for forever."""
    problems = []
    if spec.cluster.gpu_operator and spec.cloud == "gcp":
        problems.append(
            f"{config_path(('cluster', 'gpu_operator'))}: GKE installs the NVIDIA driver and "
            "device plugin on its GPU node pools; the GPU Operator would run a second plugin "
            "on the same GPUs; remove it"
        )
    for i, pool in enumerate(spec.gpu_pools):
        if pool.node_allocatable is not None and pool in spec.cloud_pools():
            problems.append(
                f"{config_path(('gpu_pools', i, 'node_allocatable'))}: pool '{pool.name}' runs "
                f"on {spec.cloud}, whose node allocatable comes from the catalog "
                "(components/catalog/node_reserve.yaml); remove it"
            )
    for i, model in enumerate(spec.models):
        plan = plans.get(model.name)
        if plan is None:
            continue
        pool = spec.pool(model.pool)
        problems += _fit_problems(spec, i, model, pool, plan, warnings)
        problems += _weights_problems(spec, i, model, pool, plan)
    return problems


def _fit_problems(
    spec: EnvironmentSpec,
    i: int,
    model: Model,
    pool: GpuPool,
    plan: sizing.ServingPlan,
    warnings: list[str],
) -> list[str]:
    allocatable = scheduling.pool_allocatable(spec, pool)
    tp = plan.tensor_parallel
    floor = scheduling.engine_floor(tp)
    if allocatable is None and pool in spec.cloud_pools():
        return []  # no instance type: reported as such
    if allocatable is None:
        warnings.append(
            f"{config_path(('gpu_pools', spec.gpu_pools.index(pool), 'node_allocatable'))}: "
            f"pool '{pool.name}' declares no node size, so model '{model.name}' requests and is "
            f"limited to its floor of {floor.describe()} and its fit is not checked; set cpu "
            "and memory_gib from `kubectl get node -o jsonpath='{.status.allocatable}'`"
        )
        return []
    daemonsets = scheduling.gpu_daemonsets(spec, pool)
    share = scheduling.gpu_share(allocatable, pool.gpus_per_node, tp, daemonsets)
    if floor.fits_in(share):
        return []
    nodes = pool.instance_type or "its nodes"
    return [
        f"{config_path(('models', i, 'pool'))}: model '{model.name}' needs {floor.describe()} "
        f"per pod (TP{tp}) but pool '{pool.name}' ({nodes}) has {share.describe()} for "
        f"{tp} of its {pool.gpus_per_node} GPUs after the system reserve and the GPU "
        "DaemonSets; choose a node type with more CPU and memory per GPU"
    ]


def _weights_problems(
    spec: EnvironmentSpec, i: int, model: Model, pool: GpuPool, plan: sizing.ServingPlan
) -> list[str]:
    weights = model.weights
    where = config_path(("models", i, "weights", "access_mode"))
    if weights.volume == "per-pod":
        if weights.access_mode is not None:
            return [
                f"{where}: only for volume: shared; a per-pod volume is one ReadWriteOnce "
                f"claim per pod (remove access_mode, or set volume: shared)"
            ]
        if model.engine.kind == "tensorrt-llm" and spec.cloud is None:
            return [
                f"{config_path(('models', i, 'weights', 'volume'))}: model '{model.name}' "
                "serves a TensorRT-LLM engine built beforehand into /models/<model>/triton; "
                "with no bucket to copy it from, a new per-pod volume starts empty; set "
                "volume: shared on a claim that holds the engine"
            ]
        return []
    if weights.shared_access_mode != "ReadWriteOnce":
        return []
    surge = scheduling.can_surge(
        pool.max_nodes * pool.gpus_per_node, plan.replicas_max, plan.tensor_parallel
    )
    if plan.replicas_max == 1 and not surge:
        return []
    why = (
        f"up to {plan.replicas_max} replicas" if plan.replicas_max > 1 else "a surge pod"
    )
    return [
        f"{where}: a ReadWriteOnce claim attaches to one node, but model '{model.name}' runs "
        f"{why} that may land on another and wait for it forever; use volume: per-pod "
        "(the default) or a ReadWriteMany claim"
    ]




def _name_problems(spec: EnvironmentSpec) -> list[str]:
    """Names no fitting can save: every other derived name is shortened to fit its API
    (naming.fit), but these would still be refused."""
    problems = []
    if spec.cloud == "azure":
        for i, pool in enumerate(spec.gpu_pools):
            if pool in spec.cloud_pools() and pool.name == azure_names.SYSTEM_POOL:
                problems.append(
                    f"{config_path(('gpu_pools', i, 'name'))}: '{pool.name}' is the name of the "
                    "AKS cluster's own system pool, and AKS pool names are unique in a cluster "
                    "(1-12 lowercase letters and digits); choose another name"
                )
    if spec.cloud == "gcp":
        for key, value in spec.tags.model_dump().items():
            if not gcp_names.LABEL_VALUE.accepts(value.lower()):
                problems.append(
                    f"{config_path(('tags', key))}: '{value}' is a label on every GCP resource, "
                    "and GCP label values allow only letters (lowercased), digits, '_' and "
                    "'-' (at most 63)"
                )
    if spec.cloud == "gcp" and "google" in spec.environment:
        problems.append(
            f"{config_path(('environment',))}: '{spec.environment}' contains 'google', which "
            "Cloud Storage refuses in the artifacts bucket name (3-63 characters, no "
            "'google'); choose another environment name"
        )
    return problems


def _topology_blocks(spec: EnvironmentSpec) -> list[str]:
    """Each topology's own block is required, and a block no topology here reads is an
    error rather than silently ignored."""
    problems = []
    cloud = spec.cloud
    for name in ("aws", "gcp", "azure"):
        block = getattr(spec, name)
        if name == cloud and block is None:
            problems.append(
                f"{config_path((name,))}: required when the environment runs on {name} "
                f"(topology {spec.topology})"
            )
        elif name != cloud and block is not None:
            problems.append(
                f"{config_path((name,))}: set, but topology {spec.topology} does not use {name}; "
                "remove it"
            )
    if spec.topology == "hybrid" and spec.hybrid is None:
        problems.append(
            f"{config_path(('hybrid',))}: required for topology hybrid; set hybrid.cloud, "
            "hybrid.connectivity and hybrid.onprem_oidc_issuer"
        )
    if spec.topology != "hybrid" and spec.hybrid is not None:
        problems.append(f"{config_path(('hybrid',))}: only used with topology hybrid; remove it")
    if cloud is not None and not spec.budget.notify_emails:
        problems.append(
            f"{config_path(('budget', 'notify_emails'))}: required on {cloud}: the cloud "
            "budget's notifications must reach a person, for example [finops@example.com]"
        )
    if spec.topology in ("aws", "gcp", "azure") and spec.onprem is not None:
        problems.append(
            f"{config_path(('onprem',))}: only used with topologies onprem and hybrid; remove it"
        )
    if spec.topology in ("aws", "gcp", "azure") and spec.cluster.render_to_directory:
        problems.append(
            f"{config_path(('cluster', 'render_to_directory'))}: only for the on-prem cluster "
            "(topologies onprem and hybrid); this stack creates its cluster and applies to it"
        )
    if spec.hybrid is not None and spec.hybrid.onprem_jwks_json and spec.hybrid.cloud != "gcp":
        problems.append(
            f"{config_path(('hybrid', 'onprem_jwks_json'))}: only GCP accepts an uploaded JWKS; "
            f"{spec.hybrid.cloud} must reach the issuer's /.well-known/openid-configuration"
        )
    return problems


def _cloud_pool_problems(spec: EnvironmentSpec, pool: GpuPool, where: tuple) -> list[str]:
    """Where a pool runs decides what it must say: cloud pools need an instance type of
    their cloud; on-prem pools (all of onprem, a hybrid's inference pools) must not."""
    problems = []
    cloud = spec.cloud if pool in spec.cloud_pools() else None
    types = [t for t in [pool.instance_type, *pool.extra_instance_types] if t is not None]
    if cloud is None:
        if types:
            problems.append(
                f"{config_path((*where, 'instance_type'))}: pool '{pool.name}' runs on the "
                "on-prem cluster; instance types are for cloud pools (in a hybrid, the "
                "training pools)"
            )
        return problems
    if pool.instance_type is None:
        allowed = sorted(
            i.id
            for i in catalog.instances().values()
            if i.cloud == cloud and i.gpu == pool.gpu and i.gpu_count == pool.gpus_per_node
        )
        problems.append(
            f"{config_path((*where, 'instance_type'))}: required for a {cloud} pool; for "
            f"{pool.gpus_per_node}x {pool.gpu}: {', '.join(allowed) or 'none in the catalog'}"
        )
    for t in types:
        if catalog.instances()[t].cloud != cloud:
            problems.append(
                f"{config_path((*where, 'instance_type'))}: {t} is a "
                f"{catalog.instances()[t].cloud} instance type; this pool runs on {cloud}"
            )
    if pool.extra_instance_types and cloud != "aws":
        problems.append(
            f"{config_path((*where, 'extra_instance_types'))}: only AWS node groups take several "
            f"instance types; a {cloud} node pool has one machine type"
        )
    if pool.spot_max_usd_per_hour is not None and (cloud != "azure" or pool.capacity != "spot"):
        problems.append(
            f"{config_path((*where, 'spot_max_usd_per_hour'))}: only for an Azure spot pool"
        )
    return problems


# A version leaving standard support this soon gets a warning in the plan.
SUPPORT_WARNING_DAYS = 90
_MANAGED = {"aws": ("eks", "EKS"), "azure": ("aks", "AKS")}
_VERSIONS_FILE = "components/catalog/kubernetes_versions.yaml"


def kubernetes_support(
    spec: EnvironmentSpec, plan_date: date | None, warnings: list[str]
) -> list[str]:
    """The control-plane version of each managed cluster must be released and in standard
    support on the plan date (EKS: or in extended support, if the spec pays for it); one
    leaving standard support within SUPPORT_WARNING_DAYS is a warning. GKE follows its
    release channel, which offers only supported versions."""
    try:
        day = plan_date or catalog.plan_date()
    except ValueError as exc:
        return [str(exc)]
    problems = []
    for cloud, (platform, label) in _MANAGED.items():
        block = getattr(spec, cloud)
        if block is None:
            continue
        where = config_path((cloud, "kubernetes_version"))
        extended = getattr(block, "extended_support", False)
        problem, warning = _support_window(platform, label, block.kubernetes_version, extended, day)
        problems += [f"{where}: {problem}"] if problem else []
        warnings += [f"{where}: {warning}"] if warning else []
    return problems


def supported_versions(platform: catalog.Platform, day: date) -> list[str]:
    """Versions released and in standard support on `day`, oldest first."""
    rows = [
        r
        for r in catalog.kubernetes_versions().values()
        if r.platform == platform and r.available_from <= day < r.end_of_standard
    ]
    return [r.version for r in sorted(rows, key=lambda r: int(r.version.split(".")[1]))]


def _support_window(
    platform: catalog.Platform, label: str, version: str, extended: bool, day: date
) -> tuple[str | None, str | None]:
    """(problem, warning) for one cluster version on `day`."""
    allowed = ", ".join(supported_versions(platform, day)) or f"none in {_VERSIONS_FILE}"
    use = f"versions in standard support on {day}: {allowed}"
    name = f"{label} {version}"
    info = catalog.kubernetes_version(platform, version)
    if info is None:
        return f"{name} is not in {_VERSIONS_FILE}; {use}", None
    if day < info.available_from:
        return f"{name} is not generally available until {info.released}; {use}", None
    if platform == "eks" and info.cluster_autoscaler_image is None:
        return f"{name} has no cluster-autoscaler release in {_VERSIONS_FILE}; {use}", None
    ends = info.end_of_standard
    if day < ends:
        left = (ends - day).days
        soon = f"{name} leaves standard support on {ends}, {left} days after the plan date; {use}"
        return None, soon if left <= SUPPORT_WARNING_DAYS else None
    if info.end_of_extended is None or day >= info.end_of_extended:
        return f"{name} is out of support since {info.end_of_extended or ends}; {use}", None
    left_standard = f"{name} left standard support on {ends}; {use}"
    if platform != "eks":
        return (
            f"{left_standard} (AKS long-term support needs the Premium tier and does not "
            "support the Key Vault KMS encryption this cluster uses)"
        ), None
    if not extended:
        opt_in = config_path(("aws", "extended_support"))
        return f"{left_standard}, or set {opt_in}: true to pay for extended support", None
    return None, f"{name} is in extended support until {info.end_of_extended}, at its price"


def gcp_zone_problems(spec: EnvironmentSpec) -> list[str]:
    """Every GKE node zone must lie in the region and offer each machine type the node
    pools use there (every pool spans all of gcp.zones)."""
    cfg = spec.gcp
    if cfg is None:
        return []
    problems = []
    types = {cfg.system_machine_type: "the system pool"} | {
        p.instance_type: f"pool '{p.name}'" for p in spec.cloud_pools() if p.instance_type
    }
    for i, zone in enumerate(cfg.node_zones):
        where = config_path(("gcp", "zones", i) if cfg.zones else ("gcp", "region"))
        if not zone.startswith(f"{cfg.region}-"):
            problems.append(f"{where}: zone {key_text(zone)} is not in region {cfg.region}")
            continue
        for machine, user in types.items():
            offered = catalog.zones_offering(machine, cfg.region)
            if offered is None:
                problems.append(
                    f"{where}: components/catalog/zones.yaml does not say which zones of "
                    f"{cfg.region} offer {machine} ({user}); add a row with its source"
                )
            elif zone not in offered:
                problems.append(
                    f"{where}: {key_text(zone)} does not offer {machine} ({user}); zones of "
                    f"{cfg.region} that do: {', '.join(offered)}"
                )
    return problems


def load_spec(raw: Any, plan_date: date | None = None) -> Environment:
    """Parse and check a stack's spec value. Raises SpecError with one line per problem."""
    if not isinstance(raw, dict):
        raise SpecError([f"{CONFIG_KEY}: must be a mapping (got {type(raw).__name__})"])
    try:
        spec = EnvironmentSpec.model_validate(raw)
    except ValidationError as err:
        raise SpecError(_shape_problems(err)) from None
    return check(spec, plan_date)
