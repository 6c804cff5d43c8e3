"""`litellm_settings.callbacks: [..., components.gateway.callbacks.handler]`: after each
request, the spend ledger, the request log line and the llm_gateway_* metrics; and on a 429,
the limit that was hit and a Retry-After where LiteLLM sends none.

Hooks of litellm==1.106.12 `integrations/custom_logger.py`: async_log_success_event :189,
async_log_failure_event :192, async_post_call_failure_hook :470 (an HTTPException it
returns replaces the error the client gets: proxy/common_request_processing.py:3697-3705).
What LiteLLM hands the events is `kwargs["standard_logging_object"]`, a StandardLoggingPayload
(types/utils.py:3668-3713; its metadata :2923-2944, hidden_params :3315-3326,
error_information :3362).

How a request shows up in the events (observed, research/litellm.md §5, §8,
research/probe-run-all.jsonl): a fallback logs the primary's failure, then a success (or
failure) of the fallback group `<model>-hosted` whose kwargs["exception"] is the primary's
error; a primary refused for full capacity logs no failure and the fallback's event carries
no exception. A refusal before any upstream call (key, limits) logs a failure with
kwargs["litellm_no_upstream_llm_call"].
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from datetime import UTC, datetime
from typing import Any

import litellm
from fastapi import HTTPException
from litellm.integrations.custom_logger import CustomLogger
from litellm.types.router import RouterErrors

from components.gateway import auth, db, metrics, requestlog, shadow, store
from components.gateway.settings import SettingsError

log = logging.getLogger(__name__)

# Retention runs from the callback at most this often (seconds), off the event loop.
RETENTION_EVERY_S = 3600.0
# LiteLLM's v3 limiter names the limit in the 429's `rate_limit_type` header
# (proxy/hooks/parallel_request_limiter_v3.py:3587-3594).
_LIMIT_OF = {"requests": "rpm", "tokens": "tpm", "max_parallel_requests": "parallel"}


def fallback_reason(exception: BaseException | None) -> str:
    """Why the primary did not answer, from its exception: LiteLLM maps an upstream context
    overflow to ContextWindowExceededError (a 400), a stall to Timeout (408), a full
    deployment to RateLimitError (429), upstream 5xx to their classes (research §11). A
    fallback event without an exception is the full-capacity case (observed, see above).
    LiteLLM also falls back on other client errors (a plain 400); with no better name in
    the contract they count as server_error."""
    if exception is None or isinstance(exception, litellm.RateLimitError):
        return "rate_limited"
    if isinstance(exception, litellm.ContextWindowExceededError):
        return "context_window"
    if isinstance(exception, litellm.Timeout) or _status(exception) == 408:
        return "timeout"
    return "server_error"


def _status(exception: BaseException) -> int:
    for attr in ("status_code", "code"):
        value = getattr(exception, attr, None)
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            return int(value)
    return 500


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        parts = [p for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "\n".join(str(p.get("text", "")) for p in parts)
    return ""


def prompt_of(messages: Any) -> str:
    """The last user message: what the quality monitor compares with its reference prompts
    (a system prompt or the history would make every request of a chat look alike)."""
    if isinstance(messages, str):
        return messages
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return _text(message.get("content"))
    return ""


def answer_of(response: Any) -> tuple[str | None, str | None]:
    """(completion text, finish_reason) of the first choice of a logged response."""
    choices = response.get("choices") if isinstance(response, dict) else None
    if not choices or not isinstance(choices[0], dict):
        return None, None
    choice = choices[0]
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    text = message.get("content") if message else choice.get("text")
    return (text if isinstance(text, str) else None), choice.get("finish_reason")


def entry_of(kwargs: dict[str, Any], status: int) -> requestlog.Entry | None:
    """The log entry of one event, or None where there is nothing to log: a caller the
    key check refused (no team; counted in metrics only) or a model not in the settings."""
    slo = kwargs.get("standard_logging_object") or {}
    meta = slo.get("metadata") or {}
    team = meta.get("user_api_key_team_id")
    group = slo.get("model_group") or ""
    settings = auth.settings()
    model = settings.requested_model(group)
    if team is None or model is None:
        return None
    fallback = group != model
    completion, finish = answer_of(slo.get("response"))
    start = float(slo.get("startTime") or time.time())
    end = float(slo.get("endTime") or start)
    return requestlog.Entry(
        ts=start, team=team, key_alias=meta.get("user_api_key_alias"), model=model,
        served_by=group,
        # Self-hosted: the route's revision; a fallback: the hosted model LiteLLM called.
        revision=slo.get("model") if fallback else settings.models[model].revision,
        previous_revision=None if fallback else settings.models[model].previous_revision,
        pod=_pod(),
        prompt=prompt_of(slo.get("messages")), completion=completion, finish_reason=finish,
        prompt_tokens=int(slo.get("prompt_tokens") or 0),
        completion_tokens=int(slo.get("completion_tokens") or 0),
        latency_ms=max(0.0, end - start) * 1000, status=status,
        cost_usd=float(slo.get("response_cost") or 0.0), fallback=fallback,
        fallback_reason=fallback_reason(kwargs.get("exception")) if fallback else None,
    )


def _pod() -> str:
    return os.environ.get("POD_NAME") or socket.gethostname()


def _failure_status(kwargs: dict[str, Any]) -> int:
    info = (kwargs.get("standard_logging_object") or {}).get("error_information") or {}
    code = str(info.get("error_code") or "")
    return int(code) if code.isdigit() else 500


class Gateway(CustomLogger):
    def __init__(self) -> None:
        super().__init__()
        self._writer: requestlog.Writer | None = None
        self._retention_at = 0.0
        # Background tasks are referenced until done, or the loop may drop them.
        self._tasks: set[asyncio.Task] = set()
        self._shadow = shadow.Shadower()
        # LiteLLM builds the callback at startup: the budget and ceiling gauges are then
        # scraped from the first scrape on, not from the first request.
        if os.environ.get("GATEWAY_SETTINGS"):
            try:
                auth.settings()
            except SettingsError as err:
                log.error("gateway: %s (every request is refused until it is fixed)", err)

    def writer(self) -> requestlog.Writer:
        if self._writer is None:
            settings = auth.settings()
            self._writer = requestlog.Writer(settings.log_dir, settings.redact_prompts)
        return self._writer

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time) -> None:
        entry = await self._record(kwargs, 200)
        if entry is None:
            return
        try:
            self._shadow.maybe_send(auth.settings(), entry, kwargs)
        except Exception:
            log.exception("gateway: shadow copy not started")

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time) -> None:
        slo = kwargs.get("standard_logging_object") or {}
        route = auth.settings().models.get(slo.get("model_group") or "")
        if route is not None and route.fallback and not kwargs.get("litellm_no_upstream_llm_call"):
            return  # the primary failed upstream: its fallback's event records the request
        await self._record(kwargs, _failure_status(kwargs))

    async def _record(self, kwargs: dict[str, Any], status: int) -> requestlog.Entry | None:
        """The request's entry once recorded, or None (nothing to record, or it failed)."""
        # A logging failure must never fail or slow a request: report it and go on.
        try:
            entry = entry_of(kwargs, status)
            if entry is None:
                self._count_refused(kwargs, status)
                return None
            self._count(entry)
            await self._ledger(entry)
            await asyncio.to_thread(self.writer().write, entry)
            self._maybe_retention()
            return entry
        except Exception:
            log.exception("gateway: request not recorded")
            return None

    async def _record_refusal(self, data: dict[str, Any], identity: Any, model: str) -> None:
        try:
            settings = auth.settings()
            team = getattr(identity, "team_id", None)
            if team is None or model not in settings.models:
                return
            entry = requestlog.Entry(
                ts=time.time(), team=team, key_alias=getattr(identity, "key_alias", None),
                model=model, served_by=model, revision=settings.models[model].revision,
                pod=_pod(), prompt=prompt_of(data.get("messages")), completion=None,
                finish_reason=None, prompt_tokens=0, completion_tokens=0, latency_ms=0.0,
                status=429, cost_usd=0.0, fallback=False, fallback_reason=None)
            self._count(entry)
            await asyncio.to_thread(self.writer().write, entry)
        except Exception:
            log.exception("gateway: refused request not recorded")

    def _count_refused(self, kwargs: dict[str, Any], status: int) -> None:
        slo = kwargs.get("standard_logging_object") or {}
        team = (slo.get("metadata") or {}).get("user_api_key_team_id") or ""
        model = slo.get("model_group") or ""
        metrics.REQUESTS.labels(team, model, metrics.SELF_HOSTED, str(status)).inc()

    def _count(self, entry: requestlog.Entry) -> None:
        served = metrics.FALLBACK if entry.fallback else metrics.SELF_HOSTED
        team, model = entry.team or "", entry.model
        metrics.REQUESTS.labels(team, model, served, str(entry.status)).inc()
        metrics.TOKENS.labels(team, model, served, "prompt").inc(entry.prompt_tokens)
        metrics.TOKENS.labels(team, model, served, "completion").inc(entry.completion_tokens)
        metrics.SPEND.labels(team, model, served).inc(entry.cost_usd)
        if entry.fallback and entry.fallback_reason:
            metrics.FALLBACKS.labels(team, model, entry.fallback_reason).inc()
        if entry.completion is not None and entry.refusal:
            metrics.REFUSALS.labels(team, model).inc()

    async def _ledger(self, entry: requestlog.Entry) -> None:
        if not entry.team or entry.cost_usd <= 0:
            return
        month = store.month_of(datetime.fromtimestamp(entry.ts, UTC))
        async with (await db.pool()).connection() as conn:
            team_usd, environment_usd = await store.add_spend(
                conn, month, entry.team, entry.cost_usd)
        metrics.publish_spend(entry.team, team_usd, environment_usd)
        auth.note_spend(entry.team, team_usd, environment_usd)

    def _maybe_retention(self) -> None:
        now = time.monotonic()
        if now - self._retention_at < RETENTION_EVERY_S:
            return
        self._retention_at = now
        settings = auth.settings()
        task = asyncio.create_task(asyncio.to_thread(
            requestlog.enforce_retention, settings.log_dir, sorted(settings.models),
            settings.retention_days, datetime.now(UTC).date()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def async_post_call_failure_hook(self, request_data, original_exception,
                                           user_api_key_dict, traceback_str=None
                                           ) -> HTTPException | None:
        """Counts a 429 by the limit it hit, and gives a 429 without Retry-After (a model's
        capacity full with no fallback: MaxParallelRequestsLimit.acquire,
        router_utils/client_initalization_utils.py:34-46, raises RateLimitError with the
        message of types/router.py:829 and no headers) `Retry-After: 1`: a slot frees when
        any request in flight ends. Budget and ceiling 429s are counted where auth refuses."""
        error = original_exception
        if _status(error) != 429 or getattr(error, "type", None) == "budget_exceeded":
            return None
        headers = {k.lower(): str(v) for k, v in (getattr(error, "headers", None) or {}).items()}
        limit = _LIMIT_OF.get(headers.get("rate_limit_type", ""), "capacity")
        team = getattr(user_api_key_dict, "team_id", None) or ""
        data = request_data if isinstance(request_data, dict) else {}
        model = data.get("model") if isinstance(data.get("model"), str) else ""
        metrics.RATE_LIMITED.labels(team, model, limit).inc()
        message = getattr(error, "message", None) or str(error)
        if RouterErrors.max_parallel_requests_exceeded.value in message:
            # The router refused before any call and LiteLLM logs no event for it (observed),
            # so the request is recorded here.
            await self._record_refusal(data, user_api_key_dict, model)
        if "retry-after" in headers:
            return None
        return HTTPException(status_code=429, detail=message,
                             headers={**headers, "retry-after": "1"})


handler = Gateway()
