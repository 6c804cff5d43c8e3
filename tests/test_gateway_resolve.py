"""resolve.gateway_args: an example stack's gateway block and sizing plan turned into the
gateway's Args, checked without a Pulumi program. Expected figures are worked out here
from the stack file, the catalog row and the sizing plan's own numbers where noted."""

from __future__ import annotations

import math

import pytest
from conftest import stack_spec
from test_kubernetes_resolve import facts_for

from components.catalog import versions
from components.kubernetes import resolve
from components.kubernetes.facts import ArtifactStore, WorkloadIdentity
from components.kubernetes.gateway.args import (
    CnpgDatabase,
    ExistingDatabase,
    GatewayArgs,
    ShadowJudge,
    ShadowRoute,
)
from components.spec import load_spec

GATEWAY_SECRETS = ("gatewayMasterKey", "supportBotKey", "toolsCiKey", "openaiApiKey")


def _args(stack: str, raw: dict | None = None, **facts) -> GatewayArgs:
    env = load_spec(raw or stack_spec(stack))
    secrets = {key: f"value-of-{key}" for key in env.spec.secret_keys()}
    args = resolve.gateway_args(env, facts_for(env, **facts), secrets)
    assert args is not None
    return args


def test_no_gateway_block_no_args():
    env = load_spec(stack_spec("onprem-engines"))
    assert resolve.gateway_args(env, facts_for(env), {}) is None


def test_a_route_reaches_the_models_service_with_its_planned_capacity_and_price():
    """aws: assistant (Llama-3.1-8B on one g6e.xlarge L40S at $1.861/h, instances.yaml),
    TP1 at one replica minimum; 30000 conversations x 4 turns x (1200 + 250) tokens / 24 h
    = 7,250,000 tokens an hour."""
    env = load_spec(stack_spec("aws"))
    plan = env.plans["assistant"]
    (route,) = _args("aws").routes
    assert route.model == "assistant"
    assert route.api_base == "http://assistant.llm-aws.svc.cluster.local:8000/v1"
    # backpressure at the planned capacity: sequences a replica holds x the most replicas
    assert route.max_parallel_requests == plan.max_num_seqs * plan.replicas_max
    assert (plan.max_num_seqs, plan.replicas_max) == (130, 1)
    assert plan.gpus_min == 1
    assert route.usd_per_input_token == route.usd_per_output_token
    assert route.usd_per_input_token == pytest.approx(1.861 / 7_250_000)
    # The stack's pinned Hub commit, the pods' revision label: no rollout, no previous, no shadow.
    assert route.revision == "0e9e39f249a16976918f6564b8830bc894c89659"
    assert (route.previous_revision, route.shadow) == (None, None)
    # local: the same model on 2x L40S nodes scales from one replica to two, 130 sequences
    # each; capacity is the most replicas', not the fewest
    local = load_spec(stack_spec("local")).plans["assistant"]
    assert (local.max_num_seqs, local.replicas_min, local.replicas_max) == (130, 1, 2)
    assert _args("local").routes[0].max_parallel_requests == 260


def test_a_fallback_is_the_hosted_api_at_its_list_price():
    """aws: hosted_api gpt-4o-mini at $0.15 / $0.60 per million tokens."""
    (route,) = _args("aws").routes
    fallback = route.fallback
    assert fallback is not None
    assert (fallback.hosted_model, fallback.api_base, fallback.key_secret) == (
        "gpt-4o-mini", "https://api.openai.com/v1", "openaiApiKey")
    assert fallback.usd_per_input_token == pytest.approx(0.15e-6)
    assert fallback.usd_per_output_token == pytest.approx(0.60e-6)
    (local,) = _args("local").routes
    assert local.fallback is None


def test_the_timeouts_cover_the_longest_answer_and_a_streams_first_token():
    """aws: max_context 16384 less the planned 1200-token prompt leaves a 15184-token answer
    at the plan's decode step; with the 800 ms TTFT target, twice that is the timeout. A
    stream's reads wait at most 10 x 800 ms, at least 10 s."""
    env = load_spec(stack_spec("aws"))
    decode_ms = env.plans["assistant"].decode_ms_per_token
    (route,) = _args("aws").routes
    assert route.timeout_s == math.ceil(2 * (800 + decode_ms * 15184) / 1000)
    assert 400 < route.timeout_s < 700  # ~18.6 ms a token on an L40S
    assert route.stream_timeout_s == 10
    raw = stack_spec("aws") | {"models": [
        stack_spec("aws")["models"][0] | {"slo": {"ttft_p95_ms": 2500,
                                                  "peak_concurrent_requests": 120}}]}
    (slow,) = _args("aws", raw).routes
    assert slow.stream_timeout_s == 25  # 10 x 2.5 s


def test_a_rollout_with_shadow_copies_its_share_to_the_candidate_service():
    """onprem-mixed: support-bot mid-upgrade from bb46c15e to a09a3545 with 5 % shadow traffic;
    its eval has no judge (analyst is Triton), so exact match scores the copies. The copies
    get the route's own timeout: the candidate is the same pod template."""
    (route,) = _args("onprem-mixed").routes
    assert route.model == "support-bot"
    assert (route.revision, route.previous_revision) == (
        "a09a35458c702b33eeacc393d103063234e8bc28", "bb46c15ee4bb56c5b63245ef50fd7637234d6f75")
    assert route.shadow == ShadowRoute(
        api_base="http://support-bot-candidate.llm-mixed.svc.cluster.local:8000/v1",
        sample_fraction=0.05, timeout_s=route.timeout_s,
        revision="a09a35458c702b33eeacc393d103063234e8bc28", judge=None, max_in_flight=16)


def test_a_shadow_with_a_judge_grades_at_the_judges_service_and_no_rollout_no_previous():
    raw = stack_spec("aws")
    assistant = raw["models"][0] | {
        "previous_revision": "1" * 40,
        "eval": {"min_score": 0.8, "judge": {"model": "assistant", "rubric": "Score 1 if right."}},
        "rollout": {"shadow": {"sample_pct": 10, "duration_minutes": 30}}}
    (route,) = _args("aws", raw | {"models": [assistant]}).routes
    assert route.shadow is not None
    assert (route.shadow.sample_fraction, route.previous_revision) == (0.1, "1" * 40)
    assert route.shadow.judge == ShadowJudge(
        "assistant", "http://assistant.llm-aws.svc.cluster.local:8000/v1")
    # Without a rollout the previous revision is only the rollback target: no pod serves it.
    plain = raw["models"][0] | {"previous_revision": "1" * 40}
    (route,) = _args("aws", raw | {"models": [plain]}).routes
    assert (route.previous_revision, route.shadow) == (None, None)


def test_teams_limits_and_keys_pass_through_and_the_ceiling_defaults():
    args = _args("aws")
    assert [(t.name, t.models, t.rpm, t.tpm, t.max_parallel_requests, t.monthly_budget_usd)
            for t in args.teams] == [
        ("support-bot", ("assistant",), 600, 500000, 64, 2000.0),
        ("internal-tools", ("assistant",), 120, 150000, 16, 600.0)]
    assert [(k.alias, k.secret) for t in args.teams for k in t.keys] == [
        ("support-prod", "supportBotKey"), ("tools-ci", "toolsCiKey")]
    assert args.ceiling_usd == 6000 * 110 / 100  # the aws stack's budget at its hard cap
    assert (args.replicas_min, args.replicas_max) == (2, 6)
    assert args.image == versions.image("gateway")
    assert args.redis_image == versions.image("redis")
    assert args.labels["app.kubernetes.io/component"] == "gateway"
    assert args.labels["app.kubernetes.io/name"] == "llm-gateway"
    ingress = args.ingress
    assert ingress is not None
    assert (ingress.host, ingress.tls_secret, ingress.class_name) == (
        "llm.aws.example.com", "llm-gateway-tls", "nginx")


def test_the_secrets_are_the_gateways_own_and_none_in_render_mode():
    args = _args("aws")
    assert args.render is False
    assert args.secrets == {key: f"value-of-{key}" for key in GATEWAY_SECRETS}
    mixed = _args("onprem-mixed")
    assert mixed.render is True and mixed.secrets == {}
    assert mixed.database == ExistingDatabase(url_secret="gatewayDatabaseUrl")
    # the existing Prometheus Operator selects the gateway's monitor by the stack's labels
    assert mixed.monitoring_labels == {"release": "kube-prometheus-stack"}


def test_only_an_openai_speaking_model_gets_a_route():
    """onprem-mixed: support-bot on vLLM gets one; analyst on Triton (KServe v2) none."""
    assert [r.model for r in _args("onprem-mixed").routes] == ["support-bot"]


def test_cloudnative_pg_backs_up_to_the_bucket_where_there_is_one():
    local = _args("local")
    assert local.database == CnpgDatabase(instances=2, storage_gib=10, storage_class=None)
    store = ArtifactStore(uri="s3://b", rclone_env={}, models_path="artifacts:b/models")
    args = _args("aws", artifacts=store, database_backup=WRITER, storage_class="gp3-enc")
    database = args.database
    assert isinstance(database, CnpgDatabase)
    assert database.backup_store is store and database.backup_identity is WRITER
    assert database.storage_class == "gp3-enc"  # the platform's class when the spec names none


READER = WorkloadIdentity(service_account_annotations={"iam.gke.io/gcp-service-account": "r@p"})
WRITER = WorkloadIdentity(service_account_annotations={"iam.gke.io/gcp-service-account": "w@p"})


def test_backups_use_the_database_writer_never_the_weights_reader():
    store = ArtifactStore(uri="gs://b", rclone_env={}, models_path="artifacts:b/models")
    both = _args("gcp", artifacts=store, workload_identity=READER, database_backup=WRITER)
    assert both.database.backup_identity is WRITER
    # a foundation that made no writer gets no backups rather than the reader's identity
    reader_only = _args("gcp", artifacts=store, workload_identity=READER)
    assert reader_only.database.backup_store is None
    assert reader_only.database.backup_identity is None


def test_the_request_log_passes_through():
    log = _args("azure").request_log
    assert (log.claim, log.size_gib, log.storage_class, log.retention_days,
            log.redact_prompts) == ("request-logs", 100, "azurefile-csi", 90, True)
