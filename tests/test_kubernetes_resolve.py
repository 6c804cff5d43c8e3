"""The resolve step: a validated example stack turned into the narrow Args of the Kubernetes
layer and the on-prem cluster, checked without running a Pulumi program."""

from __future__ import annotations

import math

import pytest
from conftest import stack_spec

from components.engines import ENGINES
from components.kubernetes import resolve
from components.kubernetes.facts import (
    WEIGHTS_READER,
    ArtifactStore,
    ClusterFacts,
    WorkloadIdentity,
    pool_scheduling,
)
from components.kubernetes.gateway.args import ExistingDatabase
from components.onprem.resolve import cluster_args
from components.sizing import GIB, weight_bytes
from components.spec import architecture_of, load_spec

# resolve passes the provider through untouched; a Provider resource needs a Pulumi program.
PROVIDER = object()
SECRETS = {
    "pagerdutyRoutingKey": "pd-key",
    "slackWebhookUrl": "https://hooks.example/x",
    "grafanaAdminPassword": "pw",
    "gatewayMasterKey": "sk-master",
    "supportBotKey": "sk-support",
    "toolsCiKey": "sk-ci",
    "toolsDevKey": "sk-dev",
}


def facts_for(env, **extra) -> ClusterFacts:
    return ClusterFacts(provider=PROVIDER, pools=pool_scheduling(env.spec.gpu_pools), **extra)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def local():
    return load_spec(stack_spec("local"))


@pytest.fixture(scope="module")
def mixed():
    return load_spec(stack_spec("onprem-mixed"))


def test_each_model_gets_its_engine_image_plan_and_pool(mixed):
    args = resolve.layer_args(mixed, facts_for(mixed, gpu_hour_usd=2.4), {})
    by_name = {m.name: m for m in args.models}
    analyst = by_name["analyst"]
    assert analyst.engine is ENGINES["tensorrt-llm"]
    assert analyst.image == "nvcr.io/nvidia/tritonserver:25.05-trtllm-python-py3"
    assert analyst.plan is mixed.plans["analyst"]
    # The pool's node_labels in the stack select its nodes.
    assert analyst.pool.node_selector == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert analyst.labels["llm-platform.dev/engine"] == "tensorrt-llm"
    assert analyst.prometheus_namespace == mixed.spec.cluster.prometheus_namespace
    assert analyst.gpu_hour_usd == 2.4
    # On-prem without a bucket: the engine reads the Hub, no weights reader.
    assert analyst.weights.fetch is None and analyst.service_account is None
    assert analyst.weights.hf_token is not None and analyst.weights.hf_token.name == "hf-token"


def test_weights_size_is_the_spec_s_or_half_again_the_weights(local, mixed):
    (assistant,) = resolve.layer_args(local, facts_for(local), SECRETS).models
    assert assistant.weights.size_gib == 40  # the stack says so
    assert assistant.weights.storage_class == "nfs-rwx"
    model = mixed.spec.models[1]
    analyst = resolve.weights_size_gib(model)
    # Llama-3.3-70B in fp8, plus half again for tokenizer, config and a second format.
    fp8 = weight_bytes(architecture_of(model), "fp8") / GIB
    assert analyst == math.ceil(fp8 * 1.5) and 95 < analyst < 110


def test_render_mode_writes_no_credential(mixed):
    obs = resolve.layer_args(mixed, facts_for(mixed), {}).observability
    assert obs.renders is True and obs.receivers is None
    # `existing` mode: no stack, no Grafana password; the existing operator's labels.
    assert obs.stack is None
    assert obs.monitoring_labels == dict(mixed.spec.observability.prometheus.match_labels)


def test_applied_stack_carries_the_receivers_and_grafana_secrets(local):
    obs = resolve.layer_args(local, facts_for(local), SECRETS).observability
    assert obs.receivers == {"pager": "pd-key", "ticket": "https://hooks.example/x"}
    assert obs.stack is not None and obs.stack.grafana_password == "pw"
    assert obs.stack.storage_gib == 50 and obs.stack.retention == "15d"
    assert obs.quality is not None and obs.quality.models == ("assistant",)
    assert (
        obs.quality.pushgateway_url == "http://pushgateway.llm-local.svc:9091"
    )  # default namespace llm-<env>
    assert (
        "pagerduty_configs" in obs.alertmanager_config and "pd-key" not in obs.alertmanager_config
    )


@pytest.fixture(scope="module")
def local_signed():
    """The local stack with the aws stack's signing key: a store's revisions are signed."""
    return load_spec({**stack_spec("local"), "lifecycle": stack_spec("aws")["lifecycle"]})


def test_weights_from_the_bucket_need_the_reader_unless_prefilled(local_signed):
    local = local_signed
    identity = WorkloadIdentity(token_audience="sts.amazonaws.com", files={"config": "x"})
    store = ArtifactStore(uri="s3://b", rclone_env={}, models_path="artifacts:b/models")
    facts = facts_for(local, artifacts=store, workload_identity=identity)
    args = resolve.layer_args(local, facts, {**SECRETS, "modelSigningKey": "k"})
    assert args.weights_access is not None and args.weights_access.identity is identity
    (assistant,) = args.models
    assert assistant.service_account == WEIGHTS_READER
    fetch = assistant.weights.fetch
    assert fetch is not None and fetch.store is store
    assert fetch.files_config_map == f"{WEIGHTS_READER}-cloud"
    # A ReadOnlyMany claim is filled beforehand: nothing to copy.
    model = local.spec.models[0].model_copy(
        update={
            "weights": local.spec.models[0].weights.model_copy(
                update={"access_mode": "ReadOnlyMany"}
            )
        }
    )
    prefilled = resolve.weights_source(model, None, (store, identity))
    assert prefilled.fetch is None and prefilled.prefilled and prefilled.offline


def test_hybrid_cloud_runtime_has_its_own_namespace_and_no_metrics(local):
    args = resolve.cloud_gpu_runtime_args(local, facts_for(local))
    assert args.namespace == f"{local.spec.namespace}-cloud-gpu" and args.metrics is False
    layer = resolve.layer_args(local, facts_for(local), SECRETS)
    assert layer.gpu_runtime.namespace == f"{local.spec.namespace}-gpu"
    assert layer.gpu_runtime.metrics is True


def test_onprem_cluster_tolerates_whatever_value_the_admin_gave_the_gpu_taint(mixed):
    args = cluster_args(mixed)
    assert args.render_to_directory == "out/onprem-mixed/rendered"
    assert args.namespace == "llm-mixed" and args.gpu_hour_usd == 2.4
    for pool in args.pools.values():
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in (
            pool.tolerations
        )


def test_layer_gets_the_gateway_with_its_secrets_applied_and_none_rendered(local, mixed):
    gateway = resolve.layer_args(local, facts_for(local), SECRETS).gateway
    assert [t.name for t in gateway.teams] == ["support-bot", "internal-tools"]
    assert gateway.secrets["supportBotKey"] == "sk-support" and gateway.render is False
    rendered = resolve.layer_args(mixed, facts_for(mixed), {}).gateway
    assert rendered.render is True and rendered.secrets == {}
    assert rendered.database == ExistingDatabase(url_secret="gatewayDatabaseUrl")
