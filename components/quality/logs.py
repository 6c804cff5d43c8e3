"""Reads the request/response log the gateway writes, and spots refusals.

Layout under the log directory: `<model>/*.jsonl`, one JSON object per line:

    {"ts": 1763900000.0, "prompt": "...", "completion": "...",
     "completion_tokens": 212, "finish_reason": "stop"}

Only `prompt` is required; a line that is not valid JSON or has no prompt is skipped and
counted, so one bad writer cannot stop the monitor. The gateway (components/gateway/
requestlog.py) writes `<model>/<YYYY-MM-DD>-<pod>.jsonl`, one file per UTC day and replica,
with more fields on each line (team, status, fallback, ...), which are ignored here.

A model without a reference file takes its reference from the log itself: the oldest UTC
day that has ended and holds enough prompts (`reference_from_log`). The monitor mounts the
claim read-only, so that reference is not written anywhere: each run finds the same day
again, until retention deletes it and the next oldest day takes its place.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path


@dataclass(frozen=True)
class Record:
    prompt: str
    completion: str | None
    completion_tokens: int | None
    finish_reason: str | None


@dataclass(frozen=True)
class Sample:
    records: list[Record]
    skipped: int


def _parse(line: str) -> Record | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str):
        return None
    tokens = obj.get("completion_tokens")
    completion = obj.get("completion")
    reason = obj.get("finish_reason")
    return Record(
        prompt=obj["prompt"],
        completion=completion if isinstance(completion, str) else None,
        completion_tokens=tokens if isinstance(tokens, int) and tokens >= 0 else None,
        finish_reason=reason if isinstance(reason, str) else None,
    )


def read_jsonl(path: Path, limit: int | None = None) -> Sample:
    """Records of one file, the last `limit` of them when a limit is given."""
    records, skipped = [], 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        rec = _parse(line)
        if rec is None:
            skipped += 1
        else:
            records.append(rec)
    if limit is not None:
        records = records[-limit:]
    return Sample(records, skipped)


# The UTC day a gateway log file holds, from its name `<YYYY-MM-DD>-<pod>.jsonl`.
_DAY = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})(?:-.*)?\.jsonl$")


def file_day(path: Path) -> date | None:
    found = _DAY.match(path.name)
    if not found:
        return None
    try:
        return date.fromisoformat(found.group(1))
    except ValueError:
        return None


def reference_from_log(
    model_dir: Path, today: date, min_records: int, size: int
) -> tuple[date, Sample] | None:
    """The oldest day before `today` with at least `min_records` records, as up to `size`
    of them spread evenly over the day (every replica's file, in name order); None when no
    ended day has enough."""
    days: dict[date, list[Path]] = {}
    for path in model_dir.glob("*.jsonl"):
        day = file_day(path)
        if day is not None and day < today:
            days.setdefault(day, []).append(path)
    for day in sorted(days):
        records: list[Record] = []
        skipped = 0
        for path in sorted(days[day]):
            sample = read_jsonl(path)
            records += sample.records
            skipped += sample.skipped
        if len(records) >= min_records:
            step = max(1, len(records) // size)
            return day, Sample(records[::step][:size], skipped)
    return None


def recent(model_dir: Path, size: int, exclude: date | None = None) -> Sample:
    """The newest `size` records across the model's log files (newest file first), leaving
    out the files of day `exclude` (the day the reference was taken from)."""
    files = sorted(
        (p for p in model_dir.glob("*.jsonl") if exclude is None or file_day(p) != exclude),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    records: list[Record] = []
    skipped = 0
    for path in files:
        sample = read_jsonl(path, limit=size - len(records))
        records = sample.records + records
        skipped += sample.skipped
        if len(records) >= size:
            break
    return Sample(records, skipped)


# Openings that chat models use to decline, matched at the start of the answer, where a
# refusal puts them; a phrase quoted later in a helpful answer does not count.
_REFUSAL = re.compile(
    r"^\W*(i'?m sorry,? but |sorry,? but |unfortunately,? )?"
    r"(i (can(no|')t|am unable to|'m unable to|won'?t|am not able to|'m not able to) "
    r"(help|assist|provide|comply|do that|answer|share|fulfil)"
    r"|as an ai\b"
    r"|i must (decline|refuse))",
    re.IGNORECASE,
)


def is_refusal(record: Record) -> bool:
    if record.finish_reason == "content_filter":
        return True
    return bool(record.completion and _REFUSAL.search(record.completion.strip()[:200]))
