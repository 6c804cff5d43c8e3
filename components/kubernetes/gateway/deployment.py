"""The gateway's pods: the LiteLLM container, its Deployment, autoscaler and disruption
budget. Pure builders: they return Pulumi Args.

Every LiteLLM detail is read from litellm==1.106.12 (the `gateway` catalog row's pin);
paths below are inside that wheel.
"""

from __future__ import annotations

import hashlib

import pulumi
import pulumi_kubernetes as k8s

from components import conventions, naming
from components.kubernetes import pods
from components.kubernetes.gateway import config
from components.kubernetes.gateway.args import CnpgDatabase, GatewayArgs, Route

NAME = "llm-gateway"
COMPONENT = "gateway"
CONTAINER = "gateway"
PORT = 4000
CONFIG_DIR = "/etc/llm-gateway"
CONFIG_FILE = f"{CONFIG_DIR}/config.yaml"
SETTINGS_FILE = f"{CONFIG_DIR}/gateway.json"
KEYS_DIR = f"{CONFIG_DIR}/keys"
LOG_DIR = config.LOG_DIR
CONFIG_MAP = f"{NAME}-config"
SECRETS = f"{NAME}-secrets"
KEYS_SECRET = f"{NAME}-keys"
MASTER_KEY = "master-key"
DATABASE_URL_KEY = "database-url"
# CloudNativePG writes `<cluster>-app` with the owner's connection string under `uri`
# (cloudnative-pg docs/src/applications.md; research/gateway_infra.md "The app Secret").
DB_CLUSTER = f"{NAME}-db"
DB_APP_SECRET = f"{DB_CLUSTER}-app"
DB_URI_KEY = "uri"
REDIS = f"{NAME}-redis"
REDIS_PORT = 6379
# Time for the endpoints controller and every kube-proxy to drop a terminating pod before it
# stops accepting: requests still routed to it in that window are served, not refused.
PRESTOP_S = 10
# LiteLLM starts in 8-11 s on two cores (research/litellm.md section 8); the startup probe
# allows ten times that before the liveness probe takes over.
STARTUP_PERIOD_S = 5
STARTUP_FAILURES = 24
# https://kubernetes.io/docs/reference/labels-annotations-taints/#topologykubernetesiozone
ZONE_LABEL = "topology.kubernetes.io/zone"
CHECKSUM_ANNOTATION = f"{conventions.PREFIX}/config-sha256"
# Scale out before a pod's event loop saturates: LiteLLM runs one worker per pod.
CPU_TARGET_PCT = 70

core = k8s.core.v1
hpa = k8s.autoscaling.v2


def annotations(image: str) -> dict[str, str]:
    """The Deployment's and the Job's Checkov skips, each with its reason."""
    return {
        **pods.digest_skip(image),
        f"{conventions.CHECKOV_SKIP}2": (
            "CKV_K8S_35=LiteLLM takes its master key and the hosted API keys only as "
            "os.environ/ references (litellm 1.106.12 proxy/proxy_server.py:5984-6018), "
            "and the runtime reads GATEWAY_DATABASE_URL from the environment"
        ),
    }


def selector() -> dict[str, str]:
    return naming.selector_labels(NAME, COMPONENT)


def hosted_secret_key(model: str) -> str:
    return f"hosted-{model}"


def drain_s(routes: tuple[Route, ...]) -> int:
    """The longest a request may still run when the pod is told to stop: the slowest route's
    timeout (a fallback then gets the same again, so twice that)."""
    return 2 * max((r.timeout_s for r in routes), default=60)


def _secret_env(name: str, secret: str, key: str) -> core.EnvVarArgs:
    return core.EnvVarArgs(
        name=name,
        value_from=core.EnvVarSourceArgs(
            secret_key_ref=core.SecretKeySelectorArgs(name=secret, key=key)
        ),
    )


def database_env(args: GatewayArgs) -> core.EnvVarArgs:
    """GATEWAY_DATABASE_URL: the operator's app Secret, or ours holding the given URL."""
    if isinstance(args.database, CnpgDatabase):
        return _secret_env("GATEWAY_DATABASE_URL", DB_APP_SECRET, DB_URI_KEY)
    return _secret_env("GATEWAY_DATABASE_URL", SECRETS, DATABASE_URL_KEY)


# LiteLLM fetches these from GitHub at import unless told to use its bundled copies: an
# air-gapped cluster would wait out three retries on every start (research/litellm.md
# section 8: litellm_core_utils/get_model_cost_map.py:383, get_blog_posts.py:132,
# anthropic_beta_headers_manager.py:148).
OFFLINE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "DISABLE_TELEMETRY": "True",
    # Python and its libraries write caches under HOME; the root filesystem is read-only.
    "HOME": "/tmp",
}


def gateway_env(args: GatewayArgs) -> list[core.EnvVarArgs]:
    plain = {
        **OFFLINE_ENV,
        config.REDIS_HOST_ENV: REDIS,
        config.REDIS_PORT_ENV: str(REDIS_PORT),
        "GATEWAY_SETTINGS": SETTINGS_FILE,
        # proxy/shutdown/graceful_shutdown_manager.py:32,55-70: on SIGTERM LiteLLM waits
        # for its in-flight requests up to this many seconds (default 30).
        "GRACEFUL_SHUTDOWN_TIMEOUT": str(drain_s(args.routes)),
    }
    env = [core.EnvVarArgs(name=k, value=v) for k, v in sorted(plain.items())]
    env.append(
        core.EnvVarArgs(
            name="POD_NAME",
            value_from=core.EnvVarSourceArgs(
                field_ref=core.ObjectFieldSelectorArgs(field_path="metadata.name")
            ),
        )
    )
    env.append(_secret_env(config.MASTER_KEY_ENV, SECRETS, MASTER_KEY))
    env.append(database_env(args))
    env += [
        _secret_env(config.hosted_key_env(r.model), SECRETS, hosted_secret_key(r.model))
        for r in args.routes
        if r.fallback is not None
    ]
    return env


def gateway_container(args: GatewayArgs) -> core.ContainerArgs:
    return core.ContainerArgs(
        name=CONTAINER,
        image=args.image,
        image_pull_policy="Always",
        # proxy/proxy_cli.py:741-750,816-820: --host, --port, --num_workers, --config. One
        # worker per pod: the HPA adds pods, and in-process limits stay per pod.
        command=[
            "litellm", "--config", CONFIG_FILE, "--host", "0.0.0.0",
            "--port", str(PORT), "--num_workers", "1",
        ],
        env=gateway_env(args),
        ports=[core.ContainerPortArgs(name="http", container_port=PORT)],
        resources=core.ResourceRequirementsArgs(
            requests={"cpu": "500m", "memory": "1Gi"}, limits={"cpu": "2", "memory": "2Gi"}
        ),
        # proxy/health_endpoints/_health_endpoints.py:1897 (/health/readiness: 200 with no
        # Prisma database, 503 once shutting down) and :2004 (/health/liveliness).
        startup_probe=pods.http_probe("/health/liveliness", STARTUP_PERIOD_S, STARTUP_FAILURES),
        readiness_probe=pods.http_probe("/health/readiness", 10, 3),
        liveness_probe=pods.http_probe("/health/liveliness", 20, 3),
        lifecycle=core.LifecycleArgs(
            pre_stop=core.LifecycleHandlerArgs(sleep=core.SleepActionArgs(seconds=PRESTOP_S))
        ),
        security_context=pods.container_security(),
        volume_mounts=[
            core.VolumeMountArgs(name="config", mount_path=CONFIG_DIR, read_only=True),
            core.VolumeMountArgs(name="logs", mount_path=LOG_DIR),
            core.VolumeMountArgs(name="tmp", mount_path="/tmp"),
        ],
    )


def gateway_volumes(args: GatewayArgs) -> list[core.VolumeArgs]:
    logs = core.PersistentVolumeClaimVolumeSourceArgs(claim_name=args.request_log.claim)
    return [
        core.VolumeArgs(name="config", config_map=core.ConfigMapVolumeSourceArgs(name=CONFIG_MAP)),
        core.VolumeArgs(name="logs", persistent_volume_claim=logs),
        core.VolumeArgs(name="tmp", empty_dir=core.EmptyDirVolumeSourceArgs(size_limit="1Gi")),
    ]


def config_checksum(data: dict[str, str]) -> str:
    """A change to config.yaml or gateway.json rolls the pods: LiteLLM reads both at start."""
    text = "".join(f"{k}\n{v}\n" for k, v in sorted(data.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def pod_spec(args: GatewayArgs) -> core.PodSpecArgs:
    return core.PodSpecArgs(
        # The gateway never calls the Kubernetes API: a stolen pod holds no cluster token.
        automount_service_account_token=False,
        enable_service_links=False,
        termination_grace_period_seconds=PRESTOP_S + drain_s(args.routes) + 5,
        topology_spread_constraints=[
            core.TopologySpreadConstraintArgs(
                max_skew=1,
                topology_key=topology_key,
                when_unsatisfiable="ScheduleAnyway",
                label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector()),
            )
            for topology_key in (conventions.HOSTNAME_LABEL, ZONE_LABEL)
        ],
        security_context=pods.pod_security(),
        containers=[gateway_container(args)],
        volumes=gateway_volumes(args),
    )


def deployment_spec(args: GatewayArgs, checksum: str) -> k8s.apps.v1.DeploymentSpecArgs:
    return k8s.apps.v1.DeploymentSpecArgs(
        replicas=args.replicas_min,
        selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector()),
        # The gateway is cheap to surge and is the only way in: never fewer than wanted.
        strategy=k8s.apps.v1.DeploymentStrategyArgs(
            type="RollingUpdate",
            rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0),
        ),
        template=core.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(
                labels=args.labels, annotations={CHECKSUM_ANNOTATION: checksum}
            ),
            spec=pod_spec(args),
        ),
    )


def hpa_spec(
    args: GatewayArgs, deployment: pulumi.Input[str]
) -> hpa.HorizontalPodAutoscalerSpecArgs:
    return hpa.HorizontalPodAutoscalerSpecArgs(
        scale_target_ref=hpa.CrossVersionObjectReferenceArgs(
            api_version="apps/v1", kind="Deployment", name=deployment
        ),
        min_replicas=args.replicas_min,
        max_replicas=args.replicas_max,
        metrics=[
            hpa.MetricSpecArgs(
                type="Resource",
                resource=hpa.ResourceMetricSourceArgs(
                    name="cpu",
                    target=hpa.MetricTargetArgs(
                        type="Utilization", average_utilization=CPU_TARGET_PCT
                    ),
                ),
            )
        ],
    )


def pdb_spec(args: GatewayArgs) -> k8s.policy.v1.PodDisruptionBudgetSpecArgs:
    """A drain keeps at least one gateway serving; with a single replica it may take it,
    or the node could never drain."""
    if args.replicas_min == 1:
        return k8s.policy.v1.PodDisruptionBudgetSpecArgs(
            max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector())
        )
    return k8s.policy.v1.PodDisruptionBudgetSpecArgs(
        min_available=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector())
    )
