"""The spec's types: the shape of `llm-platform:spec`, each field with its default and its
single-field validation. Checks that span fields or need the catalog live in `checks`."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    Strict,
    field_validator,
    model_validator,
)

from components import catalog, clouds, conventions, sizing

# Each cloud's block lives in its package; pydantic needs the class here, where the
# environment names one field per cloud. Re-exported: `from components.spec import Aws`.
from components.aws.spec import Aws  # noqa: F401
from components.azure.spec import Azure  # noqa: F401
from components.catalog import versions
from components.catalog.engine_releases import engine_releases
from components.gcp.spec import Gcp  # noqa: F401
from components.spec.errors import CONFIG_KEY, PROJECT, config_path, echo  # noqa: F401
from components.spec.fields import (  # noqa: F401
    Cidr,
    CloudName,
    ConfigKeyName,
    DnsLabel,
    DnsSubdomain,
    Float,
    Int,
    KubernetesVersion,
    LabelKey,
    LabelValue,
    NonEmpty,
    PrivateCidr,
    Topology,
    Uuid,
)
from components.spec.fields import SpecBlock as _Strict

# The engine image the field examples show: the vLLM release the catalog pins.
_VLLM_IMAGE = engine_releases()["vllm"].image
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# How the descriptions state the formats the patterns above enforce.
_DNS_LABEL_RULE = (
    "A DNS label: lowercase letters, digits and '-', starting with a letter, at most 40."
)
_LABEL_VALUE_RULE = (
    "A label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a "
    "letter or digit (on GCP: letters, lowercased, digits, '_' and '-')."
)


class Tags(_Strict):
    """Required on every taggable resource (as tags, labels or Kubernetes labels)."""

    team: LabelValue = Field(
        description="the team that owns the environment: the `team` tag (a label on GCP) of "
        "every cloud resource and the `llm-platform.dev/team` label of every Kubernetes "
        f"object; the policy pack refuses a resource without it. {_LABEL_VALUE_RULE}",
        examples=["ml-platform"],
    )
    cost_center: LabelValue = Field(
        description="the cost center the spend is charged to: the `cost-center` tag and the "
        f"`llm-platform.dev/cost-center` label, as for team. {_LABEL_VALUE_RULE}",
        examples=["cc-1042"],
    )
    environment: LabelValue = Field(
        description="must equal the spec's `environment`; the `environment` tag the cloud "
        "budget filters on and the `llm-platform.dev/environment` label",
        examples=["local"],
    )
    owner: LabelValue = Field(
        description="the person or on-call rota answerable for the environment: the `owner` "
        f"tag and the `llm-platform.dev/owner` label. {_LABEL_VALUE_RULE}",
        examples=["platform-oncall"],
    )


class Budget(_Strict):
    monthly_usd: Float = Field(
        gt=0,
        le=10_000_000,
        description="the environment's budget in USD a month. `llm-platform plan` reports the "
        "planned monthly cost against it (\"over budget\" when above); on a cloud it is the "
        "amount of the cloud budget, which counts the spend tagged with this environment",
        examples=[6000],
    )
    alert_thresholds_pct: list[Annotated[Int, Field(ge=1, le=200)]] = Field(
        default=[50, 80, 100],
        min_length=1,
        description="percentages of monthly_usd at which the cloud budget notifies "
        "notify_emails (AWS: on actual spend, plus once on a forecast of 100%); distinct and "
        "ascending, each 1 to 200. No cloud budget exists on-prem, where they are unused",
        examples=[[50, 80, 100]],
    )

    notify_emails: list[Annotated[str, Field(pattern=_EMAIL)]] = Field(
        default_factory=list,
        max_length=20,
        description="the addresses the cloud budget's own notifications reach; required when "
        "the environment runs on a cloud (topology aws, gcp, azure or hybrid), at most 20",
        examples=[["finops@example.com"]],
    )
    hard_cap_pct: Int | None = Field(
        default=100,
        ge=1,
        le=200,
        description="AWS: at this percentage of monthly_usd in actual spend, the budget "
        "enforcer Lambda scales every GPU node group to zero and taints it so the autoscaler "
        "cannot bring it back (README: The hard cap). GCP and Azure only add it to the "
        "notification thresholds. 1 to 200; default 100, stop at the budget; null disables it",
        examples=[100],
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

    cpu: Float = Field(
        gt=0,
        le=4096,
        description="CPUs one node offers to pods (its allocatable `cpu`, in cores; 63.5 for "
        "63500m)",
        examples=[63.5],
    )
    memory_gib: Float = Field(
        gt=0,
        le=65536,
        description="memory one node offers to pods, in GiB (its allocatable `memory`; "
        "257698037Ki is 245.8)",
        examples=[245],
    )


class GpuPool(_Strict):
    name: DnsLabel = Field(
        description="the pool's name, which models[].pool refers to; unique among the pools. "
        f"{_DNS_LABEL_RULE} It names the cloud node group and the default node label "
        "llm-platform.dev/pool=<name>; on Azure it must differ from the name of the AKS "
        "cluster's own system pool",
        examples=["l40s"],
    )
    gpu: str = Field(
        description="the GPU of the pool's nodes, a catalog id (components/catalog/gpus.yaml): "
        f"{', '.join(catalog.gpus())}. Its memory, speed and price drive the sizing and the "
        "cost estimate. llm-platform installs no ROCm device plugin, so an AMD GPU is warned "
        "about",
        examples=["L40S"],
    )
    gpus_per_node: Int = Field(
        default=1,
        ge=1,
        le=16,
        description="GPUs in each node, 1 to 16; a cloud pool's instance types must carry "
        "exactly this many. A model's tensor-parallel degree is at most this, and the pool "
        "holds max_nodes x gpus_per_node GPUs",
        examples=[2],
    )
    instance_type: str | None = Field(
        default=None,
        description="the cloud instance type (AWS instance type, GCP machine type, Azure VM "
        "size) of the pool's nodes, from components/catalog/instances.yaml, of the pool's "
        "cloud and with exactly gpus_per_node x gpu. Required for a pool in a cloud (every "
        "pool of aws, gcp and azure; a hybrid's training pools), refused for one on the "
        "on-prem cluster. It sets the GPU-hour price and the node's CPU and memory",
        examples=["g6e.12xlarge"],
    )
    min_nodes: Int = Field(
        default=0,
        ge=0,
        le=1000,
        description="the fewest nodes the cloud autoscaler keeps, 0 to 1000 and at most "
        "max_nodes. Default 0: a pool no model needs scales to zero; the cost estimate counts "
        "at least these nodes as always up",
        examples=[1],
    )
    max_nodes: Int = Field(
        ge=1,
        le=1000,
        description="the most nodes, 1 to 1000; caps autoscaling. The models served from the "
        "pool must fit their minimum replicas into max_nodes x gpus_per_node GPUs (an error "
        "otherwise) and their peak is capped to it (a warning)",
        examples=[4],
    )
    extra_instance_types: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="more catalog instance types with the same GPUs, so a spot node group can "
        "draw on more capacity pools; AWS only (GKE and AKS pools take one machine type), at "
        "most 10",
        examples=[["g6e.2xlarge"]],
    )
    purpose: Literal["inference", "training"] = Field(
        default="inference",
        description="inference: models are served from it; training: for training jobs, never "
        "a models[].pool. In a hybrid the inference pools are on-prem and the training pools "
        "in the cloud",
        examples=["training"],
    )
    capacity: Literal["on-demand", "spot"] = Field(
        default="on-demand",
        description="how a cloud pool buys its nodes: spot nodes cost less and can be "
        "reclaimed (AWS SPOT, GKE Spot VMs, AKS Spot priority with Delete eviction), and are "
        "priced at the catalog's spot rate. An on-demand training pool is warned about; "
        "unused on the on-prem cluster",
        examples=["spot"],
    )
    node_hours_per_month: Float | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        description="node-hours the pool is expected to run in a month, for the cost estimate "
        "(0 to 1,000,000). Default: the nodes always up x 730 h, where the nodes always up "
        "are min_nodes, or more if the models' minimum replicas need more, plus the node-hours "
        "the training jobs on the pool need beyond them (nodes a run holds x expected_hours x "
        "runs_per_month); set it for a training pool whose use the jobs do not describe",
        examples=[200],
    )
    spot_max_usd_per_hour: Float | None = Field(
        default=None,
        gt=0,
        le=1000,
        description="the most an Azure spot node may cost per hour, in USD (the agent pool's "
        "spot max price); only for an Azure pool with capacity spot. Default the catalog's "
        "on-demand price, so the node is never outbid below it",
        examples=[2.5],
    )
    node_labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict,
        description="the labels that select the pool's nodes: the node selector of the pods "
        "placed on the pool, and on a cloud the labels given to its nodes. Default "
        "llm-platform.dev/pool=<name>; on-prem, set labels the nodes already carry",
        examples=[{conventions.GPU_PRODUCT_LABEL: "NVIDIA-L40S"}],
    )
    node_allocatable: NodeAllocatable | None = Field(
        default=None,
        description="an on-prem node's allocatable CPU and memory: the model servers' CPU and "
        "memory are sized to their share of it, and a server that cannot fit is an error. "
        "Without it they request a floor and a warning says the fit is not checked. Refused "
        "on a cloud pool, whose node sizes come from the catalog",
        examples=[{"cpu": 63.5, "memory_gib": 245}],
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

    params_b: Float = Field(
        gt=0,
        le=2000,
        description="total parameters in billions, every expert included; with the "
        "quantization it gives the weights' size",
        examples=[8.03],
    )
    layers: Int = Field(
        gt=0, le=1000, description="`num_hidden_layers`; each holds its own KV cache", examples=[32]
    )
    attention_heads: Int = Field(
        gt=0,
        le=1024,
        description="`num_attention_heads`; the tensor-parallel degree must divide it",
        examples=[32],
    )
    kv_heads: Int = Field(
        gt=0,
        le=1024,
        description="`num_key_value_heads` (grouped-query attention); must divide "
        "attention_heads. The KV cache per token grows with it",
        examples=[8],
    )
    head_dim: Int = Field(
        gt=0,
        le=1024,
        description="`head_dim`, or hidden_size / num_attention_heads where config.json has none",
        examples=[128],
    )
    hidden_size: Int = Field(gt=0, le=65536, description="`hidden_size`", examples=[4096])
    intermediate_size: Int = Field(
        gt=0,
        le=262144,
        description="the MLP's `intermediate_size`; for a mixture of experts, one expert's",
        examples=[14336],
    )
    vocab_size: Int = Field(gt=0, le=1_000_000, description="`vocab_size`", examples=[128256])
    max_position_embeddings: Int = Field(
        gt=0,
        le=10_000_000,
        description="`max_position_embeddings`: the longest context; max_context may not "
        "exceed it",
        examples=[131072],
    )
    sliding_window: Int | None = Field(
        default=None,
        ge=1,
        le=10_000_000,
        description="`sliding_window`, if the model has one; recorded only: the sizing assumes "
        "every layer attends to the whole context, which overestimates such a model's KV cache",
        examples=[4096],
    )
    tie_word_embeddings: bool = Field(
        default=False,
        description="`tie_word_embeddings`: the input embedding and the output head share "
        "one matrix. Quantized weights keep the embeddings 16-bit, counted once if tied",
        examples=[True],
    )
    num_experts: Int = Field(
        default=1,
        ge=1,
        le=1024,
        description="experts per MoE layer (`num_local_experts`); 1 for a dense model. Their "
        "layers x 3 x hidden_size x intermediate_size parameters must fit in params_b",
        examples=[8],
    )
    experts_per_token: Int = Field(
        default=1,
        ge=1,
        le=64,
        description="experts each token is routed to (`num_experts_per_tok`), at most "
        "num_experts; they set the active parameters and so the prefill time",
        examples=[2],
    )
    native_quantization: Literal["fp8", "awq", "gptq"] | None = Field(
        default=None,
        description="how the checkpoint itself is quantized (its `quantization_config`); its "
        "weights are sized so, and no --quantization is passed to vLLM",
        examples=["fp8"],
    )


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
    kind: Literal["vllm", "tensorrt-llm", "tgi", "sglang"] = Field(
        description="the serving engine (components/engines/): vllm (vLLM's OpenAI-compatible "
        "server), tensorrt-llm (Triton Inference Server with the TensorRT-LLM backend: NVIDIA "
        "GPUs only, serving an engine built beforehand), tgi (Hugging Face Text Generation "
        "Inference; its pinned image is the CUDA build) or sglang (SGLang's server; its pinned "
        "image is the CUDA build)",
        examples=["vllm"],
    )
    image: str = Field(
        description="the engine's container image, pinned: registry/repo:tag, optionally "
        "@sha256:<64 hex>; an untagged image or the `latest` tag is refused. The engine flags "
        "and metric names target the release in components/catalog/engines.yaml; another "
        "image plans with a warning",
        examples=[_VLLM_IMAGE],
    )

    _pinned = field_validator("image")(pinned_image)


class Slo(_Strict):
    ttft_p95_ms: Float = Field(
        gt=0,
        le=600_000,
        description="target 95th-percentile time to first token, in ms. The sizing lets the "
        f"prefill of one prompt take {sizing.TTFT_PREFILL_SHARE:.0%} of it (the rest is "
        "queueing) and raises the tensor-parallel degree until it does; the TTFT burn-rate "
        "alerts measure against it",
        examples=[800],
    )
    peak_concurrent_requests: Int = Field(
        ge=1,
        le=1_000_000,
        description="requests in flight at once at peak; over the sequences one replica "
        "holds, it gives the most replicas the autoscaler may run (capped by the pool's GPUs, "
        "with a warning)",
        examples=[200],
    )
    availability: Float = Field(
        default=0.995,
        gt=0.5,
        lt=1,
        description="target share of requests served without a server error, above 0.5 and "
        "below 1; 1 - availability is the error budget the burn-rate alerts watch",
        examples=[0.999],
    )
    max_usd_per_1k_conversations: Float | None = Field(
        default=None,
        gt=0,
        le=1_000_000,
        description="the cost per 1,000 conversations, in USD, above which "
        "CostPer1kConversationsHigh fires. Default twice the planned figure",
        examples=[5.0],
    )


class Traffic(_Strict):
    conversations_per_day: Float = Field(
        ge=0,
        le=1e9,
        description="conversations a day at steady state. With turns_per_conversation and the "
        "planned latency it gives the average requests in flight, and so the minimum "
        "replicas; it is also the denominator of the cost per 1,000 conversations",
        examples=[30000],
    )
    prompt_tokens_per_turn: Int = Field(
        ge=1,
        le=10_000_000,
        description="average prompt tokens sent per turn, the conversation's history included; "
        "it sets the prefill time checked against the TTFT target, and the tokens a sequence "
        "holds",
        examples=[1200],
    )
    completion_tokens_per_turn: Int = Field(
        ge=1,
        le=10_000_000,
        description="average tokens generated per turn; they set the decode time and the "
        "tokens a sequence holds",
        examples=[250],
    )
    turns_per_conversation: Float = Field(
        ge=1,
        le=10_000,
        description="average turns (requests) per conversation, at least 1",
        examples=[4],
    )


class WeightStorage(_Strict):
    """Where a model server keeps its weights. `per-pod`: each pod gets its own volume (a
    generic ephemeral volume, deleted with the pod), filled before the server starts, so any
    pod can start on any node and rollouts may surge. `shared`: one claim all pods mount,
    which must be ReadWriteMany (or ReadOnlyMany, filled beforehand) unless only one pod
    ever runs."""

    volume: Literal["per-pod", "shared"] = Field(
        default="per-pod",
        description="per-pod: each pod gets its own ReadWriteOnce volume, created with it on "
        "its node and deleted with it, and filled from the bucket by an init container (or by "
        "the engine from the Hub when there is no bucket), so a rollout's surge pod never waits "
        "for another node's disk. shared: one claim every pod mounts. A TensorRT-LLM model "
        "with no bucket needs shared, on a claim holding its built engine",
        examples=["shared"],
    )
    size_gib: Int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="the volume's size in GiB; must hold the weights (checked). Default the "
        "weights x 1.5 rounded up, at least 10",
        examples=[40],
    )
    storage_class: DnsSubdomain | None = Field(
        default=None,
        description="the volume's StorageClass; default the platform's encrypted class on a "
        "cloud, the cluster's default class on-prem",
        examples=["nfs-rwx"],
    )
    access_mode: Literal["ReadWriteMany", "ReadOnlyMany", "ReadWriteOnce"] | None = Field(
        default=None,
        description="the shared claim's access mode (only with volume: shared). Default "
        "ReadWriteMany. ReadOnlyMany: filled beforehand, served from /models/<model> with no "
        "download. ReadWriteOnce attaches to one node, so it is refused when a second pod may "
        "need it elsewhere (more than one replica, or a surge rollout)",
        examples=["ReadOnlyMany"],
    )

    @property
    def shared_access_mode(self) -> str:
        return self.access_mode or "ReadWriteMany"

    @property
    def prefilled(self) -> bool:
        """Already on a read-only shared claim: neither synced, fetched nor downloaded."""
        return self.volume == "shared" and self.access_mode == "ReadOnlyMany"


class SecretRef(_Strict):
    name: DnsLabel = Field(
        description="the Kubernetes Secret, in the model's namespace, holding a Hugging Face "
        "token for gated models; made beforehand (kubectl), never from the spec. It is "
        "mounted read-only as a file that HF_TOKEN_PATH points at, not an env var",
        examples=["hf-token"],
    )
    # A Secret data key, as k8s.io/apimachinery's IsConfigMapKey accepts it
    # (pkg/util/validation/validation.go @eed236ce, 2026-07-23): [-._a-zA-Z0-9]+, at most
    # 253 characters, and not `.`, `..` or starting with `..` (hasChDirPrefix): the key
    # becomes a file name where the Secret is mounted.
    key: str = Field(
        default="token",
        max_length=253,
        pattern=r"^[-._a-zA-Z0-9]+$",
        description="the data key in that Secret holding the token: letters, digits, '-', "
        "'_' and '.', at most 253, not '.' or starting with '..'",
        examples=["token"],
    )

    @field_validator("key")
    @classmethod
    def _not_a_directory(cls, v: str) -> str:
        if v == "." or v.startswith(".."):
            raise ValueError("must not be '.' or '..' or start with '..'")
        return v


class HostedApiPrice(_Strict):
    """A hosted API to compare against for the break-even figure."""

    name: str = Field(
        min_length=1,
        max_length=80,
        description="the hosted API's name, shown beside its cost per 1,000 conversations in "
        "the plan and cost.json",
        examples=["gpt-4o-mini"],
    )
    usd_per_million_input: Float = Field(
        ge=0,
        le=10_000,
        description="its price in USD per million input (prompt) tokens",
        examples=[0.15],
    )
    usd_per_million_output: Float = Field(
        ge=0,
        le=10_000,
        description="its price in USD per million output (completion) tokens",
        examples=[0.6],
    )


class ModelFallback(_Strict):
    """Where the gateway sends a model's requests it cannot serve: the model's hosted_api,
    whose name is the upstream model asked for and whose prices price the fallback."""

    api_base: str = Field(
        pattern=r"^https://[^\s/?#@]+(/[^\s?#]*)?$",
        description="the hosted API's OpenAI-compatible base URL, https, with no credentials, "
        "query or fragment; the gateway sends the request there, naming the model "
        "hosted_api.name, on a 429, a 5xx, a timeout or a prompt over max_context. The "
        "gateway's egress NetworkPolicy then opens TCP 443 to public addresses",
        examples=["https://api.openai.com/v1"],
    )
    api_key_secret: ConfigKeyName = Field(
        description="the Pulumi config key holding the hosted API's key, set with `pulumi "
        "config set --secret <key> <value>`; the gateway reads it from a Secret. Not read in "
        "render mode, where the Secret is made with kubectl",
        examples=["openaiApiKey"],
    )


# A Hub revision is the repository's 40-hex commit: a branch or tag (main, v1) moves, so
# the same spec could serve other weights tomorrow. Our own fine-tune's version is any
# short name, but only with a source.uri to read it from (checked).
HUB_COMMIT = re.compile(r"^[0-9a-f]{40}$")
# It is also a pod label value, which must end in a letter or digit.
Revision = Annotated[str, Field(pattern=r"^v?[0-9a-z]([0-9a-z.-]{0,38}[0-9a-z])?$")]
# huggingface_hub 2.4.0 hf_api.py:798,904: ModelInfo.sha, the commit model_info() read.
REVISION_RULE = (
    "a 40-hex commit of the Hugging Face repository (its History tab, or "
    "huggingface_hub.model_info(hf_id).sha), or our own fine-tune's version (lowercase "
    "letters, digits, '.' and '-', at most 40, an optional leading 'v') with a source.uri"
)
_HEX_EXAMPLE = "a09a35458c702b33eeacc393d103063234e8bc28"


class ModelSource(_Strict):
    """Where the sync Job reads a revision that is not the Hub repository of hf_id."""

    # The protocols the lifecycle image's fsspec backends read (locks/lifecycle.txt:
    # s3fs 2026.9.0 core.py:365 s3; gcsfs 2026.10.1 core.py:400 gs, gcs; adlfs 2026.8.0
    # spec.py:295 abfs, az, abfss; huggingface_hub 2.4.0 hf_file_system.py:446 hf); no
    # credentials in the URL: the publisher's workload identity reads it.
    uri: str = Field(
        pattern=r"^(s3|gs|gcs|az|abfs|abfss|hf)://[^\s?#]+$",
        max_length=1024,
        description="the fsspec URL of the directory holding the revision's files (s3://, "
        "gs://, az:// or abfs://, or hf://<repo> for another Hub repository), read by the "
        "sync Job as the publisher's identity; no credentials or query in it",
        examples=["s3://acme-fine-tunes/support-bot/v3"],
    )


class Judge(_Strict):
    """An LLM that scores answers against a written rubric, through the gateway."""

    model: DnsLabel = Field(
        description="the judge: a model of this spec that the gateway routes (it speaks the "
        "OpenAI API), asked through the gateway to score each answer",
        examples=["analyst"],
    )
    rubric: NonEmpty = Field(
        description="the written rubric the judge scores each answer by, 0 to 1; an answer "
        "the judge scores outside 0 to 1 or not at all fails the gate (fails closed)",
        examples=["Score 1 if the answer is faithful to the reference and polite, else 0."],
    )


class ModelEval(_Strict):
    """The eval gate: the golden set evals/<name>/golden.jsonl in the artifact store, run
    against the candidate and the incumbent before the candidate gets any traffic."""

    min_score: Float = Field(
        ge=0,
        le=1,
        description="the candidate's mean score on the golden set must be at least this, 0 "
        "to 1",
        examples=[0.8],
    )
    max_regression: Float = Field(
        default=0.03,
        ge=0,
        le=1,
        description="and not below the incumbent's by more than this, 0 to 1. Default 0.03: "
        "the seeds' most a faithfulness score may drop",
        examples=[0.03],
    )
    judge: Judge | None = Field(
        default=None,
        description="LLM-as-judge for the golden set's rubric items, through the gateway "
        "(needs a gateway block). Default none: only the exact, contains, regex and "
        "JSON-schema scorers",
        examples=[{"model": "analyst", "rubric": "Score 1 if the answer is correct, else 0."}],
    )


class ShadowSpec(_Strict):
    """Shadow traffic before any user sees the candidate."""

    sample_pct: Float = Field(
        ge=1,
        le=10,
        description="the share of the model's real requests the gateway copies to the "
        "candidate, 1 to 10 % (the seeds' range); the candidate's answers are discarded and "
        "scored against the incumbent's, and a shadow failure never touches the user's request",
        examples=[5],
    )
    duration_minutes: Int = Field(
        ge=5,
        le=10080,
        description="how long the shadow runs before its scores are judged, 5 minutes to a "
        "week",
        examples=[60],
    )


class RolloutStep(_Strict):
    weight_pct: Int = Field(
        ge=1,
        le=100,
        description="the canary's target share, 1 to 100 %. Without a traffic router the "
        "share is the canary's share of the pods, which the plan prints per step",
        examples=[25],
    )
    pause_minutes: Int = Field(
        ge=1,
        le=10080,
        description="how long the step holds, with the analysis running, before the next; "
        "1 minute to a week",
        examples=[60],
    )


# The seeds: 5 / 25 / 50 / 100 with pauses of 15, 60 and 120 minutes; 100 % is the
# promotion after the last step.
DEFAULT_STEPS = (
    RolloutStep(weight_pct=5, pause_minutes=15),
    RolloutStep(weight_pct=25, pause_minutes=60),
    RolloutStep(weight_pct=50, pause_minutes=120),
)


class AbortSpec(_Strict):
    """Canary against stable, compared by pod-template hash at every step: any one aborts
    the rollout, and Argo Rollouts scales the canary back down to stable."""

    error_ratio_factor: Float = Field(
        default=1.5,
        gt=1,
        le=10,
        description="abort when the canary's error ratio is over this many times stable's; "
        "over 1, at most 10",
        examples=[1.5],
    )
    ttft_p95_factor: Float = Field(
        default=1.5,
        gt=1,
        le=10,
        description="abort when the canary's time to first token p95 is over this many times "
        "stable's; over 1, at most 10",
        examples=[1.5],
    )
    refusal_rate_increase: Float = Field(
        default=0.03,
        gt=0,
        le=1,
        description="abort when the canary refuses more of the golden set's prompts than "
        "stable by more than this share; over 0, at most 1",
        examples=[0.03],
    )
    cost_per_request_factor: Float = Field(
        default=1.2,
        gt=1,
        le=10,
        description="abort when the canary's cost per request (GPU time per request) is "
        "over this many times stable's; over 1, at most 10",
        examples=[1.2],
    )


class Rollout(_Strict):
    """Served by an Argo Rollouts canary instead of a Deployment: the eval gate, optional
    shadow traffic and approval, then traffic steps with automatic rollback."""

    approval: bool = Field(
        default=False,
        description="an indefinite pause after the eval gate (and shadow), before any traffic, "
        "that a person ends with `kubectl argo rollouts promote <model>`",
        examples=[True],
    )
    shadow: ShadowSpec | None = Field(
        default=None,
        description="shadow traffic through the gateway (needs a gateway block) while the "
        "candidate has no users. Default none",
        examples=[{"sample_pct": 5, "duration_minutes": 60}],
    )
    steps: list[RolloutStep] = Field(
        default_factory=lambda: list(DEFAULT_STEPS),
        min_length=1,
        max_length=10,
        description="the traffic steps, weights strictly increasing; after the last the "
        "canary becomes stable. Default the seeds' 5 % for 15 minutes, 25 % for 60, 50 % "
        "for 120. The largest step's canary pods need spare GPUs in the model's pool (checked)",
        examples=[
            [{"weight_pct": 5, "pause_minutes": 15}, {"weight_pct": 50, "pause_minutes": 60}]
        ],
    )
    abort: AbortSpec = Field(
        default=AbortSpec(),
        description="when the analysis at every step aborts the rollout",
        examples=[{"error_ratio_factor": 2.0}],
    )


class Model(_Strict):
    name: DnsLabel = Field(
        description="the model's name: it names its Deployment and Service, is the model name "
        "clients send (the served model name) and the weights' directory /models/<name>; "
        f"unique among the models. {_DNS_LABEL_RULE}",
        examples=["assistant"],
    )
    hf_id: str | None = Field(
        default=None,
        description="a catalog model (components/catalog/models.yaml), by its Hugging Face id: "
        "its architecture is known, and with no bucket the engine downloads it from the Hub. "
        "Set hf_id or architecture",
        examples=["meta-llama/Llama-3.1-8B-Instruct"],
    )
    architecture: Architecture | None = Field(
        default=None,
        description="for a model not in the catalog: the facts of its config.json, which the "
        "sizing uses instead of the catalog's. Its facts must agree with each other (checked)",
        examples=[
            {
                "params_b": 8.03,
                "layers": 32,
                "attention_heads": 32,
                "kv_heads": 8,
                "head_dim": 128,
                "hidden_size": 4096,
                "intermediate_size": 14336,
                "vocab_size": 128256,
                "max_position_embeddings": 131072,
            }
        ],
    )
    revision: Revision = Field(
        description=f"the pinned version the model serves: {REVISION_RULE}. Synced once to "
        "models/<name>/<revision>/ where there is an artifact store; else the engine "
        "downloads exactly this commit from the Hub",
        examples=[_HEX_EXAMPLE],
    )
    previous_revision: Revision | None = Field(
        default=None,
        description="the revision this one replaces: the rollout's stable side and the "
        "rollback target (`llm-platform rollback`); the lifecycle keeps its files. Default "
        "none: a first version",
        examples=["bb46c15ee4bb56c5b63245ef50fd7637234d6f75"],
    )
    source: ModelSource | None = Field(
        default=None,
        description="where the revision's files come from. Default the Hub repository hf_id "
        "at revision",
        examples=[{"uri": "s3://acme-fine-tunes/support-bot/v3"}],
    )
    engine: Engine = Field(
        description="the serving engine and its pinned image",
        examples=[{"kind": "vllm", "image": _VLLM_IMAGE}],
    )
    pool: DnsLabel = Field(
        description="the gpu_pools[].name serving the model: an inference pool whose "
        "max_nodes x gpus_per_node GPUs hold the minimum replicas of every model it serves",
        examples=["l40s"],
    )
    quantization: sizing.Quantization = Field(
        default="none",
        description="the weights' format in GPU memory: none (16-bit), fp8 (8-bit), awq or "
        "gptq (4-bit); smaller weights leave more memory for the KV cache. none keeps the "
        "checkpoint's own quantization, if it has one; vLLM gets --quantization only for a "
        "checkpoint that is not quantized already",
        examples=["fp8"],
    )
    kv_cache_dtype: sizing.KvDtype = Field(
        default="auto",
        description="the KV cache's element type: auto (the model's 16-bit type) or fp8, which "
        "halves its size and so doubles the tokens it holds (vLLM --kv-cache-dtype)",
        examples=["fp8"],
    )
    max_context: Int = Field(
        ge=256,
        le=10_000_000,
        description="the longest request, prompt plus completion, in tokens (vLLM "
        "--max-model-len), at most the model's max_position_embeddings. The sizing picks the "
        "smallest tensor-parallel degree whose KV cache holds one request this long",
        examples=[16384],
    )
    gpu_memory_utilization: Float = Field(
        default=0.9,
        ge=0.5,
        le=0.98,
        description="the share of each GPU's memory the engine may take for weights, "
        "activations and the KV cache, 0.5 to 0.98 (vLLM --gpu-memory-utilization; "
        "TensorRT-LLM's kv_cache_free_gpu_mem_fraction). The rest is left to the CUDA context "
        "and other processes",
        examples=[0.92],
    )
    prefix_caching: bool = Field(
        default=True,
        description="reuse the KV cache of a prompt prefix requests share, such as a system "
        "prompt or a conversation's history (vLLM --enable-prefix-caching, TensorRT-LLM "
        "enable_kv_cache_reuse)",
        examples=[False],
    )
    slo: Slo = Field(
        description="the latency and availability targets the sizing and the alerts work to",
        examples=[{"ttft_p95_ms": 800, "peak_concurrent_requests": 200}],
    )
    traffic: Traffic = Field(
        description="the expected load, which sizes the minimum replicas and the cost per "
        "1,000 conversations",
        examples=[
            {
                "conversations_per_day": 30000,
                "prompt_tokens_per_turn": 1200,
                "completion_tokens_per_turn": 250,
                "turns_per_conversation": 4,
            }
        ],
    )
    weights: WeightStorage = Field(
        default=WeightStorage(),
        description="where each model server keeps its weights",
        examples=[{"volume": "shared", "storage_class": "nfs-rwx"}],
    )
    hf_token_secret: SecretRef | None = Field(
        default=None,
        description="the Kubernetes Secret with a Hugging Face token, for a gated model the "
        "engine downloads from the Hub. Default none: no token",
        examples=[{"name": "hf-token", "key": "token"}],
    )
    hosted_api: HostedApiPrice | None = Field(
        default=None,
        description="a hosted API to compare the cost with: the plan shows its cost per 1,000 "
        "conversations and the conversations a day above which self-hosting is cheaper",
        examples=[
            {"name": "gpt-4o-mini", "usd_per_million_input": 0.15, "usd_per_million_output": 0.6}
        ],
    )
    fallback: ModelFallback | None = Field(
        default=None,
        description="overflow to the hosted API through the gateway: when the model's "
        "servers answer 429 or 5xx, time out or get a prompt over max_context, the gateway "
        "sends the request to hosted_api (required, as is a gateway block) and counts it as "
        "a fallback. Default none: past its capacity the model answers 429 with Retry-After",
        examples=[{"api_base": "https://api.openai.com/v1", "api_key_secret": "openaiApiKey"}],
    )
    eval: ModelEval | None = Field(
        default=None,
        description="the eval gate a new revision passes before any traffic (required with "
        "rollout): the golden set evals/<name>/golden.jsonl, candidate against incumbent",
        examples=[{"min_score": 0.8, "max_regression": 0.03}],
    )
    rollout: Rollout | None = Field(
        default=None,
        description="serve through an Argo Rollouts canary instead of a Deployment: the eval "
        "gate, optional shadow and approval, then traffic steps that abort and roll back by "
        "themselves. Default none: a Deployment, whose update replaces pods at once",
        examples=[{"approval": True, "shadow": {"sample_pct": 5, "duration_minutes": 60}}],
    )

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


class ArtifactClaim(_Strict):
    """An on-prem artifact store: a ReadWriteMany PersistentVolumeClaim the sync Job writes
    model revisions to and every model server reads them from."""

    name: DnsLabel = Field(
        default="model-artifacts",
        description=f"the claim's name in the namespace. {_DNS_LABEL_RULE}",
        examples=["model-artifacts"],
    )
    size_gib: Int = Field(
        ge=1,
        le=1_000_000,
        description="its size in GiB: room for every model's serving revision and the one "
        "before it, which the lifecycle never deletes",
        examples=[500],
    )
    storage_class: DnsSubdomain = Field(
        description="a StorageClass that provides ReadWriteMany volumes (NFS, CephFS): the "
        "sync Job writes while model servers on other nodes read",
        examples=["nfs-rwx"],
    )


# A P-256 public key made for the examples; its private key was thrown away.
_PEM_EXAMPLE = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqMfXImHrwsE5BZR5vUaEaUbLcfkc\n"
    "TkLvJLvxOJauyJj1eLEHcW5Klrb3bp4zfcLK1AMMgnOZub4zit3G8vnnug==\n"
    "-----END PUBLIC KEY-----\n"
)


# The SubjectPublicKeyInfo algorithm of an EC key (RFC 5480 2.1.1) and the named curves
# model_signing==1.1.1 accepts (_signing/sign_ec_key.py:50: secp256r1, secp384r1, secp521r1),
# as DER-encoded OBJECT IDENTIFIERs. Read with the standard library: the plan's lock has no
# crypto package, and only the key's kind is checked here (the image verifies with it).
_EC_PUBLIC_KEY_OID = bytes.fromhex("2a8648ce3d0201")
_EC_CURVE_OIDS = {
    bytes.fromhex("2a8648ce3d030107"): "P-256",
    bytes.fromhex("2b81040022"): "P-384",
    bytes.fromhex("2b81040023"): "P-521",
}
_PEM_PUBLIC = re.compile(
    r"\A\s*-----BEGIN PUBLIC KEY-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END PUBLIC KEY-----\s*\Z"
)


def _der(data: bytes, at: int) -> tuple[int, bytes, int]:
    """The DER element at `at`: its tag, its contents and where the next one starts."""
    tag, size, at = data[at], data[at + 1], at + 2
    if size & 0x80:
        count = size & 0x7F
        if not 0 < count <= 2:
            raise ValueError("length")
        size, at = int.from_bytes(data[at : at + count], "big"), at + count
    if at + size > len(data):
        raise ValueError("truncated")
    return tag, data[at : at + size], at + size


def _ec_curve(der: bytes) -> str | None:
    """The named curve of a DER SubjectPublicKeyInfo, or None when it is not an EC key."""
    try:
        tag, info, _ = _der(der, 0)
        tag_alg, algorithm, _ = _der(info, 0)
        tag_oid, oid, after = _der(algorithm, 0)
        tag_curve, curve, _ = _der(algorithm, after)
    except (IndexError, ValueError):
        return None
    if (tag, tag_alg, tag_oid, tag_curve) != (0x30, 0x30, 0x06, 0x06):
        return None
    return _EC_CURVE_OIDS.get(curve) if oid == _EC_PUBLIC_KEY_OID else None


def _ec_public_key(v: str) -> str:
    if "PRIVATE KEY" in v:
        raise ValueError(
            "is a private key: put only the public key here, and the private key in the "
            "Secret model-signing-key or the Pulumi secret private_key_secret names"
        )
    found = _PEM_PUBLIC.match(v)
    try:
        der = base64.b64decode("".join(found.group(1).split()), validate=True) if found else b""
    except binascii.Error:
        der = b""
    if not der:
        raise ValueError("must be a PEM public key (-----BEGIN PUBLIC KEY-----)")
    if _ec_curve(der) is None:
        raise ValueError("must be an elliptic-curve P-256, P-384 or P-521 public key")
    return v


class Signing(_Strict):
    """The key pair model revisions are signed with (OpenSSF model_signing, an EC key: no
    network, so no Sigstore)."""

    public_key: Annotated[str, Field(max_length=4096), AfterValidator(_ec_public_key)] = Field(
        description="the PEM of the EC public key (P-256, P-384 or P-521) that verifies every "
        "revision before its engine starts; not secret: it goes to the ConfigMap "
        "model-signing-pub. Make the pair with `openssl ecparam -name prime256v1 -genkey "
        "-noout -out private.pem && openssl ec -in private.pem -pubout -out public.pem`",
        examples=[_PEM_EXAMPLE],
    )
    private_key_secret: ConfigKeyName = Field(
        default="modelSigningKey",
        description="the Pulumi config key holding the private key's PEM, set with `pulumi "
        "config set --secret <key> < private.pem`; the sync Job reads it from the Secret "
        "model-signing-key. Not read in render mode, where that Secret is made with kubectl",
        examples=["modelSigningKey"],
    )


class Lifecycle(_Strict):
    """How model revisions are proven: signed when synced, verified before serving."""

    signing: Signing | None = Field(
        default=None,
        description="the signing key pair; required where models are synced (a cloud or "
        "hybrid bucket, or onprem.artifact_claim)",
        examples=[{"public_key": _PEM_EXAMPLE, "private_key_secret": "modelSigningKey"}],
    )


class OnPrem(_Strict):
    gpu_hour_usd: Float = Field(
        gt=0,
        le=1000,
        description="the amortised cost in USD of one owned GPU for one hour (purchase, power, "
        "space and operations over its life); it prices the on-prem pools in the cost "
        "estimate and the cost alerts",
        examples=[1.1],
    )
    artifact_claim: ArtifactClaim | None = Field(
        default=None,
        description="an on-prem artifact store: a ReadWriteMany claim that model revisions "
        "are synced to, signed, and verified from. Default none: each engine downloads its "
        "pinned revision from the Hub, unsigned",
        examples=[{"size_gib": 500, "storage_class": "nfs-rwx"}],
    )


class Artifacts(_Strict):
    """The bucket for weights and checkpoints (cloud and hybrid topologies)."""

    expected_gib: Int | None = Field(
        default=None,
        ge=1,
        le=10_000_000,
        description="GiB expected in the bucket, for its cost estimate. Default three "
        "versions of every model's weights",
        examples=[500],
    )
    noncurrent_version_days: Int = Field(
        default=30,
        ge=1,
        le=3650,
        description="days after which a lifecycle rule deletes an overwritten or deleted "
        "object version (the bucket is versioned); 1 to 3650",
        examples=[30],
    )
    checkpoint_days: Int = Field(
        default=14,
        ge=1,
        le=3650,
        description="days after which a lifecycle rule deletes objects under checkpoints/; "
        "1 to 3650",
        examples=[14],
    )


# Private and shared address space a VPN peer cannot be reached at over the internet.
_UNROUTABLE = ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16")

_LINK_KIND = (
    "vpn: the stack creates a site-to-site IPsec VPN from the cloud network to peer_ip; "
    "existing: a link already there (Direct Connect, Interconnect, ExpressRoute), of which "
    "only name and onprem_cidrs are recorded"
)


class Vpn(_Strict):
    """A site-to-site IPsec VPN from the cloud network to the on-prem gateway."""

    kind: Literal["vpn"] = Field(description=_LINK_KIND, examples=["vpn"])
    peer_ip: str = Field(
        description="vpn: the on-prem VPN gateway's public IPv4 address; a private, shared "
        "(100.64.0.0/10), loopback, link-local or multicast address is refused",
        examples=["203.0.113.10"],
    )
    onprem_cidrs: list[Cidr] = Field(
        min_length=1,
        description="the on-prem networks the cloud reaches over the link, at least one; none "
        "may overlap the cloud network's ranges",
        examples=[["10.10.0.0/16"]],
    )
    bgp_asn: Int = Field(
        default=65000,
        ge=64512,
        le=65534,
        description="vpn: the on-prem gateway's BGP autonomous system number, a private one "
        "(64512 to 65534)",
        examples=[65010],
    )
    shared_key_secret: ConfigKeyName = Field(
        default="vpnSharedKey",
        description="vpn: the Pulumi config key holding the IPsec pre-shared key, set with "
        "`pulumi config set --secret <key> <value>`",
        examples=["vpnSharedKey"],
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

    kind: Literal["existing"] = Field(description=_LINK_KIND, examples=["existing"])
    name: str = Field(
        min_length=1,
        max_length=200,
        description="existing: what the link is (its Direct Connect, Interconnect or "
        "ExpressRoute name), for reviewers; nothing is created for it",
        examples=["dxcon-1a2b3c"],
    )
    onprem_cidrs: list[Cidr] = Field(
        min_length=1,
        description="the on-prem networks the cloud reaches over the link, at least one; none "
        "may overlap the cloud network's ranges",
        examples=[["10.10.0.0/16"]],
    )


class Hybrid(_Strict):
    """Inference on the on-prem cluster; artifacts and spot training in one cloud."""

    cloud: CloudName = Field(
        description="the cloud holding the artifacts bucket, the budget and the training "
        "pools; its block (aws, gcp or azure) is then required",
        examples=["aws"],
    )
    connectivity: Annotated[Vpn | ExistingLink, Field(discriminator="kind")] = Field(
        description="how the cloud network reaches the on-prem one: a VPN this stack creates, "
        "or a link that exists already",
        examples=[{"kind": "vpn", "peer_ip": "203.0.113.10", "onprem_cidrs": ["10.10.0.0/16"]}],
    )
    onprem_oidc_issuer: str = Field(
        pattern=r"^https://[^\s/]+(/\S*)?$",
        description="the on-prem cluster's service-account issuer (an https URL); the cloud "
        "trusts its tokens so serving pods read weights with no stored key. It must serve "
        "/.well-known/openid-configuration where the cloud can reach it, or see "
        "onprem_jwks_json",
        examples=["https://oidc.example.com/c1"],
    )
    onprem_jwks_json: str | None = Field(
        default=None,
        min_length=2,
        description="the issuer's JWKS document, uploaded for an issuer the cloud cannot reach; "
        "GCP only (AWS and Azure must reach the issuer)",
        examples=['{"keys": []}'],
    )


class Cluster(_Strict):
    kubeconfig: NonEmpty | None = Field(
        default=None,
        description="path to the kubeconfig file the Kubernetes provider uses for the on-prem "
        "cluster (topologies onprem and hybrid; a cloud stack connects to the cluster it "
        "creates). Default the provider's own choice",
        examples=["~/.kube/config"],
    )
    context: NonEmpty | None = Field(
        default=None,
        description="the kubeconfig context of the on-prem cluster; default its current context",
        examples=["onprem-gpu"],
    )
    render_to_directory: NonEmpty | None = Field(
        default=None,
        description="write the manifests to this directory instead of applying them (README: "
        "Render mode); only for the on-prem cluster (topologies onprem and hybrid)",
        examples=["out/rendered"],
    )
    namespace: DnsLabel | None = Field(
        default=None,
        description="the namespace of the model servers; default llm-<environment>. The GPU "
        "runtime's namespaces are named after it (<namespace>-gpu)",
        examples=["llm-serving"],
    )
    gpu_operator: bool = Field(
        default=False,
        description="install the NVIDIA GPU Operator (pinned Helm chart) instead of the "
        "device plugin and DCGM exporter; refused on GCP, where GKE installs the driver and "
        "device plugin itself",
        examples=[True],
    )
    prometheus_namespace: DnsLabel = Field(
        default="monitoring",
        description="the namespace of Prometheus: kube-prometheus-stack and the adapter are "
        "installed there, and the NetworkPolicies let only it scrape the model servers and "
        "the GPU runtime",
        examples=["monitoring"],
    )


class Receiver(_Strict):
    """Where an alert goes. The credential (PagerDuty routing key, Slack webhook URL, SMTP
    password, webhook bearer token) is never in the spec: `secret` names a Pulumi secret in
    this stack's config, and Alertmanager reads it from a mounted file."""

    kind: Literal["pagerduty", "slack", "email", "webhook"] = Field(
        description="pagerduty (a routing key), slack (an incoming webhook URL), email "
        "(SMTP, TLS required) or webhook (HTTP POST with a bearer token)",
        examples=["pagerduty"],
    )
    secret: ConfigKeyName = Field(
        description="the Pulumi config key holding the credential (routing key, Slack webhook "
        "URL, SMTP password or bearer token), set with `pulumi config set --secret <key> "
        "<value>`; Alertmanager reads it from a mounted file. Not read in render mode, where "
        "the Secret is made with kubectl",
        examples=["pagerdutyRoutingKey"],
    )
    channel: str | None = Field(
        default=None,
        pattern=r"^[#@]?[-\w.]{1,80}$",
        description="slack (required): the channel or user to post to",
        examples=["#llm-platform-tickets"],
    )
    to: str | None = Field(
        default=None,
        pattern=_EMAIL,
        description="email (required): the recipient address",
        examples=["oncall@example.com"],
    )
    sender: str | None = Field(
        default=None,
        pattern=_EMAIL,
        description="email (required): the From address",
        examples=["alertmanager@example.com"],
    )
    smarthost: str | None = Field(
        default=None,
        pattern=r"^[-a-zA-Z0-9.]+:[0-9]{1,5}$",
        description="email (required): the SMTP server as host:port",
        examples=["smtp.example.com:587"],
    )
    username: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="email (required): the SMTP user; its password is the secret",
        examples=["alertmanager"],
    )
    url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s@?#]+$",
        description="webhook (required): the endpoint, with no credentials, query or fragment "
        "in it; the secret is the bearer token sent to it",
        examples=["https://alerts.example.com/hook"],
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

    pager: Receiver = Field(
        description="where critical alerts go: someone is paged",
        examples=[{"kind": "pagerduty", "secret": "pagerdutyRoutingKey"}],
    )
    ticket: Receiver = Field(
        description="where warnings go: a ticket or a channel someone reads",
        examples=[{"kind": "slack", "secret": "slackWebhookUrl", "channel": "#llm-tickets"}],
    )


_CHART_VERSION = Field(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$", description="pinned chart version")


class Prometheus(_Strict):
    mode: Literal["install", "existing"] = Field(
        default="install",
        description="install: kube-prometheus-stack (pinned chart) into "
        "cluster.prometheus_namespace, with Alertmanager run from the platform's config. "
        "existing: use a Prometheus Operator already there, which selects the platform's "
        "monitors and rules by match_labels; its Alertmanager is left alone",
        examples=["existing"],
    )
    chart_version: Annotated[str, _CHART_VERSION] = Field(
        default=versions.pin("kube-prometheus-stack").value,
        description="the kube-prometheus-stack chart version (install mode); the values, the "
        "CRD schemas and the tests are written for the default (tests/upstream/)",
        examples=[versions.pin("kube-prometheus-stack").value],
    )
    adapter_chart_version: Annotated[str, _CHART_VERSION] = Field(
        default=versions.pin("prometheus-adapter").value,
        description="the prometheus-adapter chart version",
        examples=[versions.pin("prometheus-adapter").value],
    )
    install_adapter: bool = Field(
        default=True,
        description="install Prometheus Adapter, which serves the queue metric the model "
        "servers' HPAs scale on; without it that metric must come from an adapter of your "
        "own",
        examples=[False],
    )
    retention: str = Field(
        default="15d",
        pattern=r"^[0-9]+[dhw]$",
        description="how long Prometheus keeps samples (install mode): a number and d, h or w",
        examples=["30d"],
    )
    storage_gib: Int = Field(
        default=50,
        ge=1,
        le=100_000,
        description="the Prometheus volume's size in GiB (install mode)",
        examples=[100],
    )
    storage_class: DnsSubdomain | None = Field(
        default=None,
        description="the Prometheus volume's StorageClass (install mode); default the "
        "cluster's default class",
        examples=["fast-ssd"],
    )
    match_labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict,
        description="existing mode: the labels the operator already there selects "
        "ServiceMonitors and PrometheusRules by; added to every one the platform creates",
        examples=[{"release": "kube-prometheus-stack"}],
    )
    url: str = Field(
        default="http://kube-prometheus-stack-prometheus.monitoring.svc:9090",
        pattern=r"^https?://[^\s/]+(:[0-9]+)?(/\S*)?$",
        description="the Prometheus the adapter queries; default the Service the installed "
        "chart creates in the monitoring namespace (set it when cluster.prometheus_namespace "
        "is another)",
        examples=["http://prometheus-operated.monitoring.svc:9090"],
    )
    grafana_admin_secret: ConfigKeyName = Field(
        default="grafanaAdminPassword",
        description="the Pulumi config key holding Grafana's admin password (install mode); "
        "not read in render mode",
        examples=["grafanaAdminPassword"],
    )


class Quality(_Strict):
    """The quality and drift monitor: a CronJob over the gateway's request/response logs."""

    log_volume_claim: DnsLabel = Field(
        description="the PersistentVolumeClaim, in the model servers' namespace, where the "
        "gateway writes one JSON line per request and response to <model>/*.jsonl; mounted "
        "read-only. With a gateway it is the claim the gateway makes, so it must equal "
        "gateway.request_log.claim; without one it must exist already",
        examples=["request-logs"],
    )
    reference_dir: str = Field(
        default="reference",
        pattern=r"^[A-Za-z0-9_][-\w/]*$",
        description="the directory in that claim holding <model>.jsonl, the reference prompts "
        "drift is measured against",
        examples=["reference"],
    )
    schedule: str = Field(
        default="*/15 * * * *",
        pattern=r"^(\S+\s+){4}\S+$",
        description="the CronJob's cron schedule; QualityMonitorStale fires after three "
        "missed runs (three hours for a schedule that is not every N minutes)",
        examples=["*/30 * * * *"],
    )
    sample_size: Int = Field(
        default=400,
        ge=50,
        le=20_000,
        description="recent requests scored per run, and reference prompts read",
        examples=[400],
    )
    image: str = Field(
        default=versions.image("quality-monitor"),
        description="the monitor's image (docker/quality-monitor.Dockerfile), pinned by tag "
        "or digest like the engine's",
        examples=[versions.image("quality-monitor")],
    )
    # Measured with tests/quality_corpus.py (bench/drift.py): about 0.000 for a fresh sample
    # of the same topic, 0.008 with 20% of prompts off-topic, 0.05 at 50%, 0.20 for a new
    # topic. 0.02 flags roughly a third of traffic moving to something new.
    input_drift_threshold: Float = Field(
        default=0.02,
        gt=0,
        le=2,
        description="InputDrift fires when the MMD^2 between recent prompt embeddings and "
        "the reference's is above this; 0.02 flags roughly a third of the traffic moving to "
        "a new topic (bench/drift.py)",
        examples=[0.05],
    )
    output_length_drift_pct: Float = Field(
        default=30,
        gt=0,
        le=1000,
        description="OutputLengthDrift fires when the last hour's mean completion length "
        "differs from the 7-day mean by more than this percentage",
        examples=[50],
    )
    refusal_spike_factor: Float = Field(
        default=2.0,
        gt=1,
        le=100,
        description="RefusalRateSpike fires when the sampled refusal rate exceeds this many "
        "times its 7-day baseline (and refusal_rate_floor)",
        examples=[3],
    )
    refusal_rate_floor: Float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="the refusal rate (a share, 0 to 1) below which RefusalRateSpike never "
        "fires, however it compares with the baseline",
        examples=[0.1],
    )

    _pinned = field_validator("image")(pinned_image)


class AlertThresholds(_Strict):
    kv_cache_full_pct: Float = Field(
        default=95,
        gt=0,
        le=100,
        description="ModelKVCacheNearFull fires when the busiest replica's KV cache stays "
        "above this percentage for 15 minutes",
        examples=[90],
    )
    preemptions_per_minute: Float = Field(
        default=1,
        gt=0,
        le=100_000,
        description="ModelPreemptions (vLLM) fires above this many preempted sequences a "
        "minute, for 15 minutes",
        examples=[5],
    )
    gpu_idle_util_pct: Float = Field(
        default=10,
        gt=0,
        le=100,
        description="GPUIdleWaste fires when a model's paid-for GPUs average below this "
        "utilisation percentage for 3 hours",
        examples=[15],
    )
    spot_interruptions_per_hour: Int = Field(
        default=3,
        ge=1,
        le=1000,
        description="SpotInterruptionsHigh fires when training jobs in one pool are "
        "interrupted more than this many times in an hour",
        examples=[5],
    )


class Observability(_Strict):
    alerting: Alerting = Field(
        description="where alerts go; both receivers are required",
        examples=[
            {
                "pager": {"kind": "pagerduty", "secret": "pagerdutyRoutingKey"},
                "ticket": {"kind": "slack", "secret": "slackWebhookUrl", "channel": "#llm"},
            }
        ],
    )
    prometheus: Prometheus = Field(
        default=Prometheus(),
        description="the Prometheus stack: installed, or one already in the cluster",
        examples=[{"mode": "existing", "match_labels": {"release": "prometheus"}}],
    )
    runbook_base_url: str = Field(
        default="https://github.com/llm-platform/llm-platform/blob/main/runbooks",
        pattern=r"^https?://\S+[^/]$",
        description="the base of every alert's runbook_url, <base>/<Alert>.md, with no "
        "trailing slash; default this repository's runbooks/",
        examples=["https://git.example.com/ops/llm-platform/-/blob/main/runbooks"],
    )
    grafana_url: str = Field(
        default="http://grafana.monitoring.svc",
        pattern=r"^https?://\S+[^/]$",
        description="Grafana's base URL, with no trailing slash: every alert's dashboard_url "
        "links to a dashboard under it",
        examples=["https://grafana.example.com"],
    )
    thresholds: AlertThresholds = Field(
        default=AlertThresholds(),
        description="the alert thresholds that are a matter of taste rather than of the SLO",
        examples=[{"kv_cache_full_pct": 90}],
    )
    quality: Quality | None = Field(
        default=None,
        description="the quality and drift monitor: a CronJob scoring sampled requests and "
        "its alerts. Default none: not deployed",
        examples=[{"log_volume_claim": "request-logs"}],
    )


class GatewayReplicas(_Strict):
    """The gateway's HorizontalPodAutoscaler bounds (it scales on CPU)."""

    min: Int = Field(
        default=2,
        ge=1,
        le=50,
        description="the fewest gateway pods, 1 to 50 and at most max; two keep the API up "
        "through a node drain (the PodDisruptionBudget keeps one)",
        examples=[2],
    )
    max: Int = Field(
        default=4,
        ge=1,
        le=50,
        description="the most gateway pods the autoscaler runs, 1 to 50. Every pod shares the "
        "rate-limit counters through the in-cluster Redis, so the limits hold across them",
        examples=[4],
    )


_DATABASE_KIND = (
    "cloudnative-pg: an in-cluster Postgres run by the CloudNativePG operator (installed "
    "with it), backed up to the artifact bucket where the environment has one; existing: a "
    "Postgres of yours, reached with the connection string in url_secret"
)


class CnpgDatabase(_Strict):
    """An in-cluster Postgres the CloudNativePG operator runs for the gateway."""

    kind: Literal["cloudnative-pg"] = Field(description=_DATABASE_KIND, examples=["cloudnative-pg"])
    instances: Int = Field(
        default=2,
        ge=1,
        le=5,
        description="cloudnative-pg: Postgres instances, 1 to 5: one primary and streaming "
        "replicas the operator fails over to",
        examples=[2],
    )
    storage_gib: Int = Field(
        default=10,
        ge=1,
        le=100_000,
        description="cloudnative-pg: each instance's volume in GiB. It holds only teams, key "
        "hashes and the monthly spend ledger, so it stays small",
        examples=[10],
    )
    storage_class: DnsSubdomain | None = Field(
        default=None,
        description="cloudnative-pg: the instances' StorageClass; default the platform's "
        "encrypted class on a cloud, the cluster's default class on-prem",
        examples=["fast-ssd"],
    )


class ExistingDatabase(_Strict):
    """A Postgres that exists already; the gateway creates its own tables in it."""

    kind: Literal["existing"] = Field(description=_DATABASE_KIND, examples=["existing"])
    url_secret: ConfigKeyName = Field(
        default="gatewayDatabaseUrl",
        description="existing: the Pulumi config key holding the connection string "
        "(postgresql://user:password@host:5432/db), set with `pulumi config set --secret "
        "<key> <value>`. Not read in render mode, where the Secret is made with kubectl",
        examples=["gatewayDatabaseUrl"],
    )


class TeamKey(_Strict):
    """One API key of a team. The gateway stores only its SHA-256."""

    alias: DnsLabel = Field(
        description="the key's name, unique across all teams: the request log and the "
        f"gateway's Secret name the key by it, never by its value. {_DNS_LABEL_RULE}",
        examples=["support-prod"],
    )
    secret: ConfigKeyName = Field(
        description="the Pulumi config key holding the key's value (what the client sends as "
        "`Authorization: Bearer <key>`), set with `pulumi config set --secret <key> <value>`; "
        "used by no other key. Not read in render mode, where the Secret is made with kubectl",
        examples=["supportBotKey"],
    )


class GatewayTeam(_Strict):
    """A team of clients: the models it may call, its limits and its keys."""

    name: DnsLabel = Field(
        description="the team's name, unique among the teams; it labels the gateway's "
        f"metrics and the request log. {_DNS_LABEL_RULE}",
        examples=["support-bot"],
    )
    models: list[DnsLabel] = Field(
        min_length=1,
        max_length=100,
        description="the models[].name the team may call, at least one; a request for "
        "another is refused. A model served by tensorrt-llm (KServe v2, not the "
        "OpenAI API) cannot be reached through the gateway",
        examples=[["assistant"]],
    )
    rpm: Int | None = Field(
        default=None,
        ge=1,
        le=100_000_000,
        description="requests a minute across the team's keys, shared by every gateway pod; "
        "past it the client gets 429 with Retry-After. Default none: no limit (the policy "
        "pack refuses a team without limits)",
        examples=[600],
    )
    tpm: Int | None = Field(
        default=None,
        ge=1,
        le=10_000_000_000,
        description="tokens (prompt plus completion) a minute across the team's keys; past it "
        "429 with Retry-After. Default none: no limit",
        examples=[400000],
    )
    max_parallel_requests: Int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="requests of the team in flight at once; past it 429 with Retry-After. "
        "Default none: no limit",
        examples=[32],
    )
    monthly_budget_usd: Float | None = Field(
        default=None,
        gt=0,
        le=10_000_000,
        description="the team's spend in USD a calendar month (UTC), priced at the gateway's "
        "per-token prices (GPU $/h over planned tokens/h; a fallback at the hosted API's "
        "list price); past it the team's requests get 429 `budget_exceeded` until the next "
        "month. At most the environment's ceiling. Default none: no team budget",
        examples=[1500],
    )
    keys: list[TeamKey] = Field(
        min_length=1,
        max_length=100,
        description="the team's API keys, at least one; a key is issued or revoked by "
        "adding or removing it here (the provisioning Job makes the database match)",
        examples=[[{"alias": "support-prod", "secret": "supportBotKey"}]],
    )


class RequestLog(_Strict):
    """The claim the gateway writes one JSON line per request to; the quality monitor reads
    it (<claim>/<model>/*.jsonl)."""

    claim: DnsLabel = Field(
        default="request-logs",
        description="the PersistentVolumeClaim the gateway creates and writes "
        "<model>/<day>-<pod>.jsonl to; must equal observability.quality.log_volume_claim "
        f"when the quality monitor is on, which reads it. {_DNS_LABEL_RULE}",
        examples=["request-logs"],
    )
    size_gib: Int = Field(
        default=20,
        ge=1,
        le=100_000,
        description="the claim's size in GiB; it holds retention_days of request lines",
        examples=[50],
    )
    storage_class: DnsSubdomain | None = Field(
        default=None,
        description="the claim's StorageClass, which must provide ReadWriteMany: every "
        "gateway pod writes to it and the quality monitor reads it. Default the cluster's "
        "default class",
        examples=["nfs-rwx"],
    )
    retention_days: Int = Field(
        default=30,
        ge=1,
        le=3650,
        description="days a request log file is kept; older files are deleted. 1 to 3650",
        examples=[30],
    )
    redact_prompts: Annotated[bool, Strict()] = Field(
        default=False,
        description="store each prompt and completion as its SHA-256 instead of its text. The "
        "quality monitor then has no text to measure drift or refusals on (a warning when "
        "it is on)",
        examples=[True],
    )


class GatewayIngress(_Strict):
    """An Ingress in front of the gateway's Service, with TLS from a Secret you made."""

    host: DnsSubdomain = Field(
        description="the host name clients reach the gateway at",
        examples=["llm.example.com"],
    )
    tls_secret: DnsSubdomain = Field(
        description="the kubernetes.io/tls Secret, in the model namespace, holding the host's "
        "certificate and key; made beforehand (kubectl or cert-manager), never from the spec",
        examples=["llm-gateway-tls"],
    )
    class_name: DnsSubdomain | None = Field(
        default=None,
        description="the IngressClass; default the cluster's default class",
        examples=["nginx"],
    )


class Gateway(_Strict):
    """The LiteLLM proxy in front of the model servers: one OpenAI-compatible API with
    per-team keys, rate limits, budgets, fallback to a hosted API and the request log."""

    image: str = Field(
        default=versions.image("gateway"),
        description="the gateway's image (docker/gateway.Dockerfile: the pinned LiteLLM and "
        "our auth, callbacks and provisioning), pinned by tag or digest like the engine's",
        examples=[versions.image("gateway")],
    )
    replicas: GatewayReplicas = Field(
        default=GatewayReplicas(),
        description="how many gateway pods the autoscaler runs",
        examples=[{"min": 2, "max": 4}],
    )
    master_key_secret: ConfigKeyName = Field(
        default="gatewayMasterKey",
        description="the Pulumi config key holding the gateway's master (admin) key, set with "
        "`pulumi config set --secret <key> <value>`; used by no team key. Not read in render "
        "mode, where the Secret is made with kubectl",
        examples=["gatewayMasterKey"],
    )
    database: Annotated[CnpgDatabase | ExistingDatabase, Field(discriminator="kind")] = Field(
        default=CnpgDatabase(kind="cloudnative-pg"),
        description="the Postgres holding teams, key hashes and the monthly spend ledger",
        examples=[{"kind": "cloudnative-pg", "instances": 2}],
    )
    ceiling_usd: Float | None = Field(
        default=None,
        gt=0,
        le=10_000_000,
        description="the environment's monthly cost ceiling in USD: once the month's spend "
        "through the gateway reaches it, every team is refused (429 `budget_exceeded`) until "
        "the next month. Default budget.monthly_usd x budget.hard_cap_pct / 100 (x 1 when "
        "hard_cap_pct is null)",
        examples=[4500],
    )
    teams: list[GatewayTeam] = Field(
        default_factory=list,
        max_length=500,
        description="the teams and their keys; names and key aliases unique. Default none: "
        "only the master key gets in (a warning)",
        examples=[
            [
                {
                    "name": "support-bot",
                    "models": ["assistant"],
                    "rpm": 600,
                    "tpm": 400000,
                    "max_parallel_requests": 32,
                    "monthly_budget_usd": 1500,
                    "keys": [{"alias": "support-prod", "secret": "supportBotKey"}],
                }
            ]
        ],
    )
    request_log: RequestLog = Field(
        default=RequestLog(),
        description="where each request is logged for the quality monitor, and for how long",
        examples=[{"claim": "request-logs", "retention_days": 30}],
    )
    ingress: GatewayIngress | None = Field(
        default=None,
        description="expose the gateway outside the cluster through an Ingress with TLS. "
        "Default none: a ClusterIP Service (llm-gateway, port 4000) only",
        examples=[{"host": "llm.example.com", "tls_secret": "llm-gateway-tls",
                   "class_name": "nginx"}],
    )

    _pinned = field_validator("image")(pinned_image)


# A runner label as actions/runner takes one: its config splits --labels on ',' and refuses a
# label over 256 characters (src/Runner.Listener/Configuration/Validators.cs, LabelsValidator,
# v2.336.0). Whitespace and unprintable characters are refused too: a label must read as
# what it is where runs-on and the runner's settings show it.
_RUNNER_LABEL = r"^[^\s,\x00-\x1f\x7f]{1,256}$"


def _runner_label(v: str) -> str:
    # The labels reach `runs-on` through fromJSON: an expression opener in one is never a
    # runner's label, and only hides what the job will run on.
    if "${{" in v:
        raise ValueError(f"must be a runner label, not an expression (got {echo(v)})")
    if not re.match(_RUNNER_LABEL, v) or not v.isprintable():
        raise ValueError(
            "must be a runner label: 1 to 256 printable characters, without whitespace or ',' "
            f"(got {echo(v)})"
        )
    return v


# The pattern is for the JSON Schema (editors); the validator says what is wrong in words.
RunnerLabel = Annotated[
    str, AfterValidator(_runner_label), Field(json_schema_extra={"pattern": _RUNNER_LABEL})
]


class Ci(_Strict):
    """How the workflows (.github/workflows/) treat this stack: where its deploy and its
    pull requests' `pulumi preview` run, and whether merges deploy it at all."""

    runner: list[RunnerLabel] = Field(
        default_factory=list,
        description="the labels of the runner for the jobs that reach the cluster: the "
        "deploy, and the `pulumi preview` of a pull request from this repository (never a "
        "fork's). Empty (default): GitHub's hosted ubuntu-24.04, which is outside every "
        "network, so a stack whose cluster endpoint is private (aws without "
        "aws.public_endpoint_cidrs, gcp without gcp.authorized_networks, every azure stack) "
        "needs a self-hosted runner inside its network, and its deploy is refused without "
        "one. Each label 1 to 256 characters, without whitespace or ','; a job runs on a "
        "runner that has all of them",
        examples=[["self-hosted", "llm-platform-aws"]],
    )
    deploy: Annotated[bool, Strict()] = Field(
        default=True,
        description="whether a merge to main deploys the stack (deploy.yml); false: never, "
        "for a cluster CI cannot or must not reach, such as a laptop's. A stack in render "
        "mode (cluster.render_to_directory) is never deployed from CI either: its manifests "
        "would be written to the runner's disk and lost",
        examples=[False],
    )


# A training image must be pinned by digest: a tag can be pushed again, and the run record
# must name exactly what ran.
_DIGEST_PINNED = r"^[^\s@]+@sha256:[0-9a-f]{64}$"
_CRON = r"^(\S+\s+){4}\S+$"


class TrainingBase(_Strict):
    """The model a training job starts from, pinned like a served model."""

    hf_id: NonEmpty = Field(
        description="the Hugging Face repository the job fine-tunes",
        examples=["meta-llama/Llama-3.1-8B-Instruct"],
    )
    revision: Revision = Field(
        description=f"the pinned version it starts from: {REVISION_RULE}",
        examples=[_HEX_EXAMPLE],
    )


class Dataset(_Strict):
    uri: str = Field(
        pattern=r"^(s3|gs|gcs|az|abfs|abfss|hf|file)://[^\s?#]+$",
        max_length=1024,
        description="the fsspec URL of the training data, read by the job's identity; no "
        "credentials or query in it",
        examples=["s3://acme-datasets/support/conversations"],
    )
    version: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")] = Field(
        description="the dataset's version, recorded with the run (a snapshot date, a commit, "
        "an object version): letters, digits, '.', '_' and '-', at most 64",
        examples=["2026-11-30"],
    )


class RetrainTrigger(_Strict):
    """When to retrain: the written policy of runbooks/retraining-policy.md, checked by a
    CronJob against Prometheus."""

    model: DnsLabel = Field(
        description="the models[].name whose input drift (from observability.quality) and "
        "eval score (from its eval gate) are watched; at least one of them must exist",
        examples=["assistant"],
    )
    schedule: str = Field(
        default="0 6 * * *",
        pattern=_CRON,
        description="the trigger CronJob's cron schedule",
        examples=["0 6 * * *"],
    )
    drift_days: Int = Field(
        default=5,
        ge=1,
        le=30,
        description="the trigger fires when input drift was over the quality monitor's "
        "input_drift_threshold on at least this many of the last window_days days",
        examples=[5],
    )
    window_days: Int = Field(
        default=7,
        ge=1,
        le=30,
        description="the days drift_days counts over; at least drift_days",
        examples=[7],
    )
    eval_floor: Float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="the trigger also fires when the model's latest eval score is under "
        "this, 0 to 1; the model needs an eval gate. Default the model's eval.min_score; "
        "a model with no eval has only its drift watched",
        examples=[0.8],
    )
    action: Literal["ticket", "train"] = Field(
        default="ticket",
        description="ticket: only file a ticket (the default, a human decides); train: start "
        "this training job",
        examples=["ticket"],
    )


class TrainingJob(_Strict):
    name: DnsLabel = Field(
        description=f"the job's name: its Job is train-<name> and its checkpoints live under "
        f"checkpoints/<name>/; unique among the jobs. {_DNS_LABEL_RULE}",
        examples=["support-ft"],
    )
    image: Annotated[str, Field(pattern=_DIGEST_PINNED, max_length=512)] = Field(
        description="the trainer's image, pinned by digest (<repository>@sha256:<64 hex>); "
        "glibc-based, since the harness runs in it",
        examples=["ghcr.io/acme/trainer@sha256:" + "0" * 64],
    )
    command: list[NonEmpty] = Field(
        min_length=1,
        max_length=64,
        description="the trainer's command; it runs under the harness with CHECKPOINT_DIR, "
        "RESUME_STEP, CHECKPOINT_INTERVAL_SECONDS, OUTPUT_DIR, SEED and HYPERPARAMETERS set "
        "(README: Training on spot)",
        examples=[["python", "-m", "trainer.finetune"]],
    )
    model: DnsLabel = Field(
        description="the model the run produces a revision of: its output goes to "
        "models/<model>/<revision>/, signed, ready for the eval gate",
        examples=["assistant"],
    )
    base: TrainingBase = Field(
        description="the model the run starts from",
        examples=[{"hf_id": "meta-llama/Llama-3.1-8B-Instruct", "revision": _HEX_EXAMPLE}],
    )
    dataset: Dataset = Field(
        description="the training data and its version",
        examples=[{"uri": "s3://acme-datasets/support", "version": "2026-11-30"}],
    )
    hyperparameters: dict[
        Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")],
        Annotated[bool, Strict()] | Int | Float | Annotated[str, Field(max_length=256)],
    ] = Field(
        default_factory=dict,
        max_length=64,
        description="passed to the trainer as the JSON object HYPERPARAMETERS and stored "
        "with the run",
        examples=[{"learning_rate": 0.0002, "epochs": 2}],
    )
    seed: Int = Field(
        default=0,
        ge=0,
        le=2**31 - 1,
        description="the run's random seed (SEED), stored with the run",
        examples=[1234],
    )
    pool: DnsLabel = Field(
        description="the gpu_pools[].name it runs on: a training pool holding its "
        "workers; in a cloud, spot unless on_demand_reason says why not (an on-prem "
        "training pool is never reclaimed)",
        examples=["train"],
    )
    gpus_per_worker: Int = Field(
        default=1,
        ge=1,
        le=16,
        description="GPUs each worker pod takes, at most the pool's gpus_per_node",
        examples=[4],
    )
    workers: Int = Field(
        default=1,
        ge=1,
        le=64,
        description="worker pods, each on one node; more than one runs as a JobSet. The "
        "pool holds max_nodes x (gpus_per_node // gpus_per_worker) of them",
        examples=[1],
    )
    checkpoint_interval_minutes: Int = Field(
        default=30,
        ge=1,
        le=1440,
        description="how often the trainer checkpoints (CHECKPOINT_INTERVAL_SECONDS): the "
        "work a preemption can cost; shorter than the deadline",
        examples=[15],
    )
    checkpoint_seconds: Int = Field(
        default=20,
        ge=1,
        le=3600,
        description="how long the trainer takes to write a checkpoint and the harness to "
        "upload it: on a spot pool the final checkpoint on SIGTERM must fit the grace the "
        "cloud leaves a pod (pod_grace_s in components/catalog/spot_notice.yaml)",
        examples=[20],
    )
    keep_checkpoints: Int = Field(
        default=3,
        ge=1,
        le=100,
        description="complete checkpoints kept per run; older ones are deleted, never the one "
        "being restored",
        examples=[3],
    )
    max_preemptions: Int = Field(
        default=20,
        ge=0,
        le=1000,
        description="preemptions a run survives before the Job fails",
        examples=[20],
    )
    active_deadline_hours: Float = Field(
        default=24.0,
        gt=0,
        le=720,
        description="the Job's activeDeadlineSeconds, in hours, preemptions included",
        examples=[12.0],
    )
    expected_hours: Float = Field(
        gt=0,
        le=720,
        description="the wall-clock hours one run is expected to take, for the cost estimate "
        "(expected GPU-hours = this x workers x gpus_per_worker); at most the deadline",
        examples=[6.0],
    )
    runs_per_month: Float = Field(
        default=1.0,
        ge=0,
        le=744,
        description="runs expected in a month, for the cost estimate",
        examples=[4.0],
    )
    schedule: Annotated[str, Field(pattern=_CRON)] | None = Field(
        default=None,
        description="a cron schedule to run the job on (a CronJob); default none: it runs "
        "once per change of its run (image, command, base, dataset, hyperparameters, seed)",
        examples=["0 2 * * 0"],
    )
    on_demand_reason: Annotated[str, Field(min_length=8, max_length=256)] | None = Field(
        default=None,
        description="why this job runs on an on-demand cloud pool; required there, refused "
        "on a spot or on-prem pool",
        examples=["the contract's deadline cannot absorb a spot reclaim"],
    )
    trigger: RetrainTrigger | None = Field(
        default=None,
        description="retrain when the written policy holds; default none",
        examples=[{"model": "assistant", "action": "ticket"}],
    )


class Training(_Strict):
    """Training jobs on the spot training pools (README: Training on spot)."""

    jobs: list[TrainingJob] = Field(
        default_factory=list,
        max_length=20,
        description="the training jobs, each on a training pool",
        examples=[[{"name": "support-ft", "model": "assistant", "pool": "train"}]],
    )


class EnvironmentSpec(_Strict):
    environment: DnsLabel = Field(
        description="the environment's name: it prefixes resource names, names the default "
        "namespace llm-<environment> and must equal tags.environment. "
        f"{_DNS_LABEL_RULE} On GCP it may not contain 'google' (the bucket is named after it)",
        examples=["local"],
    )
    topology: Topology = Field(
        description="where the environment runs. onprem: an existing Kubernetes cluster "
        "(needs onprem). aws, gcp, azure: the stack creates the network, the cluster, the "
        "artifacts bucket and the budget in that cloud (needs its block). hybrid: serving on "
        "the on-prem cluster, artifacts and training in hybrid.cloud (needs onprem, hybrid "
        "and the cloud's block). A block no topology here reads is refused",
        examples=["onprem"],
    )
    tags: Tags = Field(
        description="the owner tags every taggable resource carries (cloud tags or labels, "
        "Kubernetes labels); the policy pack requires them",
        examples=[
            {
                "team": "ml-platform",
                "cost_center": "cc-1042",
                "environment": "local",
                "owner": "platform-oncall",
            }
        ],
    )
    budget: Budget = Field(
        description="the monthly budget: the plan reports against it; on a cloud it becomes "
        "a cloud budget that notifies people and, on AWS, stops the GPUs at the hard cap",
        examples=[{"monthly_usd": 6000, "notify_emails": ["finops@example.com"]}],
    )
    gpu_pools: list[GpuPool] = Field(
        min_length=1,
        description="the GPU node pools, at least one: on a cloud the stack creates them, "
        "on-prem they describe GPU nodes the cluster already has",
        examples=[[{"name": "l40s", "gpu": "L40S", "gpus_per_node": 2, "max_nodes": 2}]],
    )
    models: list[Model] = Field(
        default_factory=list,
        description="the models to serve, each sized to its pool from its SLO and traffic. "
        "Default none: the platform without model servers",
        examples=[
            [
                {
                    "name": "assistant",
                    "hf_id": "meta-llama/Llama-3.1-8B-Instruct",
                    "engine": {"kind": "vllm", "image": _VLLM_IMAGE},
                    "pool": "l40s",
                    "max_context": 16384,
                    "slo": {"ttft_p95_ms": 800, "peak_concurrent_requests": 200},
                    "traffic": {
                        "conversations_per_day": 30000,
                        "prompt_tokens_per_turn": 1200,
                        "completion_tokens_per_turn": 250,
                        "turns_per_conversation": 4,
                    },
                }
            ]
        ],
    )
    onprem: OnPrem | None = Field(
        default=None,
        description="the on-prem cluster's GPU price; required for topologies onprem and "
        "hybrid, refused for aws, gcp and azure",
        examples=[{"gpu_hour_usd": 1.1}],
    )
    aws: Aws | None = Field(
        default=None,
        description="the AWS account, region and cluster settings; required when the "
        "environment runs on AWS (topology aws, or hybrid with hybrid.cloud aws), refused "
        "otherwise",
        examples=[{"region": "us-east-1", "account_id": "123456789012"}],
    )
    gcp: Gcp | None = Field(
        default=None,
        description="the GCP project, region and cluster settings; required when the "
        "environment runs on GCP (topology gcp, or hybrid with hybrid.cloud gcp), refused "
        "otherwise",
        examples=[
            {
                "project": "acme-llm-prod",
                "region": "us-central1",
                "billing_account": "01ABCD-23EF45-6789AB",
            }
        ],
    )
    azure: Azure | None = Field(
        default=None,
        description="the Azure subscription, location and cluster settings; required when the "
        "environment runs on Azure (topology azure, or hybrid with hybrid.cloud azure), "
        "refused otherwise",
        examples=[
            {
                "subscription_id": "00000000-0000-0000-0000-000000000000",
                "location": "eastus",
                "budget_start": "2026-12-01",
            }
        ],
    )
    hybrid: Hybrid | None = Field(
        default=None,
        description="the hybrid's cloud, its link to the on-prem network and the issuer the "
        "cloud trusts; required for topology hybrid, refused otherwise",
        examples=[
            {
                "cloud": "aws",
                "connectivity": {"kind": "existing", "name": "dxcon-1a2b3c",
                                 "onprem_cidrs": ["10.10.0.0/16"]},
                "onprem_oidc_issuer": "https://oidc.example.com/c1",
            }
        ],
    )
    artifacts: Artifacts = Field(
        default=Artifacts(),
        description="the bucket for weights and checkpoints, made on a cloud or a hybrid's "
        "cloud (unused on-prem)",
        examples=[{"noncurrent_version_days": 60}],
    )
    cluster: Cluster = Field(
        default=Cluster(),
        description="how to reach the on-prem cluster, and the namespaces used on any cluster",
        examples=[{"kubeconfig": "~/.kube/config", "context": "onprem-gpu"}],
    )
    observability: Observability = Field(
        description="metrics, alerts and where they go; alerting is required",
        examples=[
            {
                "alerting": {
                    "pager": {"kind": "pagerduty", "secret": "pagerdutyRoutingKey"},
                    "ticket": {"kind": "slack", "secret": "slackWebhookUrl", "channel": "#llm"},
                }
            }
        ],
    )

    gateway: Gateway | None = Field(
        default=None,
        description="the gateway in front of the model servers (README: Gateway): per-team "
        "keys, rate limits, budgets, the environment's cost ceiling, fallback to a hosted API "
        "and the request log the quality monitor reads. Default none: clients reach the model "
        "servers' Services directly, and no model may have a fallback",
        examples=[
            {
                "teams": [
                    {
                        "name": "support-bot",
                        "models": ["assistant"],
                        "rpm": 600,
                        "tpm": 400000,
                        "max_parallel_requests": 32,
                        "monthly_budget_usd": 1500,
                        "keys": [{"alias": "support-prod", "secret": "supportBotKey"}],
                    }
                ]
            }
        ],
    )
    lifecycle: Lifecycle = Field(
        default=Lifecycle(),
        description="how model revisions are signed and verified (README: Shipping a new "
        "model version)",
        examples=[
            {"signing": {"public_key": _PEM_EXAMPLE, "private_key_secret": "modelSigningKey"}}
        ],
    )
    training: Training = Field(
        default=Training(),
        description="training jobs on spot capacity that checkpoint, resume and publish a "
        "signed revision (README: Training on spot)",
        examples=[{"jobs": [{"name": "support-ft", "model": "assistant", "pool": "train"}]}],
    )
    ci: Ci = Field(
        default=Ci(),
        description="where the GitHub workflows run this stack's deploy and pull-request "
        "preview, and whether they deploy it (README: CI on GitHub)",
        examples=[{"runner": ["self-hosted", "llm-platform-aws"]}, {"deploy": False}],
    )

    def secret_keys(self) -> dict[str, tuple[str | int, ...]]:
        """Pulumi secret config keys the spec refers to, with the spec path of each."""
        obs = self.observability
        keys: dict[str, tuple[str | int, ...]] = {}
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
            keys.update(self.gateway_secret_keys())
            signing = self.lifecycle.signing
            if signing is not None and self.has_artifact_store:
                keys[signing.private_key_secret] = ("lifecycle", "signing", "private_key_secret")
        if self.hybrid is not None and isinstance(self.hybrid.connectivity, Vpn):
            keys[self.hybrid.connectivity.shared_key_secret] = (
                "hybrid",
                "connectivity",
                "shared_key_secret",
            )
        return keys

    def gateway_secret_keys(self) -> dict[str, tuple[str | int, ...]]:
        """The gateway's master key, its database URL, every team key and every model's
        hosted API key."""
        gateway = self.gateway
        if gateway is None:
            return {}  # a fallback without a gateway is refused by the checks
        keys: dict[str, tuple[str | int, ...]] = {
            gateway.master_key_secret: ("gateway", "master_key_secret")
        }
        for i, model in enumerate(self.models):
            if model.fallback is not None:
                keys[model.fallback.api_key_secret] = ("models", i, "fallback", "api_key_secret")
        if isinstance(gateway.database, ExistingDatabase):
            keys[gateway.database.url_secret] = ("gateway", "database", "url_secret")
        for i, team in enumerate(gateway.teams):
            for k, key in enumerate(team.keys):
                keys[key.secret] = ("gateway", "teams", i, "keys", k, "secret")
        return keys

    @property
    def gateway_ceiling_usd(self) -> float | None:
        """The monthly USD ceiling the gateway refuses every team past: gateway.ceiling_usd,
        else the budget at its hard cap (budget.monthly_usd x hard_cap_pct / 100, or the
        budget itself when the hard cap is off). None without a gateway."""
        if self.gateway is None:
            return None
        if self.gateway.ceiling_usd is not None:
            return self.gateway.ceiling_usd
        return self.budget.monthly_usd * (self.budget.hard_cap_pct or 100) / 100

    @property
    def cloud(self) -> CloudName | None:
        """The cloud that hosts this environment's pools, artifacts and budget."""
        if self.topology in clouds.NAMES:
            return self.topology  # type: ignore[return-value]
        return self.hybrid.cloud if self.hybrid is not None else None

    def cloud_pools(self) -> list[GpuPool]:
        """The GPU pools a cloud foundation creates: all of them, or in a hybrid the
        training pools (inference stays on the on-prem cluster)."""
        if self.topology == "hybrid":
            return [p for p in self.gpu_pools if p.purpose == "training"]
        return list(self.gpu_pools) if self.cloud is not None else []

    @property
    def has_artifact_store(self) -> bool:
        """Whether models are synced to a store: a cloud's or a hybrid's bucket, or the
        on-prem artifact claim. Without one, engines download from the Hub, unsigned."""
        if self.cloud is not None:
            return True
        return self.onprem is not None and self.onprem.artifact_claim is not None

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
