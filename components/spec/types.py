"""The spec's types: the shape of `llm-platform:spec`, each field with its default and its
single-field validation. Checks that span fields or need the catalog live in `checks`."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    field_validator,
    model_validator,
)

from components import catalog, sizing
from components.spec.errors import CONFIG_KEY, PROJECT, config_path, echo  # noqa: F401

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
    kind: Literal["vllm", "tensorrt-llm", "tgi", "sglang"]
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
    vpc_cidr: PrivateCidr = Field(default="10.40.0.0/16", description="RFC 1918, /16 to /24")
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
        lambda v: _prefix_between(
            v, 16, 24, "AWS VPCs are /16 to /28 and the public subnets are a sixteenth of it"
        )
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
        lambda v: _prefix_between(
            v, 8, 26, "the nodes subnet is its first quarter and the gateway subnet its last /27"
        )
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
