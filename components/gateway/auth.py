"""`general_settings.custom_auth: components.gateway.auth.user_api_key_auth`.

LiteLLM calls it for every request before any key logic of its own and returns what it
returns (litellm==1.106.12 proxy/auth/user_api_key_auth.py:1636-1648; the key arrives
already taken out of `Authorization: Bearer`, :1591 and :857-864). Without a
Prisma database LiteLLM enforces neither a team's model list nor its budget from the object
returned here (research/litellm.md §9, observed), so this function refuses those itself;
the rpm, tpm and parallel limits on the returned object LiteLLM's v3 limiter does enforce,
across replicas through Redis (proxy/hooks/parallel_request_limiter_v3.py:3208-3264).

A key's row and its team's month-to-date spend are cached for GATEWAY_AUTH_CACHE_SECONDS
(default 5) so a request is not a database round trip: a budget or the ceiling can be
overshot by what the team spends in those seconds, and a newly provisioned key works within
them. Unknown keys are not cached (each costs one indexed lookup).
"""

from __future__ import annotations

import hmac
import math
import os
import time
from dataclasses import replace
from datetime import UTC, datetime

from fastapi import Request
from litellm.proxy._types import LitellmUserRoles, ProxyErrorTypes, ProxyException, UserAPIKeyAuth
from litellm.proxy.common_utils.http_parsing_utils import read_request_body

from components.gateway import db, metrics, store
from components.gateway.settings import Settings, load

_cache: dict[str, tuple[float, store.KeyAuth]] = {}
# Bounds the cache: a flood of distinct valid keys cannot grow it without limit.
_CACHE_MAX = 10_000
_settings: Settings | None = None


def settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = load()
        metrics.publish_settings(_settings)
    return _settings


def _cache_seconds() -> float:
    return float(os.environ.get("GATEWAY_AUTH_CACHE_SECONDS") or 5)


async def _key_auth(sha256: str, now: datetime) -> store.KeyAuth | None:
    hit = _cache.get(sha256)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    try:
        async with (await db.pool()).connection() as conn:
            found = await store.lookup(conn, sha256, store.month_of(now))
    except db.DatabaseUnavailable as err:
        # Fail closed: without the key table no request can be attributed or limited.
        raise ProxyException(message=str(err), param=None, code=503,
                             type=ProxyErrorTypes.no_db_connection) from err  # _types.py:4483
    if found is not None and _cache_seconds() > 0:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[sha256] = (time.monotonic() + _cache_seconds(), found)
    return found


def note_spend(team: str, team_usd: float, environment_usd: float) -> None:
    """Spend this replica just added (callbacks.py): cached keys see it at once, so a budget
    is not overshot by this replica's own traffic while the cache lasts."""
    for sha256, (expires, found) in list(_cache.items()):
        team_spend = team_usd if found.team.name == team else found.team_spend_usd
        _cache[sha256] = (expires, replace(found, team_spend_usd=team_spend,
                                           environment_spend_usd=environment_usd))


def _admin(key: str) -> UserAPIKeyAuth | None:
    master = os.environ.get("LITELLM_MASTER_KEY") or ""
    if master and hmac.compare_digest(key.encode(), master.encode()):
        # Custom auth runs before LiteLLM's master-key check (user_api_key_auth.py:1616-1648),
        # so the master key has to pass here or the admin routes are lost (research §9).
        return UserAPIKeyAuth(api_key=store.key_hash(master), key_alias="master",
                              user_role=LitellmUserRoles.PROXY_ADMIN)  # _types.py:187
    return None


def _over_budget(found: store.KeyAuth, now: datetime, model: str | None) -> ProxyException | None:
    """The 429 for a team over its budget, or any team once the environment is over its
    ceiling: LiteLLM's limiter window does not apply, the refusal lasts until the month
    ends, so Retry-After says how many seconds that is."""
    ceiling = settings().ceiling_usd
    team = found.team
    month = store.month_of(now).strftime("%Y-%m")
    if ceiling is not None and found.environment_spend_usd >= ceiling:
        limit = "ceiling"
        message = (f"the environment's monthly cost ceiling of ${ceiling:,.2f} is reached "
                   f"(${found.environment_spend_usd:,.2f} spent in {month}): every team is "
                   "refused until the month ends")
    elif team.monthly_budget_usd is not None and found.team_spend_usd >= team.monthly_budget_usd:
        limit = "budget"
        message = (f"team {team.name!r} has spent ${found.team_spend_usd:,.2f} of its "
                   f"${team.monthly_budget_usd:,.2f} monthly budget for {month}: refused "
                   "until the month ends")
    else:
        return None
    metrics.RATE_LIMITED.labels(team.name, model or "", limit).inc()
    retry = max(1, math.ceil((store.next_month(now) - now).total_seconds()))
    return ProxyException(message=message, type=ProxyErrorTypes.budget_exceeded,  # _types.py:4479
                          param=None, code=429, headers={"retry-after": str(retry)})


def _identity(found: store.KeyAuth, sha256: str) -> UserAPIKeyAuth:
    """The key as LiteLLM sees it (models/verification_token.py:16-47 for the key's fields,
    proxy/_types.py:3408-3428 for the team's). The team's rpm and tpm go on the team, shared
    by all its keys; the v3 limiter has no team-wide concurrency descriptor (only rpm and
    tpm, parallel_request_limiter_v3.py:3251-3264), so max_parallel_requests applies per key."""
    team = found.team
    return UserAPIKeyAuth(
        api_key=sha256,
        token=sha256,
        key_alias=found.alias,
        team_id=team.name,
        team_alias=team.name,
        models=list(team.models),
        team_models=list(team.models),
        max_parallel_requests=team.max_parallel_requests,
        team_rpm_limit=team.rpm,
        team_tpm_limit=team.tpm,
        team_max_budget=team.monthly_budget_usd,
        team_spend=found.team_spend_usd,
    )


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    key = (api_key or "").strip()
    admin = _admin(key)
    if admin is not None:
        return admin
    now = datetime.now(UTC)
    sha256 = store.key_hash(key)
    found = await _key_auth(sha256, now) if key else None
    if found is None:
        # proxy/_types.py:4393 ProxyException; its code is the response's status and its
        # headers go out as they are (proxy_server.py:2084-2102).
        raise ProxyException(message="invalid key", type=ProxyErrorTypes.auth_error,
                             param="key", code=401)
    # The body LiteLLM has already parsed (and cached on the request):
    # proxy/common_utils/http_parsing_utils.py:209.
    body = await read_request_body(request)
    model = body.get("model") if isinstance(body.get("model"), str) else None
    if model is not None and model not in found.team.models:
        raise ProxyException(
            message=f"team {found.team.name!r} may not use model {model!r}; its models: "
                    f"{', '.join(found.team.models)}",
            # proxy/_types.py:4498
            type=ProxyErrorTypes.team_model_access_denied, param="model", code=403)
    refused = _over_budget(found, now, model)
    if refused is not None:
        raise refused
    return _identity(found, sha256)
