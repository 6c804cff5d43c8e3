"""The gateway's narrow inputs, resolved from the spec by `kubernetes/resolve.gateway_args`.

The gateway is the LiteLLM proxy in front of the model servers. Keys, teams and spend live
in the gateway's own tables in Postgres, read by our `custom_auth` (components/gateway/):
LiteLLM's own key store needs Prisma, whose engines are fetched at run time from a host that
neither this workplace nor an air-gapped cluster reaches. LiteLLM itself enforces rpm, tpm
and parallel limits (shared through Redis), backpressure, routing and fallbacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from components.kubernetes.facts import ArtifactStore, WorkloadIdentity


@dataclass(frozen=True)
class Fallback:
    """The hosted API a model overflows to: the model's `hosted_api`, reached at `api_base`."""

    hosted_model: str
    api_base: str
    # The Pulumi secret config key holding the hosted API's key.
    key_secret: str
    usd_per_input_token: float
    usd_per_output_token: float


@dataclass(frozen=True)
class ShadowJudge:
    """The model that grades a shadow answer against the incumbent's (the model's eval judge),
    called at its own Service, as the gateway routes it."""

    model: str
    api_base: str


@dataclass(frozen=True)
class ShadowRoute:
    """A share of a model's successful requests copied to its rollout's candidate (Argo's
    experiment Service `<model>-candidate`), whose answers are scored and discarded."""

    api_base: str
    sample_fraction: float  # 0 < f <= 1: the spec's sample_pct / 100
    timeout_s: int
    # The candidate's revision: the `revision` label of the shadow series and the report's file.
    revision: str
    judge: ShadowJudge | None = None
    # Copies in flight per gateway replica: past it a copy is not sent, so a candidate that
    # hangs holds at most this many tasks (each until timeout_s).
    max_in_flight: int = 16


@dataclass(frozen=True)
class Route:
    """One model as the gateway serves it, to the model's Service."""

    model: str
    api_base: str
    # Backpressure: the planned capacity, max_num_seqs x replicas_max. Past it the request
    # falls back, or gets 429 with Retry-After, never a queue that times out.
    max_parallel_requests: int
    # Our cost model's price: the model's GPU $/h over its planned tokens/h.
    usd_per_input_token: float
    usd_per_output_token: float
    timeout_s: int
    # What the request log records as the version that served a request.
    revision: str
    fallback: Fallback | None = None
    # A streamed request's timeout: LiteLLM's litellm_params.stream_timeout, read per
    # deployment (litellm==1.106.12 router.py:4371-4380). The HTTP client applies it to
    # each read (httpcore==1.0.9 _async/http11.py:196-210), so it bounds a stall between
    # chunks, not the whole answer as timeout_s does. None: timeout_s (router.py:4399-4404).
    stream_timeout_s: int | None = None
    # During a rollout the Service behind the route has pods of `revision` (the target) and of
    # `previous_revision` (stable): without a traffic router the gateway cannot tell which one
    # answered, so the request log records both as the spec states them.
    previous_revision: str | None = None
    shadow: ShadowRoute | None = None


@dataclass(frozen=True)
class TeamKey:
    alias: str
    # The Pulumi secret config key holding the key's value.
    secret: str


@dataclass(frozen=True)
class Team:
    name: str
    models: tuple[str, ...]
    # None: no limit of that kind (the policy pack refuses such a team).
    rpm: int | None
    tpm: int | None
    max_parallel_requests: int | None
    monthly_budget_usd: float | None
    keys: tuple[TeamKey, ...]


@dataclass(frozen=True)
class CnpgDatabase:
    """An in-cluster Postgres run by CloudNativePG, backed up to the artifact bucket."""

    instances: int
    storage_gib: int
    storage_class: str | None
    # None where the environment has no bucket (on-prem): no backups.
    backup_store: ArtifactStore | None = None
    backup_identity: WorkloadIdentity | None = None


@dataclass(frozen=True)
class ExistingDatabase:
    # The Pulumi secret config key holding the connection string (postgresql://...).
    url_secret: str


@dataclass(frozen=True)
class RequestLog:
    """The claim the gateway writes one JSON line per request to, and the quality monitor
    reads (`<claim>/<model>/*.jsonl`)."""

    claim: str
    size_gib: int
    storage_class: str | None
    retention_days: int
    redact_prompts: bool


@dataclass(frozen=True)
class Ingress:
    host: str
    tls_secret: str
    class_name: str | None = None


@dataclass(frozen=True)
class GatewayArgs:
    namespace: str
    labels: dict[str, str]
    image: str
    redis_image: str
    replicas_min: int
    replicas_max: int
    # The Pulumi secret config key holding the master (admin) key.
    master_key_secret: str
    database: CnpgDatabase | ExistingDatabase
    # The environment's monthly cost ceiling in USD: past it every team is refused.
    ceiling_usd: float
    teams: tuple[Team, ...]
    routes: tuple[Route, ...]
    request_log: RequestLog
    prometheus_namespace: str
    ingress: Ingress | None = None
    # Render mode (on-prem render_to_directory): no secret value is written; the Secrets
    # named in the README are made with kubectl and referenced by name.
    render: bool = False
    # Secret values by Pulumi config key (empty in render mode).
    secrets: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    crds_ready: tuple[pulumi.Resource, ...] = ()
    # Labels an existing Prometheus Operator selects ServiceMonitors by
    # (naming.monitoring_labels), as the model servers' monitors carry.
    monitoring_labels: dict[str, str] = field(default_factory=dict)
