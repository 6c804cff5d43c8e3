"""Runs in the gateway's venv (tests/test_gateway_runtime.py starts it): calls our custom_auth
and our callback the way LiteLLM 1.106.12 calls them, against the real Postgres named by
GATEWAY_DATABASE_URL (already provisioned), and prints one JSON object of what came back.

The requests are real starlette Requests and the events carry the StandardLoggingPayload
fields LiteLLM fills (research/probe-run-all.jsonl on branch i16-litellm holds real ones); the
exceptions are LiteLLM's own classes. Nothing of ours is replaced.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import litellm
from litellm.proxy._types import ProxyException
from litellm.proxy.common_utils.proxy_rate_limit_error import ProxyRateLimitError
from prometheus_client import REGISTRY
from starlette.requests import Request

from components.gateway import auth, callbacks, db, store

KEYS = json.loads(os.environ["DRIVER_KEYS"])


def request(model: str) -> Request:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]}).encode()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "query_string": b"",
             "headers": [(b"content-type", b"application/json")]}
    return Request(scope, receive)


async def authenticate(key: str, model: str = "assistant") -> dict[str, Any]:
    try:
        got = await auth.user_api_key_auth(request(model), key)
    except ProxyException as err:
        return {"code": err.code, "type": err.type, "message": err.message, "headers": err.headers}
    fields = ("api_key", "key_alias", "team_id", "models", "max_parallel_requests", "rpm_limit",
              "tpm_limit", "team_rpm_limit", "team_tpm_limit", "team_max_budget", "team_spend",
              "user_role")
    return {"code": "200", **{f: getattr(got, f) for f in fields}}


async def spend(month: datetime, team: str, usd: float) -> list[float]:
    async with (await db.pool()).connection() as conn:
        return list(await store.add_spend(conn, store.month_of(month), team, usd))


def event(team: str, alias: str, group: str, completion: str, cost: float,
          **extra: Any) -> dict[str, Any]:
    now = time.time()
    slo = {
        "model_group": group, "model": f"openai/{group}", "response_cost": cost,
        "prompt_tokens": 10, "completion_tokens": 5, "startTime": now - 0.25, "endTime": now,
        "metadata": {"user_api_key_team_id": team, "user_api_key_alias": alias},
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "response": {"choices": [{"finish_reason": "stop", "index": 0,
                                  "message": {"role": "assistant", "content": completion}}]},
        "hidden_params": {"additional_headers": {}},
    }
    return {"standard_logging_object": slo, **extra}


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def auth_cases() -> dict[str, Any]:
    now = datetime.now(UTC)
    out: dict[str, Any] = {"now": now.timestamp()}
    out["valid"] = await authenticate(KEYS["support-prod"])
    out["wrong"] = await authenticate("sk-nobody-0123456789abcdef")
    out["other_model"] = await authenticate(KEYS["support-prod"], "summarizer")
    out["master"] = await authenticate(os.environ["LITELLM_MASTER_KEY"])
    # Last month's spend is last month's: it neither blocks nor counts towards this one.
    await spend(now.replace(day=1) - timedelta(days=1), "support-bot", 10_000.0)
    out["after_last_month"] = await authenticate(KEYS["support-prod"])
    out["at_budget_spend"] = await spend(now, "support-bot", 1500.0)
    out["at_budget"] = await authenticate(KEYS["support-prod"])
    out["batch_under_ceiling"] = await authenticate(KEYS["batch-prod"])
    out["at_ceiling_spend"] = await spend(now, "batch", 300.0)
    out["at_ceiling"] = await authenticate(KEYS["batch-prod"])
    out["rate_limited"] = {
        limit: sample("llm_gateway_rate_limited_total", team=team, model="assistant", limit=limit)
        for team, limit in (("support-bot", "budget"), ("batch", "ceiling"))}
    return out


async def cache_cases() -> dict[str, Any]:
    """With the cache on, spend another replica adds is seen only when the entry expires,
    spend this replica's callback adds at once."""
    os.environ["GATEWAY_AUTH_CACHE_SECONDS"] = "60"
    out: dict[str, Any] = {"first": await authenticate(KEYS["support-dev"])}
    await spend(datetime.now(UTC), "support-bot", 1500.0)  # as another replica would
    out["cached"] = await authenticate(KEYS["support-dev"])
    await callbacks.handler.async_log_success_event(
        event("support-bot", "support-dev", "assistant", "ok", 0.5), None, None, None)
    out["after_own_spend"] = await authenticate(KEYS["support-dev"])
    return out


async def callback_cases() -> dict[str, Any]:
    handler = callbacks.handler
    out: dict[str, Any] = {}
    await handler.async_log_success_event(
        event("batch", "batch-prod", "assistant", "Paris.", 0.02), None, None, None)
    # The primary timed out, the hosted group answered (LiteLLM's fallback pair of events).
    timeout = litellm.Timeout(message="Request timed out", model="assistant", llm_provider="openai")
    await handler.async_log_failure_event(
        event("batch", "batch-prod", "assistant", "", 0.0, exception=timeout), None, None, None)
    await handler.async_log_success_event(
        event("batch", "batch-prod", "assistant-hosted", "I'm sorry, but I can't help with that.",
              0.2, exception=timeout), None, None, None)
    out["spend"] = {team: sample("llm_gateway_team_spend_usd", team=team)
                    for team in ("batch", "support-bot")}
    out["month_spend"] = sample("llm_gateway_spend_month_usd")
    out["metrics"] = {
        "self_hosted": sample("llm_gateway_requests_total", team="batch", model="assistant",
                              served_by="self-hosted", code="200"),
        "fallback": sample("llm_gateway_requests_total", team="batch", model="assistant",
                           served_by="fallback", code="200"),
        "fallbacks_timeout": sample("llm_gateway_fallbacks_total", team="batch",
                                    model="assistant", reason="timeout"),
        "refusals": sample("llm_gateway_refusals_total", team="batch", model="assistant"),
        "completion_tokens": sample("llm_gateway_tokens_total", team="batch", model="assistant",
                                    served_by="fallback", direction="completion"),
        "budget": sample("llm_gateway_team_budget_usd", team="batch"),
        "ceiling": sample("llm_gateway_ceiling_usd"),
    }
    out["capacity"] = await capacity_case(handler)
    out["rpm"] = await handler.async_post_call_failure_hook(
        {"model": "assistant"}, ProxyRateLimitError(
            detail="Rate limit exceeded for team: batch.",
            headers={"retry-after": "60", "rate_limit_type": "requests"}),
        await auth.user_api_key_auth(request("assistant"), KEYS["batch-prod"]))
    out["rpm_count"] = sample("llm_gateway_rate_limited_total", team="batch", model="assistant",
                              limit="rpm")
    return out


async def capacity_case(handler: callbacks.Gateway) -> dict[str, Any]:
    """The router's refusal of a full deployment (no fallback): LiteLLM's own exception."""
    full = litellm.RateLimitError(
        message="Deployment has all max_parallel_requests slots in use. Deployment "
                "model_group=summarizer, id=x already has max_parallel_requests=1 requests",
        llm_provider="", model="summarizer")
    identity = await auth.user_api_key_auth(request("summarizer"), KEYS["batch-prod"])
    replaced = await handler.async_post_call_failure_hook(
        {"model": "summarizer", "messages": [{"role": "user", "content": "sum it up"}]},
        full, identity)
    return {"status": replaced.status_code, "headers": replaced.headers,
            "count": sample("llm_gateway_rate_limited_total", team="batch", model="summarizer",
                            limit="capacity")}


async def main(phase: str) -> None:
    if phase == "auth":
        out = await auth_cases()
    else:
        # One process for both (LiteLLM's import is most of the run): the callback's figures
        # are read before the cache cases add support-bot's spend.
        out = {"callbacks": await callback_cases(), "cache": await cache_cases()}
    # The retention task, if one started, ends before the process does.
    await asyncio.gather(*callbacks.handler._tasks)
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
