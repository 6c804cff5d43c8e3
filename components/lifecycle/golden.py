"""A model's golden set, `evals/<name>/golden.jsonl`, read through fsspec from any URL the
store has (s3://, gs://, az://, file://, a plain path): one JSON case per line (the format is
in scorers.py), blank lines ignored. Every malformed line is reported with its number, so a
whole file's mistakes show in one run; a set without cases is refused, because a gate over
nothing would pass anything. The SHA-256 of the bytes read goes into the gate's report, so a
verdict names the exact set it was reached on."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import fsspec

from components.lifecycle.scorers import CaseError, GoldenCase, case_from_dict


class GoldenError(ValueError):
    """A golden set that cannot be used; `problems` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class GoldenSet:
    url: str
    cases: tuple[GoldenCase, ...]
    sha256: str


def read_bytes(url: str) -> bytes:
    try:
        with fsspec.open(url, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise GoldenError([f"golden set {url}: not found"]) from None
    except (OSError, ValueError, ImportError) as exc:
        # ImportError: a URL scheme whose filesystem package is not installed.
        raise GoldenError([f"golden set {url}: cannot read: {exc}"]) from None


def parse(url: str, data: bytes) -> tuple[GoldenCase, ...]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = f"golden set {url}: not UTF-8 ({exc.reason} at byte {exc.start})"
        raise GoldenError([problem]) from None
    cases: list[GoldenCase] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = case_from_dict(json.loads(line), f"line-{number}")
        except json.JSONDecodeError as exc:
            problems.append(f"{url}:{number}: not JSON: {exc.msg} (column {exc.colno})")
            continue
        except CaseError as exc:
            problems.append(f"{url}:{number}: {exc}")
            continue
        if case.id in first_line:
            problems.append(f"{url}:{number}: id {case.id!r} repeats line {first_line[case.id]}")
            continue
        first_line[case.id] = number
        cases.append(case)
    if problems:
        raise GoldenError(problems)
    if not cases:
        raise GoldenError([f"golden set {url}: no cases (an empty set would pass any model)"])
    return tuple(cases)


def load(url: str) -> GoldenSet:
    data = read_bytes(url)
    return GoldenSet(url=url, cases=parse(url, data), sha256=hashlib.sha256(data).hexdigest())
