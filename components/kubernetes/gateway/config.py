"""The gateway's two generated files: LiteLLM's `config.yaml` and our runtime's `gateway.json`.

Pure (no Pulumi): the Kubernetes builders put both in the ConfigMap `llm-gateway-config`, the
plan and the tests read them. No secret value is ever written here: LiteLLM resolves
`os.environ/<VAR>` references at start (litellm==1.106.12 proxy/proxy_server.py:5984-6018,
run on the whole config at :6309; :6949-6952 for the master key), and the variables come
from Secrets in the pod's env.

Every LiteLLM key below was read in the pinned release, litellm==1.106.12 (paths inside its
wheel); see research/litellm.md on branch i16-litellm for the behaviour observed with them.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import yaml

from components.conventions import PREFIX

if TYPE_CHECKING:
    from components.kubernetes.gateway.args import GatewayArgs, Route, ShadowRoute, Team

# Where the gateway pod mounts the request-log claim (contract 3), read by the quality monitor.
LOG_DIR = "/var/log/llm"
HOSTED_SUFFIX = "-hosted"
MASTER_KEY_ENV = "LITELLM_MASTER_KEY"
REDIS_HOST_ENV = "REDIS_HOST"
REDIS_PORT_ENV = "REDIS_PORT"
# Our runtime (components/gateway/), imported by LiteLLM with importlib.import_module when no
# file of that name sits next to config.yaml (proxy/types_utils/utils.py:31-52).
CUSTOM_AUTH = "components.gateway.auth.user_api_key_auth"
CALLBACK = "components.gateway.callbacks.handler"
# vLLM runs without --api-key; the OpenAI client still wants a non-empty one.
NO_KEY = "none"


def env_ref(var: str) -> str:
    """A value LiteLLM reads from the environment at start instead of from the file."""
    return f"os.environ/{var}"


def hosted_key_env(model: str) -> str:
    """The env var holding a model's hosted API key (contract 3: HOSTED_API_KEY_<MODEL>)."""
    return "HOSTED_API_KEY_" + re.sub(r"[^A-Z0-9]", "_", model.upper())


def hosted_name(model: str) -> str:
    return model + HOSTED_SUFFIX


def _timeouts(route: Route) -> dict[str, int]:
    # GenericLiteLLMParams.timeout and .stream_timeout (types/router.py:472-473), read per
    # deployment (router.py:4371-4404); without stream_timeout a stream gets `timeout`.
    if route.stream_timeout_s is None:
        return {"timeout": route.timeout_s}
    return {"timeout": route.timeout_s, "stream_timeout": route.stream_timeout_s}


def _self_hosted(route: Route) -> dict[str, Any]:
    # litellm_params keys: model/api_base/api_key are LiteLLM_Params and
    # CredentialLiteLLMParams fields (types/router.py:614-619, :340-342); the prices are
    # MirroredPricingParams (types/utils.py:3820-3821), applied as-is to response_cost;
    # max_parallel_requests is read per deployment at router_utils/client_initalization_utils.py:60
    # and, when full, refuses at once with a 429 RateLimitError (same file :35-41), which the
    # router sends to the fallback group, or which our callback gives a Retry-After.
    return {
        "model_name": route.model,
        "litellm_params": {
            "model": f"openai/{route.model}",
            "api_base": route.api_base,
            "api_key": NO_KEY,
            "max_parallel_requests": route.max_parallel_requests,
            "input_cost_per_token": route.usd_per_input_token,
            "output_cost_per_token": route.usd_per_output_token,
            **_timeouts(route),
        },
    }


def _hosted(route: Route) -> dict[str, Any] | None:
    fallback = route.fallback
    if fallback is None:
        return None
    return {
        "model_name": hosted_name(route.model),
        "litellm_params": {
            "model": f"openai/{fallback.hosted_model}",
            "api_base": fallback.api_base,
            "api_key": env_ref(hosted_key_env(route.model)),
            "input_cost_per_token": fallback.usd_per_input_token,
            "output_cost_per_token": fallback.usd_per_output_token,
            **_timeouts(route),
        },
    }


def _router_settings(args: GatewayArgs) -> dict[str, Any]:
    fallbacks = [
        {route.model: [hosted_name(route.model)]} for route in args.routes if route.fallback
    ]
    # Router.__init__ parameters (router.py:950-960), passed through by the proxy only when
    # they are valid Router args (proxy/proxy_server.py:7227-7250). Any exception of the group
    # goes to `fallbacks` (router.py:7674-7925); an overflow of the context window goes to
    # `context_window_fallbacks` when set. num_retries defaults to openai's 2
    # (router.py:1230-1235): a stalled server would then cost three timeouts before the
    # fallback, so the first failure falls back (or answers) at once.
    return {
        "fallbacks": fallbacks,
        "context_window_fallbacks": fallbacks,
        "num_retries": 0,
    }


def proxy_config(args: GatewayArgs) -> dict[str, Any]:
    """LiteLLM's config.yaml: one route per model (and its hosted twin), limits, prices."""
    model_list: list[dict[str, Any]] = []
    for route in args.routes:
        model_list.append(_self_hosted(route))
        hosted = _hosted(route)
        if hosted is not None:
            model_list.append(hosted)
    return {
        "model_list": model_list,
        "router_settings": _router_settings(args),
        "general_settings": {
            # proxy/proxy_server.py:6949-6952 (an os.environ/ reference is resolved).
            "master_key": env_ref(MASTER_KEY_ENV),
            # proxy/proxy_server.py:7028-7030: loaded with get_instance_fn; it runs before any
            # key lookup of LiteLLM's own (proxy/auth/user_api_key_auth.py:1616-1648).
            "custom_auth": CUSTOM_AUTH,
            # CoordinationRedisParams host/port (proxy/_types.py:2680-2690), os.environ/
            # references resolved (proxy/proxy_server.py:5097-5101, :6098-6132): the v3 limiter's
            # counters, shared by every replica.
            "coordination_redis": {
                "host": env_ref(REDIS_HOST_ENV),
                "port": env_ref(REDIS_PORT_ENV),
            },
        },
        "litellm_settings": {
            # proxy/proxy_server.py:6660-6667 initialize_callbacks_on_proxy: "prometheus" mounts
            # /metrics (proxy/common_utils/callback_utils.py:402-405), a dotted name is an
            # instance of ours (get_instance_fn as above).
            "callbacks": ["prometheus", CALLBACK],
            # litellm/__init__.py:191 defaults to True; the middleware refuses an
            # unauthenticated scrape unless it is False
            # (proxy/middleware/prometheus_auth_middleware.py:51).
            "require_auth_for_metrics_endpoint": False,
        },
    }


def _team(team: Team) -> dict[str, Any]:
    budget = team.monthly_budget_usd
    return {
        "name": team.name,
        "models": list(team.models),
        "rpm": team.rpm,
        "tpm": team.tpm,
        "max_parallel_requests": team.max_parallel_requests,
        "monthly_budget_usd": None if budget is None else float(budget),
        "keys": [key.alias for key in team.keys],
    }


def runtime_settings(args: GatewayArgs) -> dict[str, Any]:
    """gateway.json, read by components/gateway (auth, callbacks, provisioning): key aliases
    only, their values reach the provisioning Job alone, from the Secret `llm-gateway-keys`."""
    return {
        # The spec's check holds the environment tag equal to the environment's name.
        "environment": args.labels.get(f"{PREFIX}/environment", ""),
        "ceiling_usd": float(args.ceiling_usd),
        "log_dir": LOG_DIR,
        "retention_days": args.request_log.retention_days,
        "redact_prompts": args.request_log.redact_prompts,
        "teams": [_team(team) for team in args.teams],
        "models": {route.model: _runtime_model(route) for route in args.routes},
    }


def _runtime_model(route: Route) -> dict[str, Any]:
    model: dict[str, Any] = {
        "revision": route.revision,
        "fallback": hosted_name(route.model) if route.fallback else None,
    }
    # Only when set: a stack without a rollout keeps the bytes (and the provisioning Job's
    # name, sha256(gateway.json)) it had.
    if route.previous_revision is not None:
        model["previous_revision"] = route.previous_revision
    if route.shadow is not None:
        model["shadow"] = _shadow(route.shadow)
    return model


def _shadow(shadow: ShadowRoute) -> dict[str, Any]:
    judge = shadow.judge
    return {
        "api_base": shadow.api_base,
        "sample_fraction": shadow.sample_fraction,
        "timeout_s": shadow.timeout_s,
        "revision": shadow.revision,
        "max_in_flight": shadow.max_in_flight,
        "judge": None if judge is None else {"model": judge.model, "api_base": judge.api_base},
    }


def config_yaml(args: GatewayArgs) -> str:
    """The ConfigMap's `config.yaml`, the same bytes for the same args."""
    return yaml.safe_dump(proxy_config(args), sort_keys=True)


def settings_json(args: GatewayArgs) -> str:
    """The ConfigMap's `gateway.json`; its sha256 names the provisioning Job."""
    return json.dumps(runtime_settings(args), sort_keys=True, indent=2) + "\n"
