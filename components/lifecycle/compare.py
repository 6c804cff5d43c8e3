"""The canary analysis's refusal metric (`python -m components.lifecycle.compare`, an Argo Job
metric): the golden set's prompts (the first `--sample`) sent to the canary and the stable
Services, each answer judged by the platform's one refusal detector (scorers.is_refusal_text,
the quality monitor's), and the two refusal rates compared on identical prompts. Without a
traffic router the gateway cannot tell which pod answered a user, so live refusals cannot be
split by revision; identical prompts can.

Exit 0 when canary - stable <= `--max-increase`, 1 when it is more (or an endpoint does not
answer: fail closed), 2 on bad arguments or an unusable golden set. Both rates are printed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from components.lifecycle import gate_cli, scorers
from components.lifecycle.chat import ChatError, Endpoint, complete
from components.lifecycle.golden import GoldenError
from components.lifecycle.golden import load as load_golden
from components.lifecycle.scorers import GoldenCase

# Rates are fractions of the same count: slack so an increase of exactly the threshold passes.
EPSILON = 1e-9


def refusals(endpoint: Endpoint, cases: Sequence[GoldenCase], pool: ThreadPoolExecutor) -> int:
    """How many of the cases the endpoint refuses; ChatError if one gets no answer."""
    answers = pool.map(lambda c: complete(endpoint, c.messages), cases)
    return sum(scorers.is_refusal_text(a.text, a.finish_reason) for a in answers)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m components.lifecycle.compare",
                                description="Compare the canary's and stable's refusal rates.")
    p.add_argument("--model", required=True, help="the served model name, sent as `model`")
    p.add_argument("--canary-url", required=True, help="OpenAI base URL, /v1 included")
    p.add_argument("--stable-url", required=True, help="OpenAI base URL, /v1 included")
    p.add_argument("--golden", required=True, help="fsspec URL of evals/<name>/golden.jsonl")
    p.add_argument("--max-increase", type=gate_cli.fraction, default=0.03,
                   help="largest allowed canary - stable refusal rate (default 0.03)")
    p.add_argument("--sample", type=gate_cli.bounded(1, 100_000, int), default=None,
                   help="send only the first N prompts (default all)")
    gate_cli.client_arguments(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        cases = load_golden(args.golden).cases[: args.sample]
    except GoldenError as exc:
        print(f"refusal comparison: {exc}", file=sys.stderr)
        return 2
    counts = {}
    with ThreadPoolExecutor(args.concurrency) as pool:
        for role, url in (("canary", args.canary_url), ("stable", args.stable_url)):
            try:
                counts[role] = refusals(gate_cli.endpoint(args, url, args.model), cases, pool)
            except ChatError as exc:
                # Fail closed, and now: the prompts still queued are not sent.
                pool.shutdown(wait=False, cancel_futures=True)
                print(f"refusal comparison FAILED: the {role} did not answer: {exc}")
                return 1
    n = len(cases)
    canary, stable = counts["canary"] / n, counts["stable"] / n
    increase = canary - stable
    print(f"{args.model}: refusal rate canary {canary:.3f} ({counts['canary']} of {n}), "
          f"stable {stable:.3f} ({counts['stable']} of {n}); increase {increase:+.3f}, "
          f"max {args.max_increase:.3f}")
    if increase > args.max_increase + EPSILON:
        print(f"refusal comparison FAILED: the canary refuses {increase:.3f} more often than "
              f"stable (max {args.max_increase:.3f})")
        return 1
    print("refusal comparison passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
