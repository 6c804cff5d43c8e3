"""A small OpenAI-compatible chat client for the gate and the refusal comparison (stdlib urllib:
the image needs nothing more). Every request is deterministic (temperature 0), bounded by a
timeout, and retried a few times on what a busy or restarting server answers (connection
errors, timeouts, 429 and 5xx); a 4xx other than 429 is the caller's mistake and not retried."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Between attempts: long enough for a pod's restart or a 429's window to pass, short enough
# that a gate with a dead endpoint fails in minutes, not hours.
BACKOFF_S = 1.0


# What a dead, restarting or stalled server raises (HTTPError is a URLError; a dropped
# connection is a ConnectionError or, mid-body, an http.client.HTTPException).
NETWORK_ERRORS = (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException)


class ChatError(RuntimeError):
    """No usable answer after the retries; the message says what the server did."""


@dataclass(frozen=True)
class Endpoint:
    """`url` is the OpenAI base URL, `/v1` included (`/chat/completions` is appended)."""

    url: str
    model: str
    key: str | None = None
    timeout_s: float = 120.0
    retries: int = 2
    max_tokens: int = 512


@dataclass(frozen=True)
class Answer:
    text: str
    finish_reason: str | None
    seconds: float


def _request(endpoint: Endpoint, messages: Sequence[Mapping[str, str]]) -> urllib.request.Request:
    body = {"model": endpoint.model, "messages": [dict(m) for m in messages],
            "temperature": 0, "max_tokens": endpoint.max_tokens, "stream": False}
    headers = {"content-type": "application/json"}
    if endpoint.key:
        headers["authorization"] = f"Bearer {endpoint.key}"
    return urllib.request.Request(endpoint.url.rstrip("/") + "/chat/completions",
                                  data=json.dumps(body).encode(), headers=headers, method="POST")


def _parse(raw: bytes) -> tuple[str, str | None]:
    try:
        choice = json.loads(raw)["choices"][0]
        content = choice["message"].get("content")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise ChatError(f"not a chat completion: {raw[:120]!r}") from None
    if content is not None and not isinstance(content, str):
        raise ChatError(f"the answer's content is not text: {type(content).__name__}")
    reason = choice.get("finish_reason")
    return content or "", reason if isinstance(reason, str) else None


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code == 429 or exc.code >= 500
    return isinstance(exc, NETWORK_ERRORS)


def complete(endpoint: Endpoint, messages: Sequence[Mapping[str, str]]) -> Answer:
    """The model's answer to `messages`, or ChatError after `retries` more attempts."""
    started = time.monotonic()
    last = ""
    for attempt in range(endpoint.retries + 1):
        if attempt:
            time.sleep(BACKOFF_S * attempt)
        try:
            request = _request(endpoint, messages)
            with urllib.request.urlopen(request, timeout=endpoint.timeout_s) as r:
                text, reason = _parse(r.read())
            return Answer(text, reason, time.monotonic() - started)
        except NETWORK_ERRORS as exc:
            last = f"HTTP {exc.code}" if isinstance(exc, urllib.error.HTTPError) else str(exc)
            if not _retryable(exc):
                break
    raise ChatError(f"{endpoint.url}: {last} (after {attempt + 1} attempts)")
