"""Shadow traffic: a sample of a model's successful requests copied to its rollout's candidate
(Argo's experiment Service `<model>-candidate`), whose answers no user sees. Each copy is
scored against the incumbent's answer with the eval gate's scorer
(components/lifecycle/scorers.score_against_reference: normalised exact match, or the eval's
judge with the agreement rubric), both answers go through the platform's one refusal
detector, and the outcome is counted (metrics.SHADOW_*) and written to the shadow report,
one JSON line per copy in `<log_dir>/shadow/<model>/<revision>/<pod>.jsonl`.

The user's request never waits for any of it: a copy starts from LiteLLM's success callback,
which LiteLLM's logging worker runs once the call has returned (litellm==1.106.12 utils.py:
1424-1428) under a per-callback time limit (litellm_core_utils/logging_worker.py:189-201), so
the copy is a task of its own, never awaited, with a hard timeout of its own; at most
`max_in_flight` copies per model run at once (past it a copy is not sent), so a candidate
that hangs cannot pile up tasks. A streamed request is copied as its non-streamed
equivalent: the score compares the final texts, and streams are most of the interactive
traffic the candidate must be judged on.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from components.gateway import metrics
from components.gateway.requestlog import Entry
from components.gateway.settings import Judge, Settings, Shadow
from components.lifecycle.scorers import JudgeError, is_refusal_text, score_against_reference

log = logging.getLogger(__name__)

# Outcome label values (the series contract).
OK, ERROR, TIMEOUT = "ok", "error", "timeout"
# OpenAI chat parameters that shape the answer, copied from the user's request as LiteLLM
# logged it (kwargs["optional_params"]: litellm==1.106.12 litellm_core_utils/
# litellm_logging.py:973-989). `stream`, `n`, `user` and anything provider-specific stay out.
_SAMPLING = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed",
             "presence_penalty", "frequency_penalty", "response_format", "logit_bias",
             "tools", "tool_choice")
# A judge call blocks (scorers.Judge is synchronous): a few threads of its own, so a slow
# judge never takes the default executor the request log writes through.
_JUDGE_THREADS = 4


@dataclass(frozen=True)
class Result:
    """What one copy came to."""

    outcome: str
    answer: str | None
    finish_reason: str | None
    latency_ms: float
    error: str | None = None


def request_body(model: str, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """The candidate's request: the user's messages and sampling parameters, never streamed;
    None when the event carries no chat messages (an embedding, a text completion)."""
    messages = kwargs.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    params = kwargs.get("optional_params") or {}
    body = {k: params[k] for k in _SAMPLING if params.get(k) is not None}
    return {**body, "model": model, "messages": messages, "stream": False}


def answer_of(payload: Any) -> tuple[str | None, str | None]:
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not choices or not isinstance(choices[0], dict):
        return None, None
    message = choices[0].get("message") or {}
    text = message.get("content") if isinstance(message, dict) else None
    return (text if isinstance(text, str) else None), choices[0].get("finish_reason")


def _sha256(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()


def report_line(entry: Entry, shadow: Shadow, incumbent_revision: str, result: Result,
                score: float | None, redact: bool) -> dict[str, Any]:
    """One shadowed request in the report; text redacted as the request log redacts it."""
    refusals = _refusals(entry, result)
    if redact:
        text = {"prompt_sha256": _sha256(entry.prompt),
                "incumbent_sha256": _sha256(entry.completion),
                "candidate_sha256": _sha256(result.answer)}
    else:
        text = {"prompt": entry.prompt, "incumbent": entry.completion, "candidate": result.answer}
    return {
        "ts": round(entry.ts, 3),
        "time": datetime.fromtimestamp(entry.ts, UTC).isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "model": entry.model,
        "revision": shadow.revision,
        "incumbent_revision": incumbent_revision,
        "gateway_pod": entry.pod,
        "outcome": result.outcome,
        "error": result.error,
        "score": score,
        "judge": None if shadow.judge is None else shadow.judge.model,
        "incumbent_refusal": None if refusals is None else refusals[0],
        "candidate_refusal": None if refusals is None else refusals[1],
        "incumbent_latency_ms": round(entry.latency_ms, 1),
        "candidate_latency_ms": round(result.latency_ms, 1),
        **text,
    }


def _refusals(entry: Entry, result: Result) -> tuple[bool, bool] | None:
    """(incumbent, candidate) refusal flags, only where both answered: the two rates are then
    read over the same requests."""
    if result.outcome != OK:
        return None
    return (is_refusal_text(entry.completion, entry.finish_reason),
            is_refusal_text(result.answer, result.finish_reason))


def report_path(log_dir: Path, model: str, revision: str, pod: str) -> Path:
    # One file per replica, as the request log: appends of two NFS clients to one file can
    # interleave (open(2), O_APPEND), so each file has a single writer.
    return log_dir / "shadow" / model / revision / f"{pod}.jsonl"


def _judge(judge: Judge, timeout_s: float) -> Callable[[list[dict[str, str]]], str]:
    """scorers.Judge for the eval's judge model, called at its Service like the gateway's
    route (temperature 0: a grade should not be a draw)."""

    def call(messages: list[dict[str, str]]) -> str:
        response = httpx.post(f"{judge.api_base.rstrip('/')}/chat/completions", timeout=timeout_s,
                              json={"model": judge.model, "messages": messages,
                                    "temperature": 0, "stream": False})
        response.raise_for_status()
        text, _ = answer_of(response.json())
        if text is None:
            raise JudgeError("the judge's reply has no text")
        return text

    return call


class Shadower:
    """Samples, sends, scores and reports; one per gateway process (callbacks.handler)."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._in_flight: dict[str, int] = {}
        self._tasks: set[asyncio.Task] = set()
        self._client: httpx.AsyncClient | None = None
        self._judges = ThreadPoolExecutor(_JUDGE_THREADS, thread_name_prefix="shadow-judge")
        self._lock = threading.Lock()

    def maybe_send(self, settings: Settings, entry: Entry, kwargs: dict[str, Any]) -> bool:
        """Start a copy of an answered request when its model has a shadow and the draw says
        so; whether one started. A fallback's answer is the hosted model's, not the
        incumbent's, so it is never compared."""
        route = settings.models.get(entry.model)
        shadow = route.shadow if route is not None else None
        if shadow is None or entry.status != 200 or entry.fallback or entry.completion is None:
            return False
        if self._rng.random() >= shadow.sample_fraction:
            return False
        if self._in_flight.get(entry.model, 0) >= shadow.max_in_flight:
            log.warning("shadow: %s: %d copies in flight, this one not sent", entry.model,
                        shadow.max_in_flight)
            return False
        body = request_body(entry.model, kwargs)
        if body is None:
            return False
        incumbent = route.previous_revision or route.revision
        self._in_flight[entry.model] = self._in_flight.get(entry.model, 0) + 1
        task = asyncio.create_task(self._run(settings, shadow, incumbent, entry, body))
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, entry.model))
        return True

    def _done(self, task: asyncio.Task, model: str) -> None:
        self._tasks.discard(task)
        self._in_flight[model] -= 1

    async def _run(self, settings: Settings, shadow: Shadow, incumbent: str, entry: Entry,
                   body: dict[str, Any]) -> None:
        try:
            result = await self._send(shadow, body)
            score: float | None = None
            if result.outcome == OK:
                result, score = await self._score(shadow, entry, result)
            self._count(entry.model, shadow.revision, result, score, entry)
            line = report_line(entry, shadow, incumbent, result, score, settings.redact_prompts)
            path = report_path(settings.log_dir, entry.model, shadow.revision, entry.pod)
            await asyncio.to_thread(self._append, path, line)
        except Exception:
            log.exception("shadow: %s: copy not recorded", entry.model)

    async def _send(self, shadow: Shadow, body: dict[str, Any]) -> Result:
        if self._client is None:
            self._client = httpx.AsyncClient()
        url = f"{shadow.api_base.rstrip('/')}/chat/completions"
        start = time.monotonic()
        try:
            # The client's timeout bounds each phase; asyncio's the whole copy.
            async with asyncio.timeout(shadow.timeout_s):
                response = await self._client.post(url, json=body, timeout=shadow.timeout_s)
            elapsed = (time.monotonic() - start) * 1000
            if response.status_code != 200:
                return Result(ERROR, None, None, elapsed, f"HTTP {response.status_code}")
            text, finish = answer_of(response.json())
            if text is None:
                return Result(ERROR, None, finish, elapsed, "no answer text")
            return Result(OK, text, finish, elapsed)
        except (TimeoutError, httpx.TimeoutException):
            return Result(TIMEOUT, None, None, (time.monotonic() - start) * 1000, "timeout")
        except (httpx.HTTPError, ValueError) as err:
            elapsed = (time.monotonic() - start) * 1000
            return Result(ERROR, None, None, elapsed, f"{type(err).__name__}: {err}"[:200])

    async def _score(self, shadow: Shadow, entry: Entry,
                     result: Result) -> tuple[Result, float | None]:
        """The candidate's score against the incumbent's answer. A judge that fails gives no
        score and an error outcome: the shadow fails closed, as the eval gate does."""
        answer, reference = result.answer or "", entry.completion or ""
        if shadow.judge is None:
            return result, score_against_reference(answer, reference, None)
        judge = _judge(shadow.judge, shadow.timeout_s)
        try:
            score = await asyncio.get_running_loop().run_in_executor(
                self._judges, lambda: score_against_reference(
                    answer, reference, judge, prompt=entry.prompt))
        except (JudgeError, httpx.HTTPError, ValueError) as err:
            failed = Result(ERROR, result.answer, result.finish_reason, result.latency_ms,
                            f"judge: {err}"[:200])
            return failed, None
        return result, score

    def _count(self, model: str, revision: str, result: Result, score: float | None,
               entry: Entry) -> None:
        metrics.SHADOW_REQUESTS.labels(model, revision, result.outcome).inc()
        if score is not None:
            metrics.SHADOW_SCORE.labels(model, revision).observe(score)
        refusals = _refusals(entry, result)
        if refusals is not None:
            for role, refused in zip(("incumbent", "candidate"), refusals, strict=True):
                # Touched at 0 too: a rate of 0 refusals is a value, not a missing series.
                metrics.SHADOW_REFUSALS.labels(model, revision, role).inc(int(refused))

    def _append(self, path: Path, line: dict[str, Any]) -> None:
        data = json.dumps(line, ensure_ascii=False) + "\n"
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as out:
                out.write(data)
