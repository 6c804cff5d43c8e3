"""What the gate and the refusal comparison share on the command line: the client's bounds,
the judge's arguments, and reading the golden set. Bad input is one line and exit 2."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from components.lifecycle.chat import Endpoint, complete
from components.lifecycle.scorers import GoldenCase, Judge

# The judge answers one line (`SCORE: x`); a longer reply is not a verdict anyway.
JUDGE_MAX_TOKENS = 32


class ArgumentError(ValueError):
    """An argument that argparse cannot check alone (a file, a combination)."""


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is outside [0, 1]")
    return value


def bounded(low: float, high: float, kind: type) -> Callable[[str], float]:
    def check(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is outside [{low}, {high}]")
        return value

    return check


def client_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timeout", type=bounded(1, 600, float), default=120.0,
                   help="seconds per request (default 120)")
    p.add_argument("--retries", type=bounded(0, 5, int), default=2,
                   help="more attempts on a connection error, timeout, 429 or 5xx (default 2)")
    p.add_argument("--concurrency", type=bounded(1, 16, int), default=4,
                   help="requests in flight at once (default 4)")
    p.add_argument("--max-tokens", type=bounded(1, 8192, int), default=512,
                   help="max_tokens of each answer (default 512)")


def judge_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--judge-url", help="the gateway's OpenAI base URL, /v1 included")
    p.add_argument("--judge-model", help="the judge model the gateway routes")
    p.add_argument("--judge-key-file", type=Path, help="a file holding the gateway key")
    p.add_argument("--rubric-file", type=Path, help="the written rubric for judge cases")


def endpoint(args: argparse.Namespace, url: str, model: str) -> Endpoint:
    return Endpoint(url=url, model=model, timeout_s=args.timeout, retries=args.retries,
                    max_tokens=args.max_tokens)


def _read(path: Path, what: str) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ArgumentError(f"{what} {path}: cannot read: {exc}") from None
    if not text:
        raise ArgumentError(f"{what} {path} is empty")
    return text


def judge_from(args: argparse.Namespace,
               cases: Sequence[GoldenCase]) -> tuple[Judge | None, str | None]:
    """The judge (a function from the judge request to its reply) and the gate's rubric, checked
    against the set: a judge case without a judge or a rubric is refused before any request."""
    if bool(args.judge_url) != bool(args.judge_model):
        raise ArgumentError("--judge-url and --judge-model go together")
    rubric = _read(args.rubric_file, "--rubric-file") if args.rubric_file else None
    judged = [c for c in cases if c.scorer == "judge"]
    if judged and not args.judge_url:
        raise ArgumentError(f"case {judged[0].id} is scored by a judge: "
                            "give --judge-url and --judge-model")
    unwritten = [c.id for c in judged if c.rubric is None and rubric is None]
    if unwritten:
        raise ArgumentError(f"case {unwritten[0]} has no rubric of its own: give --rubric-file")
    if not args.judge_url:
        return None, rubric
    key = _read(args.judge_key_file, "--judge-key-file") if args.judge_key_file else None
    judge_endpoint = Endpoint(url=args.judge_url, model=args.judge_model, key=key,
                              timeout_s=args.timeout, retries=args.retries,
                              max_tokens=JUDGE_MAX_TOKENS)
    return (lambda messages: complete(judge_endpoint, messages).text), rubric
