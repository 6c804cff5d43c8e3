"""The eval gate (`python -m components.lifecycle.evalgate`), the Rollout's first analysis: the
model's golden set run against the candidate and the incumbent, both scored the same way.

It passes only if the candidate's mean score is at least `--min-score` AND not below the
incumbent's by more than `--max-regression`. It fails closed: an endpoint that does not
answer after its retries, or a judge whose reply is not a verdict, fails the gate with the
reason, never counts as a score. The report (per-case scores, both means, thresholds,
verdict, reasons, the golden set's SHA-256, timings) is written to `--report` (a URL ending
in `/` gets `<revision>-<UTC time>.json`) before the exit; the scores and the verdict are
pushed to the Pushgateway (job `eval-gate`, grouped by model, so the last gate of each
model is what the dashboards and alerts see).

Exit 0 pass, 1 fail (one line why), 2 bad arguments or an unusable golden set.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import fsspec
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

from components.lifecycle import gate_cli, scorers
from components.lifecycle.chat import ChatError, Endpoint, complete
from components.lifecycle.golden import GoldenError, GoldenSet
from components.lifecycle.golden import load as load_golden
from components.lifecycle.scorers import CaseError, GoldenCase, JudgeError

JOB = "eval-gate"
SCORE_SERIES = "llm_eval_score"
PASSED_SERIES = "llm_eval_gate_passed"
ROLES = ("candidate", "incumbent")
# The rule compares means that are sums of fractions: without a little slack, 0.8 - 0.03
# (0.77000000000000002) would fail a candidate that scored exactly 0.77.
EPSILON = 1e-9
# An answer kept in the report for the reviewer, cut to this many characters.
ANSWER_CHARS = 2000


@dataclass(frozen=True)
class CaseResult:
    score: float | None
    seconds: float
    answer: str
    # Why there is no score: the first failure, or "not run" for the cases after it.
    error: str | None = None


NOT_RUN = "not run: the gate had already failed"


def _score_one(role: str, endpoint: Endpoint, case: GoldenCase, judge: scorers.Judge | None,
               rubric: str | None, failed: threading.Event) -> CaseResult:
    """One case for one role. The first failure sets `failed`, and the cases not yet started
    are skipped: the gate has failed closed, and a dead endpoint with retries and long
    timeouts over a large set would otherwise hold the rollout for hours."""
    if failed.is_set():
        return CaseResult(None, 0.0, "", NOT_RUN)
    started = time.monotonic()
    text, score, error = "", None, None
    try:
        text = complete(endpoint, case.messages).text
    except ChatError as exc:
        error = f"case {case.id}: the {role} did not answer: {exc}"
    if error is None:
        try:
            score = scorers.score_case(case, text, judge, rubric)
        except JudgeError as exc:
            error = f"case {case.id} ({role}): {exc}"
        except ChatError as exc:
            error = f"case {case.id} ({role}): the judge did not answer: {exc}"
    if error:
        failed.set()
    return CaseResult(score, round(time.monotonic() - started, 3), text[:ANSWER_CHARS], error)


def run_cases(endpoints: dict[str, Endpoint], cases: Sequence[GoldenCase],
              judge: scorers.Judge | None, rubric: str | None,
              concurrency: int) -> dict[str, list[CaseResult]]:
    """Every case against every role, `concurrency` requests at a time, results in case order."""
    failed = threading.Event()
    with ThreadPoolExecutor(concurrency) as pool:
        futures = {role: [pool.submit(_score_one, role, ep, c, judge, rubric, failed)
                          for c in cases]
                   for role, ep in endpoints.items()}
        return {role: [f.result() for f in fs] for role, fs in futures.items()}


def role_mean(results: Sequence[CaseResult]) -> float | None:
    """The mean over every case, or None when any case has no score (no partial means)."""
    scores = [r.score for r in results]
    return None if any(s is None for s in scores) else scorers.mean(scores)


def verdict(means: dict[str, float | None], errors: list[str], min_score: float,
            max_regression: float) -> tuple[bool, list[str]]:
    if errors:
        return False, errors
    candidate, incumbent = means["candidate"], means["incumbent"]
    assert candidate is not None and incumbent is not None
    reasons = []
    if candidate + EPSILON < min_score:
        reasons.append(f"candidate mean {candidate:.3f} is below min_score {min_score:.3f}")
    if candidate + EPSILON < incumbent - max_regression:
        reasons.append(f"candidate mean {candidate:.3f} is {incumbent - candidate:.3f} below the "
                       f"incumbent's {incumbent:.3f} (max_regression {max_regression:.3f})")
    return not reasons, reasons


def report_url(url: str, revision: str, at: datetime) -> str:
    if url.endswith("/"):
        return f"{url}{revision}-{at.strftime('%Y%m%dT%H%M%SZ')}.json"
    return url


def write_report(url: str, report: dict) -> None:
    fs, path = fsspec.core.url_to_fs(url)
    parent = path.rsplit("/", 1)[0]
    if parent and parent != path:
        fs.makedirs(parent, exist_ok=True)
    with fs.open(path, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")


def push(url: str, model: str, revision: str, incumbent_revision: str,
         means: dict[str, float | None], passed: bool) -> None:
    """Replaces the model's group: a score that could not be computed is left out, so a rule
    sees no value rather than a zero."""
    registry = CollectorRegistry()
    score = Gauge(SCORE_SERIES, "Mean golden-set score of the gate's last run",
                  ["revision", "role"], registry=registry)
    for role, rev in (("candidate", revision), ("incumbent", incumbent_revision)):
        if means[role] is not None:
            score.labels(revision=rev, role=role).set(means[role])
    gate = Gauge(PASSED_SERIES, "1 if the gate's last run passed the candidate, else 0",
                 ["revision"], registry=registry)
    gate.labels(revision=revision).set(1.0 if passed else 0.0)
    push_to_gateway(url, job=JOB, registry=registry, grouping_key={"model": model}, timeout=10)


def build_report(args: argparse.Namespace, golden: GoldenSet, results: dict[str, list[CaseResult]],
                 means: dict[str, float | None], passed: bool, reasons: list[str],
                 times: tuple[datetime, datetime]) -> dict:
    return {
        "model": args.model, "revision": args.revision,
        "incumbent_revision": args.incumbent_revision,
        "verdict": "pass" if passed else "fail", "passed": passed, "reasons": reasons,
        "thresholds": {"min_score": args.min_score, "max_regression": args.max_regression},
        "means": means,
        "golden": {"url": golden.url, "sha256": golden.sha256, "cases": len(golden.cases)},
        "endpoints": {"candidate": args.candidate_url, "incumbent": args.incumbent_url},
        "judge": {"url": args.judge_url, "model": args.judge_model} if args.judge_url else None,
        "cases": [{"id": c.id, "scorer": c.scorer,
                   **{role: asdict(results[role][i]) for role in ROLES}}
                  for i, c in enumerate(golden.cases)],
        "started": times[0].isoformat(), "finished": times[1].isoformat(),
        "seconds": round((times[1] - times[0]).total_seconds(), 3),
    }


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m components.lifecycle.evalgate",
                                description="Run the golden set against candidate and incumbent.")
    p.add_argument("--model", required=True, help="the served model name, sent as `model`")
    p.add_argument("--revision", required=True, help="the candidate's revision")
    p.add_argument("--incumbent-revision", required=True, help="the stable revision")
    p.add_argument("--candidate-url", required=True, help="OpenAI base URL, /v1 included")
    p.add_argument("--incumbent-url", required=True, help="OpenAI base URL, /v1 included")
    p.add_argument("--golden", required=True, help="fsspec URL of evals/<name>/golden.jsonl")
    p.add_argument("--min-score", required=True, type=gate_cli.fraction)
    p.add_argument("--max-regression", required=True, type=gate_cli.fraction)
    p.add_argument("--report", required=True, help="fsspec URL; ending in / names the file")
    p.add_argument("--pushgateway", required=True, help="e.g. http://pushgateway:9091")
    gate_cli.judge_arguments(p)
    gate_cli.client_arguments(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        golden = load_golden(args.golden)
        judge, rubric = gate_cli.judge_from(args, golden.cases)
    except (GoldenError, CaseError, gate_cli.ArgumentError) as exc:
        print(f"eval gate: {exc}", file=sys.stderr)
        return 2
    endpoints = {"candidate": gate_cli.endpoint(args, args.candidate_url, args.model),
                 "incumbent": gate_cli.endpoint(args, args.incumbent_url, args.model)}
    started = datetime.now(UTC)
    results = run_cases(endpoints, golden.cases, judge, rubric, args.concurrency)
    means = {role: role_mean(results[role]) for role in ROLES}
    errors = [r.error for role in ROLES for r in results[role] if r.error and r.error != NOT_RUN]
    passed, reasons = verdict(means, errors, args.min_score, args.max_regression)
    finished = datetime.now(UTC)
    report = build_report(args, golden, results, means, passed, reasons, (started, finished))
    return finish(args, report, means, passed, reasons)


def _cases(n: int) -> str:
    return f"{n} case" if n == 1 else f"{n} cases"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def finish(args: argparse.Namespace, report: dict, means: dict[str, float | None],
           passed: bool, reasons: list[str]) -> int:
    """Write the report, push the figures, print the summary; the exit code."""
    url = report_url(args.report, args.revision, datetime.now(UTC))
    print(f"eval gate {args.model} {args.revision} vs {args.incumbent_revision}: "
          f"candidate {_fmt(means['candidate'])}, incumbent {_fmt(means['incumbent'])} on "
          f"{_cases(report['golden']['cases'])} (golden sha256 {report['golden']['sha256'][:12]}); "
          f"min_score {args.min_score}, max_regression {args.max_regression}")
    try:
        write_report(url, report)
    except (OSError, ValueError, ImportError) as exc:
        print(f"eval gate FAILED: the report could not be written to {url}: {exc}")
        return 1
    print(f"report: {url}")
    try:
        push(args.pushgateway, args.model, args.revision, args.incumbent_revision, means, passed)
    except OSError as exc:
        # The verdict is the exit code and the report holds the figures; a Pushgateway that
        # is down costs the dashboard a point, not the gate its answer.
        print(f"warning: the scores were not pushed to {args.pushgateway}: {exc}", file=sys.stderr)
    if passed:
        print("eval gate PASSED")
        return 0
    print(f"eval gate FAILED: {'; '.join(reasons[:3])}"
          + (f" (and {len(reasons) - 3} more in the report)" if len(reasons) > 3 else ""))
    return 1


if __name__ == "__main__":
    sys.exit(main())
