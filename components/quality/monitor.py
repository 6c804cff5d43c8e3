"""One run of the quality monitor: per model, sample recent traffic, score it against the
reference, and push the scores to the Pushgateway for the recording rules and alerts.

Every run that reads a model's log pushes its sample size, refusal ratio and the run's
timestamp (what QualityMonitorStale reads), whether or not a reference exists yet; the
drift scores join once there is one (a reference file, or an ended day of the log)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from components.observability import metrics as m
from components.quality import logs, stats

log = logging.getLogger("llm-quality")

Embed = Callable[[list[str]], np.ndarray]


class MonitorConfig(BaseModel):
    """The ConfigMap the QualityMonitor component writes; see components/kubernetes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    models: list[str] = Field(min_length=1)
    log_dir: Path
    reference_dir: Path
    sample_size: int = Field(ge=2)
    pushgateway: str
    permutations: int = Field(default=200, ge=0)
    min_sample: int = Field(default=50, ge=2)


@dataclass(frozen=True)
class QualityResult:
    model: str
    reference: str
    sample_size: int
    skipped: int
    refusal_ratio: float | None
    output_tokens_mean: float | None
    output_length_ks: float | None
    input_mmd2: float | None
    input_pvalue: float | None


def _samples(name: str, cfg: MonitorConfig, now: float) -> tuple[logs.Sample, logs.Sample, str]:
    """Recent traffic, the reference and where the reference came from. The reference file
    wins; without one, the oldest ended day of the model's own log (logs.py). A model with
    no log directory is an error: the gateway makes it on the model's first request, so its
    absence means nothing writes to this claim, and the stale alert must say so."""
    model_dir = cfg.log_dir / name
    if not model_dir.is_dir():
        raise FileNotFoundError(f"no request log directory {model_dir}")
    path = cfg.reference_dir / f"{name}.jsonl"
    if path.is_file():
        reference = logs.read_jsonl(path, limit=cfg.sample_size)
        return logs.recent(model_dir, cfg.sample_size), reference, str(path)
    today = datetime.fromtimestamp(now, tz=UTC).date()
    found = logs.reference_from_log(model_dir, today, cfg.min_sample, cfg.sample_size)
    if found is None:
        return logs.recent(model_dir, cfg.sample_size), logs.Sample([], 0), "none yet"
    day, reference = found
    return logs.recent(model_dir, cfg.sample_size, exclude=day), reference, f"log {day}"


def check_model(name: str, cfg: MonitorConfig, embed: Embed, now: float) -> QualityResult:
    sample, reference, source = _samples(name, cfg, now)
    recs = sample.records
    answered = [r for r in recs if r.completion is not None or r.finish_reason is not None]
    refusal = sum(logs.is_refusal(r) for r in answered) / len(answered) if answered else None
    lengths = [r.completion_tokens for r in recs if r.completion_tokens is not None]
    ref_lengths = [
        r.completion_tokens for r in reference.records if r.completion_tokens is not None
    ]
    mmd2 = pvalue = None
    if len(recs) >= cfg.min_sample and len(reference.records) >= cfg.min_sample:
        result = stats.mmd_test(
            embed([r.prompt for r in recs]),
            embed([r.prompt for r in reference.records]),
            permutations=cfg.permutations,
        )
        mmd2, pvalue = result.mmd2, result.pvalue
    else:
        log.warning(
            "%s: %d recent and %d reference prompts (reference: %s), need %d of each for a "
            "drift score",
            name, len(recs), len(reference.records), source, cfg.min_sample,
        )  # fmt: skip
    return QualityResult(
        model=name,
        reference=source,
        sample_size=len(recs),
        skipped=sample.skipped,
        refusal_ratio=refusal,
        output_tokens_mean=float(np.mean(lengths)) if lengths else None,
        output_length_ks=stats.length_shift(lengths, ref_lengths),
        input_mmd2=mmd2,
        input_pvalue=pvalue,
    )


def push(result: QualityResult, gateway: str, now: float) -> None:
    """Replace this model's group on the Pushgateway with the new scores. A score that
    could not be computed is left out, so a rule sees no value rather than a zero."""
    registry = CollectorRegistry()
    values = {
        m.Q_SAMPLE_SIZE: result.sample_size,
        m.Q_REFUSAL_RATIO: result.refusal_ratio,
        m.Q_OUTPUT_TOKENS_MEAN: result.output_tokens_mean,
        m.Q_OUTPUT_LENGTH_KS: result.output_length_ks,
        m.Q_INPUT_MMD2: result.input_mmd2,
        m.Q_INPUT_PVALUE: result.input_pvalue,
        m.Q_LAST_RUN: now,
    }
    for name, value in values.items():
        if value is not None:
            Gauge(name, name.replace("_", " "), registry=registry).set(value)
    push_to_gateway(
        gateway, job=m.QUALITY_JOB, registry=registry, grouping_key={"model": result.model}
    )


def run(cfg: MonitorConfig, embed: Embed, now: Callable[[], float] = time.time) -> int:
    failures = 0
    for name in cfg.models:
        started = time.monotonic()
        try:
            at = now()
            result = check_model(name, cfg, embed, at)
            push(result, cfg.pushgateway, at)
        except (OSError, ValueError) as exc:
            failures += 1
            log.error("%s: %s", name, exc)
            continue
        log.info(
            "%s: n=%d skipped=%d refusal=%s mmd2=%s p=%s len_ks=%s reference=%s (%.1fs)",
            name, result.sample_size, result.skipped, result.refusal_ratio, result.input_mmd2,
            result.input_pvalue, result.output_length_ks, result.reference,
            time.monotonic() - started,
        )  # fmt: skip
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.quality")
    parser.add_argument("--config", type=Path, required=True, help="monitor config JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        cfg = MonitorConfig.model_validate(json.loads(args.config.read_text()))
    except (OSError, ValueError, ValidationError) as exc:
        print(f"error: {args.config}: {exc}", file=sys.stderr)
        return 2
    from components.quality.embed import embed

    return run(cfg, embed)
