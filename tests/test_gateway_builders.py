"""The gateway's Kubernetes objects: the pure builders called with hand-made GatewayArgs,
then the component itself under Pulumi's mock monitor. Each test states what an operator
(or an attacker) would see."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import kubernetes_validate
import pinned
import pulumi
import pytest
import yaml
from pulumi.runtime import mocks, settings

from components.kubernetes import pods
from components.kubernetes.facts import ArtifactStore, WorkloadIdentity
from components.kubernetes.gateway import Gateway, database, deployment, network, objects, redis
from components.kubernetes.gateway.args import (
    CnpgDatabase,
    ExistingDatabase,
    Fallback,
    GatewayArgs,
    Ingress,
    RequestLog,
    Route,
    Team,
    TeamKey,
)
from components.kubernetes.model_server import network as model_network
from components.kubernetes.model_server.pod import COMPONENT as MODEL_SERVER
from components.kubernetes.quality_cronjob import job as quality
from components.naming import K8sLabeler
from components.plan.manifests import is_object, to_object
from components.plan.runner import Recorded, _EchoMocks, _RecordingMonitor

LABELER = K8sLabeler(
    environment="prod",
    tags={"team": "ml", "cost-center": "cc-1", "environment": "prod", "owner": "oncall"},
)
# Known values for every Pulumi secret the args name, to look for in what is rendered.
SECRETS = {
    "gatewayMasterKey": "sk-master-5f0c2e9a71",
    "openaiApiKey": "sk-hosted-81d3b27c",
    "supportBotKey": "sk-team-support-2b7e41",
    "analystKey": "sk-team-analyst-9a0c11",
    "gatewayDatabaseUrl": "postgresql://gw:pw-4411@db.internal:5432/gw",
}
ASSISTANT = Route(
    model="assistant",
    api_base="http://assistant.serving.svc:8000/v1",
    max_parallel_requests=128,
    usd_per_input_token=1e-7,
    usd_per_output_token=4e-7,
    timeout_s=120,
    revision="Qwen/Qwen2.5-7B-Instruct@a09a354",
    fallback=Fallback("gpt-4o-mini", "https://api.openai.com/v1", "openaiApiKey", 1.5e-7, 6e-7),
)
CODER = Route(
    model="coder",
    api_base="http://coder.serving.svc:8000/v1",
    max_parallel_requests=64,
    usd_per_input_token=2e-7,
    usd_per_output_token=8e-7,
    timeout_s=300,
    revision="coder@1",
)
TEAMS = (
    Team("support-bot", ("assistant",), 600, 400_000, 32, 1500.0,
         (TeamKey("support-prod", "supportBotKey"),)),
    Team("analyst", ("assistant", "coder"), 60, 100_000, 8, 500.0,
         (TeamKey("analyst-prod", "analystKey"),)),
)


def make_args(**changes) -> GatewayArgs:
    values = dict(
        namespace="serving",
        labels=LABELER("llm-gateway", "gateway"),
        image="ghcr.io/llm-platform/gateway:0.1.0",
        redis_image="redis:7.2.16-bookworm@sha256:" + "c" * 64,
        replicas_min=2,
        replicas_max=4,
        master_key_secret="gatewayMasterKey",
        database=CnpgDatabase(instances=2, storage_gib=10, storage_class=None),
        ceiling_usd=4500.0,
        teams=TEAMS,
        routes=(ASSISTANT, CODER),
        request_log=RequestLog("request-logs", 20, "efs", 30, False),
        prometheus_namespace="monitoring",
        secrets=dict(SECRETS),
    )
    return GatewayArgs(**{**values, **changes})


def env_of(container) -> dict:
    return {e.name: e.value if e.value is not None else e.value_from for e in container.env}


# --- the gateway pod --------------------------------------------------------------------------


def test_gateway_and_job_pods_run_restricted_with_no_service_account_token():
    args = make_args()
    for spec in (deployment.pod_spec(args), objects.job_spec(args).template.spec):
        (container,) = spec.containers
        sc = container.security_context
        assert sc.allow_privilege_escalation is False and sc.read_only_root_filesystem is True
        assert sc.run_as_non_root is True and sc.capabilities.drop == ["ALL"]
        assert sc.seccomp_profile.type == "RuntimeDefault"
        assert spec.security_context.run_as_non_root is True
        assert spec.automount_service_account_token is False
        # The root filesystem is read-only: /tmp is the one scratch directory.
        tmp = {m.mount_path: m.name for m in container.volume_mounts}["/tmp"]
        (volume,) = [v for v in spec.volumes if v.name == tmp]
        assert volume.empty_dir is not None
        assert env_of(container)["HOME"] == "/tmp"


def test_gateway_listens_on_4000_and_probes_litellms_health_routes():
    (container,) = deployment.pod_spec(make_args()).containers
    assert container.name == "gateway"
    assert [(p.name, p.container_port) for p in container.ports] == [("http", 4000)]
    assert container.command == [
        "litellm", "--config", "/etc/llm-gateway/config.yaml", "--host", "0.0.0.0",
        "--port", "4000", "--num_workers", "1",
    ]
    assert container.readiness_probe.http_get.path == "/health/readiness"
    assert container.liveness_probe.http_get.path == "/health/liveliness"
    # LiteLLM takes 8-11 s to start here; the startup probe allows 120 s.
    startup = container.startup_probe
    assert startup.period_seconds * startup.failure_threshold == 120
    assert container.resources.requests["cpu"] == "500m"


def test_shutdown_lets_the_slowest_request_and_its_fallback_finish():
    args = make_args()
    spec = deployment.pod_spec(args)
    (container,) = spec.containers
    # coder's 300 s timeout, twice (the fallback gets as long), after the 10 s preStop sleep.
    assert container.lifecycle.pre_stop.sleep.seconds == 10
    assert env_of(container)["GRACEFUL_SHUTDOWN_TIMEOUT"] == "600"
    assert spec.termination_grace_period_seconds == 10 + 600 + 5


def test_gateway_env_names_secrets_never_their_values():
    env = env_of(deployment.pod_spec(make_args()).containers[0])
    refs = {k: (v.secret_key_ref.name, v.secret_key_ref.key) for k, v in env.items()
            if not isinstance(v, str) and v.secret_key_ref is not None}
    assert refs == {
        "LITELLM_MASTER_KEY": ("llm-gateway-secrets", "master-key"),
        "GATEWAY_DATABASE_URL": ("llm-gateway-db-app", "uri"),
        "HOSTED_API_KEY_ASSISTANT": ("llm-gateway-secrets", "hosted-assistant"),
    }
    assert env["POD_NAME"].field_ref.field_path == "metadata.name"
    assert (env["REDIS_HOST"], env["REDIS_PORT"]) == ("llm-gateway-redis", "6379")
    assert env["GATEWAY_SETTINGS"] == "/etc/llm-gateway/gateway.json"
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True" and env["DISABLE_TELEMETRY"] == "True"
    existing = make_args(database=ExistingDatabase("gatewayDatabaseUrl"))
    env = env_of(deployment.pod_spec(existing).containers[0])
    ref = env["GATEWAY_DATABASE_URL"].secret_key_ref
    assert (ref.name, ref.key) == ("llm-gateway-secrets", "database-url")


def test_request_log_is_shared_read_write_by_every_replica_and_read_by_the_monitor():
    args = make_args()
    spec = objects.log_claim_spec(args.request_log)
    assert spec.access_modes == ["ReadWriteMany"] and spec.storage_class_name == "efs"
    assert spec.resources.requests == {"storage": "20Gi"}
    pod = deployment.pod_spec(args)
    mount = {m.mount_path: m for m in pod.containers[0].volume_mounts}["/var/log/llm"]
    (logs,) = [v for v in pod.volumes if v.name == mount.name]
    assert logs.persistent_volume_claim.claim_name == "request-logs" and not mount.read_only
    # The quality monitor mounts the same claim at the same path, read-only.
    monitor = quality.pod_spec("img", "cfg", "request-logs")
    (theirs,) = [v for v in monitor.volumes if v.persistent_volume_claim is not None]
    assert theirs.persistent_volume_claim.claim_name == "request-logs"
    assert quality.LOGS_MOUNT == "/var/log/llm"
    # Same uid/gid: files one writes the other can read.
    assert pod.security_context.fs_group == monitor.security_context.fs_group


def test_gateway_spreads_over_nodes_and_zones_and_rolls_without_losing_capacity():
    args = make_args()
    spec = deployment.deployment_spec(args, "abc")
    keys = [c.topology_key for c in spec.template.spec.topology_spread_constraints]
    assert keys == ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]
    assert spec.strategy.rolling_update.max_unavailable == 0
    assert spec.replicas == 2
    assert spec.template.metadata.labels["app.kubernetes.io/component"] == "gateway"
    assert spec.selector.match_labels == {
        "app.kubernetes.io/name": "llm-gateway", "app.kubernetes.io/component": "gateway"}


def test_a_config_change_rolls_the_pods():
    args = make_args()
    data = objects.config_data(args)
    changed = objects.config_data(make_args(ceiling_usd=9000.0))
    assert deployment.config_checksum(data) == deployment.config_checksum(dict(data))
    assert deployment.config_checksum(data) != deployment.config_checksum(changed)


def test_hpa_scales_on_cpu_between_the_spec_bounds_and_the_pdb_keeps_one():
    args = make_args(replicas_min=3, replicas_max=7)
    spec = deployment.hpa_spec(args, "llm-gateway")
    assert (spec.min_replicas, spec.max_replicas) == (3, 7)
    (metric,) = spec.metrics
    assert metric.resource.name == "cpu" and metric.resource.target.average_utilization == 70
    assert deployment.pdb_spec(args).min_available == 1
    # One replica: a drain may take it, or the node could never drain.
    assert deployment.pdb_spec(make_args(replicas_min=1)).max_unavailable == 1


# --- ConfigMap, Secrets and the provisioning Job ---------------------------------------------


def test_no_secret_value_reaches_the_config_map():
    data = objects.config_data(make_args())
    assert set(data) == {"config.yaml", "gateway.json"}
    text = "".join(data.values())
    assert not [k for k, v in SECRETS.items() if v in text]
    config = yaml.safe_load(data["config.yaml"])
    hosted = [m for m in config["model_list"] if m["model_name"] == "assistant-hosted"]
    assert hosted[0]["litellm_params"]["api_key"] == "os.environ/HOSTED_API_KEY_ASSISTANT"
    assert json.loads(data["gateway.json"])["teams"][0]["keys"] == ["support-prod"]


def test_secrets_hold_the_master_key_each_hosted_key_and_each_team_key():
    args = make_args()
    assert objects.secret_data(args) == {
        "master-key": SECRETS["gatewayMasterKey"], "hosted-assistant": SECRETS["openaiApiKey"]}
    assert objects.key_data(args) == {
        "support-prod": SECRETS["supportBotKey"], "analyst-prod": SECRETS["analystKey"]}
    existing = make_args(database=ExistingDatabase("gatewayDatabaseUrl"))
    assert objects.secret_data(existing)["database-url"] == SECRETS["gatewayDatabaseUrl"]


def test_the_job_is_named_by_the_team_table_and_renamed_only_when_it_changes():
    args = make_args()
    name = objects.job_name(args)
    settings_json = objects.config_data(args)["gateway.json"]
    assert name == "llm-gateway-provision-" + hashlib.sha256(settings_json.encode()).hexdigest()[:8]
    # Same table, other things changed (image, replicas, a key's secret name): same Job.
    same = make_args(image="ghcr.io/llm-platform/gateway:0.2.0", replicas_max=9)
    assert objects.job_name(same) == name
    rekeyed = (replace(TEAMS[0], keys=(TeamKey("support-prod", "otherSecret"),)), TEAMS[1])
    assert objects.job_name(make_args(teams=rekeyed)) == name
    # A raised limit, a new key or a removed team: a new Job.
    raised = (replace(TEAMS[0], rpm=1200), TEAMS[1])
    added = (replace(TEAMS[0], keys=(*TEAMS[0].keys, TeamKey("support-b", "k"))), TEAMS[1])
    names = {objects.job_name(make_args(teams=t)) for t in (raised, added, TEAMS[:1])}
    assert name not in names and len(names) == 3
    assert len(name) <= 63


def test_the_job_runs_the_provisioning_module_with_settings_and_keys_files():
    spec = objects.job_spec(make_args())
    assert spec.backoff_limit == 6 and spec.ttl_seconds_after_finished > 0
    pod = spec.template.spec
    assert pod.restart_policy == "Never"
    (container,) = pod.containers
    assert container.image == "ghcr.io/llm-platform/gateway:0.1.0"
    assert container.command == [
        "python", "-m", "components.gateway.provision",
        "--settings", "/etc/llm-gateway/gateway.json", "--keys-dir", "/etc/llm-gateway/keys",
    ]
    assert env_of(container)["GATEWAY_DATABASE_URL"].secret_key_ref.name == "llm-gateway-db-app"
    (mount,) = [m for m in container.volume_mounts if m.mount_path == "/etc/llm-gateway"]
    (volume,) = [v for v in pod.volumes if v.name == mount.name]
    files = [(s.config_map or s.secret).name for s in volume.projected.sources]
    assert files == ["llm-gateway-config", "llm-gateway-keys"]
    paths = [i.path for s in volume.projected.sources for i in (s.config_map or s.secret).items]
    assert paths == ["gateway.json", "keys/support-prod", "keys/analyst-prod"]
    assert volume.projected.default_mode == 0o440
    # The gateway's component label: its NetworkPolicy (egress to the database) applies.
    assert spec.template.metadata.labels["app.kubernetes.io/component"] == "gateway"
    assert spec.template.metadata.labels["app.kubernetes.io/name"] == "llm-gateway-provision"


# --- network ---------------------------------------------------------------------------------


def test_gateway_egress_reaches_models_database_redis_dns_and_only_public_https():
    rules = network.network_policy_spec(make_args()).egress
    seen = [
        ([(p.pod_selector.match_labels if p.pod_selector else p.ip_block.cidr) for p in r.to or []],
         [(p.protocol, p.port) for p in r.ports])
        for r in rules
    ]
    assert seen == [
        ([{"app.kubernetes.io/component": MODEL_SERVER}], [("TCP", 8000)]),
        ([{"cnpg.io/cluster": "llm-gateway-db"}], [("TCP", 5432)]),
        ([redis.selector()], [("TCP", 6379)]),
        ([], [("UDP", 53), ("TCP", 53)]),
        (["0.0.0.0/0"], [("TCP", 443)]),
    ]
    assert rules[-1].to[0].ip_block.except_ == [
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"]


def test_no_fallback_no_internet():
    no_fallback = make_args(routes=(replace(ASSISTANT, fallback=None), CODER))
    rules = network.network_policy_spec(no_fallback).egress
    assert not [r for r in rules for p in r.to or [] if p.ip_block is not None]
    # An existing database: its address is secret, so only its port is opened.
    existing = make_args(database=ExistingDatabase("gatewayDatabaseUrl"))
    db_rule = network.network_policy_spec(existing).egress[1]
    assert db_rule.to is None and db_rule.ports[0].port == 5432


def test_gateway_ingress_from_the_namespace_and_prometheus_and_the_controller_when_exposed():
    spec = network.network_policy_spec(make_args())
    assert spec.policy_types == ["Ingress", "Egress"]
    assert spec.pod_selector.match_labels == {"app.kubernetes.io/component": "gateway"}
    (rule,) = spec.ingress
    assert rule.ports[0].port == 4000
    assert [p.pod_selector.match_labels if p.pod_selector else
            p.namespace_selector.match_labels for p in rule.from_] == [
        {}, {"kubernetes.io/metadata.name": "monitoring"}]
    exposed = make_args(ingress=Ingress("llm.example.com", "llm-gateway-tls", "nginx"))
    (rule,) = network.network_policy_spec(exposed).ingress
    assert rule.from_[-1].namespace_selector.match_labels is None  # any namespace


def _admits(policy, namespace: str, labels: dict[str, str], port: int) -> bool:
    """Whether a NetworkPolicySpec's ingress admits a pod (same-namespace podSelector, or a
    namespaceSelector on kubernetes.io/metadata.name) on `port`."""
    for rule in policy.ingress:
        if port not in [p.port for p in rule.ports]:
            continue
        for peer in rule.from_:
            if peer.pod_selector is not None and namespace == "serving" and all(
                labels.get(k) == v for k, v in (peer.pod_selector.match_labels or {}).items()
            ):
                return True
            if peer.namespace_selector is not None and (
                peer.namespace_selector.match_labels or {}
            ).get("kubernetes.io/metadata.name") == namespace:
                return True
    return False


def test_model_servers_admit_the_gateways_pods_and_prometheus_only():
    """The model servers' policy, read against the labels our own pods carry."""
    from components.engines import ENGINES

    args = make_args()
    policy = model_network.network_policy_spec("monitoring", {"x": "y"}, ENGINES["vllm"])
    gateway_pod = deployment.deployment_spec(args, "abc").template.metadata.labels
    assert _admits(policy, "serving", gateway_pod, 8000)
    assert _admits(policy, "monitoring", {}, 8000)
    others = {
        "redis": redis.deployment_spec(args.redis_image, args.labels).template.metadata.labels,
        "database": database.cluster_spec(args.database, args.labels, None)[
            "inheritedMetadata"]["labels"],
        "any pod": LABELER("quality-monitor", "quality"),
    }
    for what, labels in others.items():
        assert not _admits(policy, "serving", labels, 8000), what
    assert not _admits(policy, "kube-system", gateway_pod, 8000)


def test_only_gateway_pods_reach_redis_and_redis_reaches_nothing():
    spec = network.redis_network_policy_spec()
    assert spec.policy_types == ["Ingress", "Egress"] and not spec.egress
    (rule,) = spec.ingress
    assert rule.from_[0].pod_selector.match_labels == {"app.kubernetes.io/component": "gateway"}
    assert rule.ports[0].port == 6379


def test_ingress_terminates_tls_with_the_named_secret():
    spec = network.ingress_spec(Ingress("llm.example.com", "llm-gateway-tls", "nginx"))
    assert spec.ingress_class_name == "nginx"
    (tls,) = spec.tls
    assert tls.hosts == ["llm.example.com"] and tls.secret_name == "llm-gateway-tls"
    (rule,) = spec.rules
    (path,) = rule.http.paths
    assert rule.host == "llm.example.com"
    assert (path.backend.service.name, path.backend.service.port.name) == ("llm-gateway", "http")


def test_service_monitor_scrapes_metrics_slash_on_the_api_port_as_job_llm_gateway():
    monitor = network.service_monitor_spec(deployment.selector(), "serving")
    (endpoint,) = monitor["endpoints"]
    assert endpoint == {"port": "http", "path": "/metrics/", "interval": "15s"}
    # No relabelling: the job label is the Service's name.
    service = network.service_spec(deployment.selector())
    assert service.type == "ClusterIP" and service.ports[0].port == 4000
    assert monitor["selector"]["matchLabels"] == service.selector


# --- Redis and the database ------------------------------------------------------------------


def test_redis_runs_as_its_images_user_and_keeps_nothing():
    spec = redis.deployment_spec("redis:x", make_args().labels).template.spec
    (container,) = spec.containers
    # Not the image's 999: a uid no node's /etc/passwd holds (Checkov CKV_K8S_40).
    assert container.security_context.run_as_user == 10001
    assert container.security_context.read_only_root_filesystem is True
    assert spec.automount_service_account_token is False
    args = container.args
    assert args[:5] == ["redis-server", "--save", "", "--appendonly", "no"]
    assert {m.mount_path for m in container.volume_mounts} == {"/data"}
    labels = redis.labels(make_args().labels)
    assert labels["app.kubernetes.io/component"] == "gateway-redis"


def test_database_cluster_is_private_labelled_and_sized_from_the_spec():
    db = CnpgDatabase(instances=3, storage_gib=50, storage_class="gp3")
    spec = database.cluster_spec(db, make_args().labels, None)
    assert spec["instances"] == 3
    assert spec["storage"] == {"size": "50Gi", "storageClass": "gp3"}
    assert spec["enableSuperuserAccess"] is False
    assert spec["inheritedMetadata"]["labels"]["app.kubernetes.io/component"] == "gateway-db"
    assert "backup" not in spec


@pytest.mark.parametrize(
    ("uri", "credentials"),
    [
        ("s3://artifacts-prod", {"s3Credentials": {"inheritFromIAMRole": True}}),
        ("gs://artifacts-prod", {"googleCredentials": {"gkeEnvironment": True}}),
        ("https://acct.blob.core.windows.net/artifacts",
         {"azureCredentials": {"inheritFromAzureAD": True}}),
    ],
)
def test_backups_go_to_the_artifact_bucket_with_the_clouds_identity(uri, credentials):
    store = database.backup_spec(uri)["barmanObjectStore"]
    assert store["destinationPath"] == f"{uri}/gateway-db"
    assert {k: v for k, v in store.items() if k.endswith("Credentials")} == credentials
    identity = WorkloadIdentity(service_account_annotations={"eks.amazonaws.com/role-arn": "r"},
                                pod_labels={"azure.workload.identity/use": "true"})
    db = CnpgDatabase(2, 10, None, ArtifactStore(uri, {}, ""), identity)
    spec = database.cluster_spec(db, {}, database.backup_spec(uri))
    assert spec["serviceAccountTemplate"]["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "r"}
    assert spec["inheritedMetadata"]["labels"]["azure.workload.identity/use"] == "true"


def test_unknown_artifact_store_is_refused():
    with pytest.raises(ValueError, match="no barman-cloud credentials"):
        database.backup_spec("ftp://somewhere")


# --- the component under Pulumi's mocks ------------------------------------------------------


def record(args: GatewayArgs) -> list[Recorded]:
    """The Gateway component alone, registered with Pulumi's own mock monitor."""
    echo = _EchoMocks()
    monitor = _RecordingMonitor(echo)
    settings.reset_options()
    mocks.set_mocks(echo, project="llm-platform", stack="test", preview=False, monitor=monitor)

    def program() -> None:
        crds = pulumi.CustomResource("test:crds:Release", "crds", {})
        Gateway("gw", replace(args, crds_ready=(crds,)))

    try:
        pulumi.runtime.test(program)()
    finally:
        monitor.close_loops()
    return monitor.recorded


@pytest.fixture(scope="module")
def applied() -> list[Recorded]:
    return record(make_args(
        monitoring_labels={"release": "prometheus"},
        ingress=Ingress("llm.example.com", "llm-gateway-tls", None),
        database=CnpgDatabase(2, 10, None, ArtifactStore("s3://artifacts-prod", {}, "")),
    ))


@pytest.fixture(scope="module")
def rendered() -> list[Recorded]:
    return record(make_args(render=True, secrets={}))


def kinds(records: list[Recorded]) -> dict[tuple[str, str], Recorded]:
    return {
        (r.type.rsplit(":", 1)[-1], r.inputs.get("metadata", {}).get("name", r.name)): r
        for r in records if r.type.startswith("kubernetes:")
    }


def test_component_makes_every_object_of_the_contract(applied):
    made = kinds(applied)
    job = objects.job_name(make_args())
    assert set(made) == {
        ("Deployment", "llm-gateway"), ("Service", "llm-gateway"),
        ("HorizontalPodAutoscaler", "llm-gateway"), ("PodDisruptionBudget", "llm-gateway"),
        ("ServiceMonitor", "llm-gateway"), ("NetworkPolicy", "llm-gateway"),
        ("Ingress", "llm-gateway"), ("ConfigMap", "llm-gateway-config"),
        ("Secret", "llm-gateway-secrets"), ("Secret", "llm-gateway-keys"), ("Job", job),
        ("PersistentVolumeClaim", "request-logs"), ("Deployment", "llm-gateway-redis"),
        ("Service", "llm-gateway-redis"), ("NetworkPolicy", "llm-gateway-redis"),
        ("Namespace", "cnpg-system"), ("Release", "gw-cnpg"),
        ("Cluster", "llm-gateway-db"), ("ScheduledBackup", "llm-gateway-db"),
    }
    (component,) = [r for r in applied if r.type == "llm-platform:kubernetes:Gateway"]
    assert all(r.parent == component.urn for r in applied if r.type.startswith("kubernetes:"))
    for (_, name), r in made.items():
        if "namespace" in r.inputs.get("metadata", {}) and name != "gw-cnpg":
            assert r.inputs["metadata"]["namespace"] == "serving", name


def test_custom_resources_wait_for_their_crds_and_the_job_for_the_database(applied):
    made = kinds(applied)
    (crds,) = [r for r in applied if r.type == "test:crds:Release"]
    release = made[("Release", "gw-cnpg")]
    monitor = made[("ServiceMonitor", "llm-gateway")]
    assert crds.urn in monitor.dependencies
    # An existing Prometheus Operator selects it by the spec's match_labels.
    assert monitor.inputs["metadata"]["labels"]["release"] == "prometheus"
    assert release.inputs["chart"] == "cloudnative-pg" and release.inputs["version"] == "0.29.0"
    assert release.inputs["namespace"] == "cnpg-system"
    assert release.urn in made[("Cluster", "llm-gateway-db")].dependencies
    assert release.urn in made[("ScheduledBackup", "llm-gateway-db")].dependencies
    job = made[("Job", objects.job_name(make_args()))]
    for needed in (("Cluster", "llm-gateway-db"), ("ConfigMap", "llm-gateway-config"),
                   ("Secret", "llm-gateway-keys")):
        assert made[needed].urn in job.dependencies, needed
    backup = made[("Cluster", "llm-gateway-db")].inputs["spec"]["backup"]
    assert backup["barmanObjectStore"]["destinationPath"] == "s3://artifacts-prod/gateway-db"


def test_render_mode_writes_no_secret_and_references_them_by_name(applied, rendered):
    made = kinds(rendered)
    assert not [k for k in made if k[0] == "Secret"]
    # The operator chart renders with everything else (components/kubernetes/helm.py).
    assert made[("Chart", "gw-cnpg")].inputs["chart"] == "cloudnative-pg"
    dumped = json.dumps([r.wire for r in rendered])
    assert not [k for k, v in SECRETS.items() if v in dumped]
    # The same search over the applied component finds the values: it would see a leak.
    found = json.dumps([r.wire for r in applied])
    assert {k for k, v in SECRETS.items() if v in found} == set(SECRETS) - {"gatewayDatabaseUrl"}
    env = made[("Deployment", "llm-gateway")].inputs["spec"]["template"]["spec"][
        "containers"][0]["env"]
    assert {"name": "LITELLM_MASTER_KEY", "valueFrom": {"secretKeyRef": {
        "name": "llm-gateway-secrets", "key": "master-key"}}} in env


def test_checkov_skips_are_the_digest_for_a_tag_and_env_secrets_litellm_needs(applied):
    image = "ghcr.io/llm-platform/gateway:0.1.0"
    for kind, name in (("Deployment", "llm-gateway"), ("Job", objects.job_name(make_args()))):
        skips = kinds(applied)[(kind, name)].inputs["metadata"]["annotations"]
        assert skips == {**pods.digest_skip(image), "checkov.io/skip2": skips["checkov.io/skip2"]}
        assert skips["checkov.io/skip2"].startswith("CKV_K8S_35=LiteLLM takes its master key")
        # Checkov splits a skip on "=" and fails the whole scan on a second one.
        assert all(v.count("=") == 1 for v in skips.values())
    pinned = deployment.annotations("ghcr.io/llm-platform/gateway:0.1.0@sha256:" + "a" * 64)
    assert list(pinned) == ["checkov.io/skip2"]
    redis_meta = kinds(applied)[("Deployment", "llm-gateway-redis")].inputs["metadata"]
    assert "annotations" not in redis_meta


def test_objects_validate_against_kubernetes_1_30_and_the_pinned_crds(applied, rendered):
    checked = set()
    for records in (applied, rendered):
        for obj in (to_object(r) for r in records if is_object(r)):
            if pinned.is_custom(obj):
                assert not pinned.crd_errors(obj), (obj["kind"], pinned.crd_errors(obj))
            else:
                kubernetes_validate.validate(obj, "1.30.0", strict=True)  # raises on any error
            checked.add(obj["kind"])
    assert {"Cluster", "ScheduledBackup", "ServiceMonitor", "Deployment", "Job"} <= checked
    # The Cluster CRD check sees what the API server would refuse.
    cluster = to_object(kinds(applied)[("Cluster", "llm-gateway-db")])
    typo = {**cluster, "spec": {**cluster["spec"], "instance": 2}}
    assert any("instance" in e for e in pinned.crd_errors(typo))
    bad = {**cluster, "spec": {**cluster["spec"], "backup": {"retentionPolicy": "30 days"}}}
    assert any(e.startswith("spec.backup.retentionPolicy") for e in pinned.crd_errors(bad))
