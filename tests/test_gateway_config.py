"""The gateway's generated files (components/kubernetes/gateway/config.py): routes, backpressure
limits, prices, fallbacks, runtime settings, and never a secret value.

The real proxy reading this config is tests/test_gateway_proxy.py; here each value is worked
out from the args the test builds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest
import yaml
from gateway_args import gateway_args_for

from components.gateway import settings as runtime
from components.kubernetes.gateway.args import (
    Fallback,
    GatewayArgs,
    RequestLog,
    Route,
    ShadowJudge,
    ShadowRoute,
    Team,
    TeamKey,
)
from components.kubernetes.gateway.config import (
    config_yaml,
    hosted_key_env,
    proxy_config,
    runtime_settings,
    settings_json,
)

# A GPU at $4.20/h planned to serve 1.2M prompt and 0.3M completion tokens an hour.
GPU_USD_PER_HOUR = 4.20
SELF_IN = GPU_USD_PER_HOUR / 1_200_000
SELF_OUT = GPU_USD_PER_HOUR / 300_000
# Planned capacity: max_num_seqs 16 x 3 replicas at most.
CAPACITY = 16 * 3
SECRETS = {
    "gatewayMasterKey": "sk-master-7c1d0f22a9e44b",
    "supportBotKey": "sk-support-2b9e77aa01c3",
    "batchKey": "sk-batch-5d0c33e8f7a1",
    "openaiApiKey": "sk-openai-hosted-91fe0b",
}


def routes() -> tuple[Route, ...]:
    assistant = Route(
        model="assistant",
        api_base="http://assistant.llm.svc.cluster.local:8000/v1",
        max_parallel_requests=CAPACITY,
        usd_per_input_token=SELF_IN,
        usd_per_output_token=SELF_OUT,
        timeout_s=120,
        revision="0a1b2c3d",
        stream_timeout_s=30,
        fallback=Fallback(
            hosted_model="gpt-4o-mini",
            api_base="https://api.openai.com/v1",
            key_secret="openaiApiKey",
            usd_per_input_token=0.15 / 1_000_000,
            usd_per_output_token=0.60 / 1_000_000,
        ),
    )
    coder = Route(
        model="code-llm",
        api_base="http://code-llm.llm.svc.cluster.local:8000/v1",
        max_parallel_requests=8 * 2,
        usd_per_input_token=2.0e-6,
        usd_per_output_token=8.0e-6,
        timeout_s=60,
        revision="e5f6a7b8",
    )
    return assistant, coder


def gateway_args(**changes: object) -> GatewayArgs:
    teams = (
        Team(
            name="support-bot",
            models=("assistant",),
            rpm=600,
            tpm=400_000,
            max_parallel_requests=32,
            monthly_budget_usd=1500,
            keys=(TeamKey("support-prod", "supportBotKey"),),
        ),
        Team(
            name="batch",
            models=("assistant", "code-llm"),
            rpm=None,
            tpm=50_000,
            max_parallel_requests=4,
            monthly_budget_usd=None,
            keys=(TeamKey("batch-a", "batchKey"), TeamKey("batch-b", "batchKey")),
        ),
    )
    args = gateway_args_for(routes(), teams, 5000 * 90 / 100, secrets=dict(SECRETS))
    return dataclasses.replace(args, **changes)


def entries() -> dict[str, dict]:
    return {e["model_name"]: e["litellm_params"] for e in proxy_config(gateway_args())["model_list"]}


def test_one_route_per_model_to_its_service_and_a_hosted_twin_for_a_fallback() -> None:
    routes = entries()
    assert sorted(routes) == ["assistant", "assistant-hosted", "code-llm"]
    assert routes["assistant"]["model"] == "openai/assistant"
    assert routes["assistant"]["api_base"] == "http://assistant.llm.svc.cluster.local:8000/v1"
    assert routes["code-llm"]["model"] == "openai/code-llm"
    assert routes["code-llm"]["timeout"] == 60
    hosted = routes["assistant-hosted"]
    assert hosted["model"] == "openai/gpt-4o-mini"
    assert hosted["api_base"] == "https://api.openai.com/v1"
    assert hosted["api_key"] == "os.environ/HOSTED_API_KEY_ASSISTANT"
    assert hosted["timeout"] == 120
    # A stream's stall between chunks is bounded on its own; without it, `timeout` applies.
    assert routes["assistant"]["stream_timeout"] == hosted["stream_timeout"] == 30
    assert "stream_timeout" not in routes["code-llm"]


def test_parallel_limit_is_the_planned_capacity_and_the_hosted_api_has_none() -> None:
    routes = entries()
    assert routes["assistant"]["max_parallel_requests"] == 48
    assert routes["code-llm"]["max_parallel_requests"] == 16
    assert "max_parallel_requests" not in routes["assistant-hosted"]


def test_prices_are_gpu_dollars_over_planned_tokens_and_the_hosted_list_price() -> None:
    routes = entries()
    assert routes["assistant"]["input_cost_per_token"] == 3.5e-6
    assert routes["assistant"]["output_cost_per_token"] == 1.4e-5
    # 1000 prompt + 500 completion tokens cost what an hour of GPU buys that many tokens for.
    cost = 1000 * routes["assistant"]["input_cost_per_token"] + 500 * routes["assistant"]["output_cost_per_token"]
    assert round(cost, 9) == round(4.20 * (1000 / 1_200_000 + 500 / 300_000), 9)
    assert routes["assistant-hosted"]["input_cost_per_token"] == 1.5e-7
    assert routes["assistant-hosted"]["output_cost_per_token"] == 6.0e-7


def test_fallbacks_only_for_models_with_a_hosted_api_and_the_first_failure_falls_back() -> None:
    router = proxy_config(gateway_args())["router_settings"]
    assert router["fallbacks"] == [{"assistant": ["assistant-hosted"]}]
    assert router["context_window_fallbacks"] == [{"assistant": ["assistant-hosted"]}]
    assert router["num_retries"] == 0
    no_fallback = gateway_args(routes=(dataclasses.replace(gateway_args().routes[0], fallback=None),))
    assert proxy_config(no_fallback)["router_settings"]["fallbacks"] == []
    assert [e["model_name"] for e in proxy_config(no_fallback)["model_list"]] == ["assistant"]


def test_general_and_litellm_settings_name_our_runtime_and_redis() -> None:
    config = proxy_config(gateway_args())
    assert config["general_settings"] == {
        "master_key": "os.environ/LITELLM_MASTER_KEY",
        "custom_auth": "components.gateway.auth.user_api_key_auth",
        "coordination_redis": {"host": "os.environ/REDIS_HOST", "port": "os.environ/REDIS_PORT"},
    }
    assert config["litellm_settings"]["callbacks"] == ["prometheus", "components.gateway.callbacks.handler"]
    assert config["litellm_settings"]["require_auth_for_metrics_endpoint"] is False


def test_runtime_settings_carry_teams_limits_ceiling_and_revisions() -> None:
    assert runtime_settings(gateway_args()) == {
        "environment": "aws",
        "ceiling_usd": 4500.0,
        "log_dir": "/var/log/llm",
        "retention_days": 30,
        "redact_prompts": False,
        "teams": [
            {
                "name": "support-bot",
                "models": ["assistant"],
                "rpm": 600,
                "tpm": 400000,
                "max_parallel_requests": 32,
                "monthly_budget_usd": 1500.0,
                "keys": ["support-prod"],
            },
            {
                "name": "batch",
                "models": ["assistant", "code-llm"],
                "rpm": None,
                "tpm": 50000,
                "max_parallel_requests": 4,
                "monthly_budget_usd": None,
                "keys": ["batch-a", "batch-b"],
            },
        ],
        "models": {
            "assistant": {"revision": "0a1b2c3d", "fallback": "assistant-hosted"},
            "code-llm": {"revision": "e5f6a7b8", "fallback": None},
        },
    }
    redacted = gateway_args(request_log=RequestLog("request-logs", 20, None, 7, True))
    assert runtime_settings(redacted)["retention_days"] == 7
    assert runtime_settings(redacted)["redact_prompts"] is True


CANDIDATE = "http://assistant-candidate.llm.svc.cluster.local:8000/v1"


def shadowed_args() -> GatewayArgs:
    """assistant mid-rollout: revision 0a1b2c3d replacing 9f8e7d6c, 5 % copied to the
    candidate and graded by the eval's judge, code-llm at its judge's Service."""
    assistant, coder = routes()
    shadow = ShadowRoute(CANDIDATE, 0.05, 120, "0a1b2c3d",
                         ShadowJudge("code-llm", coder.api_base))
    assistant = dataclasses.replace(assistant, previous_revision="9f8e7d6c", shadow=shadow)
    return gateway_args(routes=(assistant, coder))


def test_a_rollouts_shadow_goes_to_gateway_json_and_not_to_litellm() -> None:
    args = shadowed_args()
    assert runtime_settings(args)["models"] == {
        "assistant": {
            "revision": "0a1b2c3d", "previous_revision": "9f8e7d6c", "fallback": "assistant-hosted",
            "shadow": {"api_base": CANDIDATE, "sample_fraction": 0.05, "timeout_s": 120,
                       "revision": "0a1b2c3d", "max_in_flight": 16,
                       "judge": {"model": "code-llm",
                                 "api_base": "http://code-llm.llm.svc.cluster.local:8000/v1"}},
        },
        "code-llm": {"revision": "e5f6a7b8", "fallback": None},
    }
    # LiteLLM never routes to the candidate: its config is the one without a rollout.
    assert config_yaml(args) == config_yaml(gateway_args())
    assert CANDIDATE not in config_yaml(args)
    # What the runtime reads back is what was written.
    parsed = runtime.parse(json.loads(settings_json(args))).models["assistant"]
    assert parsed.previous_revision == "9f8e7d6c"
    assert parsed.shadow == runtime.Shadow(
        CANDIDATE, 0.05, 120.0, "0a1b2c3d", 16,
        runtime.Judge("code-llm", "http://code-llm.llm.svc.cluster.local:8000/v1"))


@pytest.mark.parametrize(("change", "message"), [
    ({"sample_fraction": 0}, "models.assistant.shadow.sample_fraction: must be in (0, 1], got 0.0"),
    ({"sample_fraction": 5}, "models.assistant.shadow.sample_fraction: must be in (0, 1], got 5.0"),
    ({"timeout_s": -1}, "models.assistant.shadow.timeout_s: must be positive, got -1.0"),
    ({"max_in_flight": 0}, "models.assistant.shadow.max_in_flight: must be at least 1, got 0"),
    ({"api_base": None}, "models.assistant.shadow.api_base: expected str, got null"),
])
def test_a_bad_shadow_block_is_one_line_with_its_path(change: dict, message: str) -> None:
    data = runtime_settings(shadowed_args())
    data["models"]["assistant"]["shadow"].update(change)
    with pytest.raises(runtime.SettingsError) as err:
        runtime.parse(data)
    assert str(err.value) == message


def test_no_secret_value_in_either_file_only_environment_references() -> None:
    args = gateway_args()
    written = config_yaml(args) + settings_json(args)
    for name, value in SECRETS.items():
        assert value not in written, name
    keys = [e["litellm_params"]["api_key"] for e in proxy_config(args)["model_list"]]
    assert keys == ["none", "os.environ/HOSTED_API_KEY_ASSISTANT", "none"]


def test_files_are_stable_and_a_changed_limit_renames_the_provisioning_job() -> None:
    args = gateway_args()
    assert yaml.safe_load(config_yaml(args)) == proxy_config(args)
    assert json.loads(settings_json(args)) == runtime_settings(args)
    assert settings_json(gateway_args()) == settings_json(args)
    raised = dataclasses.replace(args.teams[0], rpm=1200)
    changed = gateway_args(teams=(raised, args.teams[1]))

    def job_suffix(a: GatewayArgs) -> str:
        return hashlib.sha256(settings_json(a).encode()).hexdigest()[:8]

    assert job_suffix(changed) != job_suffix(args)


def test_hosted_key_env_is_a_valid_variable_name() -> None:
    assert hosted_key_env("code-llm") == "HOSTED_API_KEY_CODE_LLM"
    assert hosted_key_env("llama3.1-8b") == "HOSTED_API_KEY_LLAMA3_1_8B"
