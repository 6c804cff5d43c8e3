"""Text Generation Inference and SGLang against their pinned releases: every flag their
command lines carry and every series their `llm:*` mapping and adapter rules read exists
in the release (components/catalog/engines.yaml, generated from the release's source);
the command lines for a plan; the drain; the generators that wrote the catalog rows."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from test_engines import _check_against, metric_names

from components.catalog import engine_lists
from components.catalog.engine_releases import engine_releases
from components.engines.base import PRESTOP_SLEEP_S, TEARDOWN_MARGIN_S
from components.engines.sglang import Sglang, mem_fraction_static
from components.engines.tgi import Tgi
from components.observability.metrics import QUANTILES, Selector, ttft_bucket
from components.sizing import MemoryBudget, ServingPlan

RELEASES = engine_releases()
ENGINES = [Tgi(), Sglang()]


def _plan(
    tp: int = 2, *, util: float = 0.9, weights: float = 40.0, kv: float = 28.0, **kw
) -> ServingPlan:
    budget = MemoryBudget(80, 80 * util, weights, 2, 2, kv, 320_000, 90_000, 8192, 10.0)
    fields = dict(
        gpu="h100", tensor_parallel=tp, budget=budget, max_num_seqs=64,
        max_num_batched_tokens=8192, replicas_min=1, replicas_max=2, prefill_ms=100.0,
        decode_ms_per_token=10.0, startup_budget_s=900, drain_s=180,
        gpu_memory_utilization=util, prefix_caching=True, engine_args=[],
    )
    return ServingPlan(**{**fields, **kw})


PLANS = {
    "tp1": _plan(1),
    "tp4-no-prefix-cache": _plan(4, prefix_caching=False),
    "fp8-kv-awq": _plan(2, kv_cache_dtype="fp8", quantize_at_load="awq"),
    "util-0.95": _plan(2, util=0.95),
}


def _flags(cmd: list[str]) -> set[str]:
    return {a.split("=", 1)[0] for a in cmd if a.startswith("--")}


@pytest.mark.parametrize("plan", PLANS.values(), ids=PLANS.keys())
@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.name)
def test_every_flag_is_in_the_pinned_release(engine, plan):
    release = RELEASES[engine.name]
    flags = _flags(engine.command("/models/m", "m", plan))
    assert len(flags) >= 8
    assert not flags - set(release.flags), sorted(flags - set(release.flags))


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.name)
def test_every_series_of_the_llm_mapping_is_exported_by_the_release(engine):
    release = RELEASES[engine.name]
    metrics = engine.metrics(Selector("llm", "m"))
    exprs = {**metrics.series(), "error_ratio": metrics.error_ratio("5m")}
    if metrics.ttft_buckets_ms:
        exprs["slow_ttft"] = metrics.slow_ttft_ratio("5m", metrics.ttft_buckets_ms[3])
    problems = [p for where, e in exprs.items() for p in _check_against(release, e, where)]
    assert not problems, problems
    names = {n for e in exprs.values() for n in metric_names(e)}
    assert len(names) >= 8 and all(n.startswith(("tgi_", "sglang:")) for n in names)


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.name)
def test_the_adapter_rule_serves_the_queue_metric_from_an_exported_series(engine):
    rule = engine.adapter_rule()
    release = RELEASES[engine.name]
    series = rule["seriesQuery"].split("{")[0]
    assert rule["name"] == {"matches": f"^{series}$", "as": engine.queue_metric}
    assert series in release.metrics
    query = rule["metricsQuery"].replace("<<.Series>>", series)
    query = query.replace("<<.LabelMatchers>>", "").replace("<<.GroupBy>>", "pod")
    assert not _check_against(release, query, engine.queue_metric)
    # A custom-metrics API name cannot hold ':'.
    assert ":" not in engine.queue_metric


def test_tgi_command_line_for_a_tp2_plan():
    cmd = Tgi().command("/models/chat", "chat", _plan(2))
    assert cmd == [
        "/tgi-entrypoint.sh",
        "--model-id=/models/chat",
        "--hostname=0.0.0.0",
        "--port=8000",
        "--usage-stats=off",
        "--graceful-termination-timeout=180",
        "--num-shard=2",
        "--max-total-tokens=8192",
        "--max-input-tokens=8191",
        "--max-batch-prefill-tokens=8192",
        "--max-batch-size=64",
        "--max-concurrent-requests=128",
        # 0.9 / TGI's 0.90 wiggle room: TGI's KV budget is 90% of the GPU, as planned.
        "--cuda-memory-fraction=1.0",
    ]


@pytest.mark.parametrize(("util", "fraction"), [(0.81, 0.9), (0.72, 0.8), (0.95, 1.0)])
def test_tgi_memory_fraction_gives_the_planned_budget_up_to_its_cap(util, fraction):
    (arg,) = [a for a in Tgi().args(_plan(util=util)) if a.startswith("--cuda-memory-fraction")]
    assert float(arg.split("=")[1]) == pytest.approx(fraction)


def test_tgi_switches_prefix_caching_off_by_environment_only():
    cmd = Tgi().command("/models/m", "m", _plan(prefix_caching=False))
    assert cmd[:3] == ["env", "PREFIX_CACHING=0", "/tgi-entrypoint.sh"]
    assert not any("prefix" in a for a in _flags(cmd))


def test_tgi_maps_fp8_kv_and_load_time_quantization_to_its_names():
    args = Tgi().args(_plan(kv_cache_dtype="fp8", quantize_at_load="gptq"))
    assert "--kv-cache-dtype=fp8_e4m3fn" in args and "--quantize=gptq" in args
    plain = Tgi().args(_plan())
    assert not [a for a in plain if a.startswith(("--kv-cache-dtype", "--quantize"))]


def test_sglang_command_line_for_a_tp2_plan():
    cmd = Sglang().command("/models/chat", "chat", _plan(2))
    assert cmd == [
        "python3", "-m", "sglang.launch_server",
        "--model-path=/models/chat",
        "--served-model-name=chat",
        "--host=0.0.0.0",
        "--port=8000",
        "--enable-metrics",
        "--tp-size=2",
        "--context-length=8192",
        "--max-running-requests=64",
        "--chunked-prefill-size=8192",
        # (40 GiB weights + 28 GiB KV) / 80 GiB
        "--mem-fraction-static=0.85",
    ]


@pytest.mark.parametrize(("kv", "fraction"), [(28.3, 0.853), (28.0, 0.85), (27.96, 0.849)])
def test_sglang_static_fraction_never_grows_the_cache_past_the_plan(kv, fraction):
    plan = _plan(kv=kv)
    assert mem_fraction_static(plan) == fraction
    sglang_kv = fraction * 80 - 40  # what SGLang leaves for the cache after the weights
    assert kv - 0.08 < sglang_kv <= kv + 1e-9


def test_sglang_flags_for_no_prefix_cache_fp8_kv_and_awq():
    args = Sglang().args(_plan(prefix_caching=False, kv_cache_dtype="fp8", quantize_at_load="awq"))
    assert {"--disable-radix-cache", "--kv-cache-dtype=fp8_e4m3", "--quantization=awq"} <= set(args)
    assert not {a for a in Sglang().args(_plan()) if "radix" in a or "dtype" in a}


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.name)
def test_grace_period_covers_prestop_drain_and_teardown(engine):
    plan = replace(_plan(), drain_s=240)
    stop = engine.shutdown(plan)
    assert (stop.prestop_s, stop.drain_s) == (PRESTOP_SLEEP_S, 240)
    assert stop.grace_s == PRESTOP_SLEEP_S + 240 + TEARDOWN_MARGIN_S
    drains = [a for a in engine.command("/models/m", "m", plan) if "termination-timeout" in a]
    # TGI kills the router this long after SIGTERM; SGLang has no such flag and drains
    # until nothing is in flight, bounded by the grace period alone.
    assert drains == (["--graceful-termination-timeout=240"] if engine.name == "tgi" else [])


def test_tgi_has_no_ttft_slo_and_sglang_counts_it_at_a_bucket_bound():
    sel = Selector("llm", "m")
    assert ttft_bucket(1500, Tgi().metrics(sel).ttft_buckets_ms) is None
    sglang = Sglang().metrics(sel)
    assert ttft_bucket(1500, sglang.ttft_buckets_ms) == 1000.0
    assert 'le="1.0"' in sglang.slow_ttft_ratio("5m", 1000.0)
    assert "llm:ttft_seconds:p95" not in Tgi().metrics(sel).series()
    assert f"llm:ttft_seconds:p{round(QUANTILES[-1] * 100)}" in sglang.series()


def test_tgi_error_ratio_counts_server_failures_not_client_ones():
    expr = Tgi().metrics(Selector("llm", "m")).error_ratio("1h")
    assert 'err=~"generation|incomplete|overloaded"' in expr
    assert "validation" not in expr and "dropped" not in expr


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.name)
def test_engines_keep_caches_on_writable_volumes_and_use_our_memory_model_only_if_it_fits(
    engine,
):
    assert engine.env()["HF_HOME"] == "/models/hf"
    assert all(v.startswith(("/models", "/tmp")) for v in engine.env().values())
    assert engine.vllm_memory_model is False and "fraction" in engine.memory_note
    assert engine.config_files(_plan()) == {}


# -- the generators that wrote the catalog rows ---------------------------------------------

TGI_MAIN = """
#[derive(Parser, Debug)]
struct Args {
    /// The model
    #[clap(default_value = "bigscience/bloom-560m", long, env)]
    model_id: String,
    #[clap(default_value = "3000", long, short, env)]
    port: u16,
    #[clap(env)]
    not_an_option: bool,
    #[clap(default_value = "90", long, short, env)]
    graceful_termination_timeout: u64,
}
"""
TGI_SERVER = """
    let duration_matcher = Matcher::Suffix(String::from("duration"));
    let sizes = Matcher::Full(String::from("tgi_batch_next_size"));
    let skipped = Matcher::Full(String::from("tgi_request_skipped_tokens"));
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(duration_matcher, &duration_buckets)
        .set_buckets_for_metric(sizes, &b);
    // .set_buckets_for_metric(skipped, &skipped_buckets)
    metrics::counter!("tgi_request_failure", "err" => "validation").increment(1);
    metrics::counter!("tgi_request_failure", "err" => "generation").increment(1);
    metrics::histogram!(
        "tgi_request_queue_duration"
    ).record(1.0);
    metrics::histogram!("tgi_request_skipped_tokens").record(1.0);
    metrics::gauge!("tgi_queue_size").set(0.0);
"""


def test_tgi_generator_reads_clap_long_options_and_the_exporters_series(tmp_path: Path):
    (tmp_path / "launcher/src").mkdir(parents=True)
    (tmp_path / "router/src").mkdir(parents=True)
    (tmp_path / "backends/v3/src").mkdir(parents=True)
    (tmp_path / "launcher/src/main.rs").write_text(TGI_MAIN)
    (tmp_path / "router/src/server.rs").write_text(TGI_SERVER)
    assert engine_lists.tgi_flags(tmp_path) == [
        "--graceful-termination-timeout", "--model-id", "--port"]
    assert engine_lists.tgi_metrics(tmp_path) == {
        "tgi_queue_size": {},
        "tgi_request_failure": {"err": ["generation", "validation"]},
        # bucketed (its name ends in "duration"): a histogram
        "tgi_request_queue_duration_bucket": {},
        "tgi_request_queue_duration_count": {},
        "tgi_request_queue_duration_sum": {},
        # its bucket setting is commented out: a summary
        "tgi_request_skipped_tokens": {},
        "tgi_request_skipped_tokens_count": {},
        "tgi_request_skipped_tokens_sum": {},
    }


SGLANG_FIELDS = '''
class Base(msgspec.Struct):
    host: A[str, "The host."] = "127.0.0.1"

class Serving(Base):
    _NS_PATH = "serving"
    port: A[int, "The port."] = 30000
    tp_size: A[int, Arg(help="TP.", aliases=["--tensor-parallel-size"])] = 1
    internal: A[int, Arg(help="x", no_cli=True)] = 0
    plain: int = 0
    named: A[int, Arg(help="y", cli_name="--other-name")] = 0
    flag: A[bool, Arg(help="z", action=argparse.BooleanOptionalAction)] = True
    joined: A[int, "a " + "b"] = 0

class Unused(msgspec.Struct):
    never: A[int, "not a namespace of ServerArgs"] = 0
'''
SGLANG_SERVER_ARGS = '''
_INPUT_NAMESPACES = [
    Serving,
]

class ServerArgs:
    @staticmethod
    def add_cli_args(parser):
        add_cli_args_from_dataclass(parser, ServerArgs)
        parser.add_argument("--config", type=str)
'''


def test_sglang_generator_follows_add_cli_args_from_dataclass(tmp_path: Path):
    fields = tmp_path / "sglang/srt/arg_groups/fields"
    fields.mkdir(parents=True)
    (fields / "serving.py").write_text(SGLANG_FIELDS)
    (tmp_path / "sglang/srt/server_args.py").write_text(SGLANG_SERVER_ARGS)
    (tmp_path / "sglang/srt/metrics.py").write_text(
        'Counter(name="sglang:num_requests_total", documentation="x")\n'
        'Histogram(name="sglang:time_to_first_token_seconds", documentation="x")\n'
        'Gauge(name="sglang:num_queue_reqs", documentation="x")\n'
        'Gauge(name="other:thing", documentation="x")\n'
    )
    assert engine_lists.sglang_flags(tmp_path) == [
        "--config", "--flag", "--host", "--joined", "--no-flag", "--other-name", "--port",
        "--tensor-parallel-size", "--tp-size",
    ]
    assert engine_lists.sglang_metrics(tmp_path) == {
        "sglang:num_queue_reqs": {},
        "sglang:num_requests_total": {},
        "sglang:time_to_first_token_seconds_bucket": {},
        "sglang:time_to_first_token_seconds_count": {},
        "sglang:time_to_first_token_seconds_sum": {},
    }
