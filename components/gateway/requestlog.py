"""The request log: one JSON line per request in `<log_dir>/<model>/<YYYY-MM-DD>-<pod>.jsonl`
(UTC day), on the claim the quality monitor reads (components/quality/logs.py reads `prompt`,
`completion`, `completion_tokens` and `finish_reason` and ignores the rest), and its
retention. No LiteLLM here: callbacks.py turns LiteLLM's logging payload into `Entry`.

One file per replica and day: each file has a single writer, so lines of two replicas never
interleave on the shared (ReadWriteMany) volume, and retention drops whole days.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from components.quality.logs import Record, is_refusal

# `<YYYY-MM-DD>-<pod>.jsonl`: what retention may delete. Anything else on the claim (the
# monitor's `reference/` files, a file someone put there) is never touched.
_LOG_FILE = re.compile(r"(\d{4})-(\d{2})-(\d{2})-.+\.jsonl")


@dataclass(frozen=True)
class Entry:
    """One request as the log records it."""

    ts: float  # when the request arrived, epoch seconds
    team: str | None
    key_alias: str | None
    model: str  # the model the client asked for
    served_by: str  # the LiteLLM model group that answered: <model> or <model>-hosted
    revision: str | None
    pod: str
    prompt: str
    completion: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    status: int
    cost_usd: float
    fallback: bool
    fallback_reason: str | None
    # During a rollout: the stable revision serving beside `revision` (which of the two
    # answered is not known to the gateway without a traffic router).
    previous_revision: str | None = None

    @property
    def refusal(self) -> bool:
        # The monitor's own detector, so the inline count and the 15-minute one agree.
        return is_refusal(Record(self.prompt, self.completion, self.completion_tokens,
                                 self.finish_reason))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def line(entry: Entry, redact: bool) -> dict[str, Any]:
    """The JSON object of one request. Redacted, the prompt and completion are replaced by
    their SHA-256 (so repeats can still be counted) and the monitor has no text to read."""
    text: dict[str, Any]
    if redact:
        completion = None if entry.completion is None else _sha256(entry.completion)
        text = {"prompt_sha256": _sha256(entry.prompt), "completion_sha256": completion}
    else:
        text = {"prompt": entry.prompt, "completion": entry.completion}
    return {
        "ts": round(entry.ts, 3),
        "time": datetime.fromtimestamp(entry.ts, UTC).isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "team": entry.team,
        "key_alias": entry.key_alias,
        "model": entry.model,
        "served_by": entry.served_by,
        "revision": entry.revision,
        "previous_revision": entry.previous_revision,
        "gateway_pod": entry.pod,
        **text,
        "finish_reason": entry.finish_reason,
        "prompt_tokens": entry.prompt_tokens,
        "completion_tokens": entry.completion_tokens,
        "latency_ms": round(entry.latency_ms, 1),
        "status": entry.status,
        "cost_usd": entry.cost_usd,
        "fallback": entry.fallback,
        "fallback_reason": entry.fallback_reason,
        "refusal": entry.refusal,
    }


def path_for(log_dir: Path, model: str, pod: str, ts: float) -> Path:
    day = datetime.fromtimestamp(ts, UTC).date()
    return log_dir / model / f"{day.isoformat()}-{pod}.jsonl"


class Writer:
    """Appends lines; called from worker threads (callbacks.py), so one lock keeps each
    line one write()."""

    def __init__(self, log_dir: Path, redact: bool) -> None:
        self.log_dir = log_dir
        self.redact = redact
        self._lock = threading.Lock()

    def write(self, entry: Entry) -> Path:
        path = path_for(self.log_dir, entry.model, entry.pod, entry.ts)
        data = json.dumps(line(entry, self.redact), ensure_ascii=False) + "\n"
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as out:
                out.write(data)
        return path


def expired(log_dir: Path, models: list[str], retention_days: int, today: date) -> list[Path]:
    """The log files of `models` whose day is more than `retention_days` before `today`:
    with 30 days, on 2026-12-31 the files of 2026-12-01 and later stay."""
    oldest = today - timedelta(days=retention_days)
    old = []
    for model in models:
        for path in sorted((log_dir / model).glob("*.jsonl")):
            day = _day_of(path.name)
            if day is not None and day < oldest:
                old.append(path)
    return old


def _day_of(name: str) -> date | None:
    match = _LOG_FILE.fullmatch(name)
    try:
        return date(*map(int, match.groups())) if match else None
    except ValueError:  # 2026-13-40-...: not a name we wrote
        return None


def enforce_retention(log_dir: Path, models: list[str], retention_days: int,
                      today: date) -> list[Path]:
    """Delete the expired files (any replica may: the names say the day, not the writer);
    the ones deleted. A file another replica removed first is not an error."""
    deleted = []
    for path in expired(log_dir, models, retention_days, today):
        try:
            path.unlink()
            deleted.append(path)
        except FileNotFoundError:
            pass
    return deleted
