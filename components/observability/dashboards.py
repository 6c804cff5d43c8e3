"""Grafana dashboards as code: serving, cost, quality and GPU.

Panels query the `llm:*` recording rules where one exists, so a dashboard and an alert
read the same number. Each dashboard has `namespace` and `model` variables; alert
annotations link here with both set. Pure: no Pulumi.
"""

from __future__ import annotations

import json
from typing import Any

from components.observability import metrics as m
from components.observability.rules import DASHBOARDS

# The label the Grafana dashboard sidecar of kube-prometheus-stack watches for.
SIDECAR_LABEL = ("grafana_dashboard", "1")
SEL = 'namespace="$namespace",model=~"$model"'
GPU_PODS = 'namespace="$namespace"'

Panel = tuple[str, str, list[tuple[str, str]]]  # title, unit, [(expr, legend)]


def _quantiles(rule: str) -> list[tuple[str, str]]:
    return [
        (f"{rule}:p{round(q * 100)}{{{SEL}}}", f"{{{{model}}}} p{round(q * 100)}")
        for q in m.QUANTILES
    ]


SERVING: list[Panel] = [
    (
        "Tokens per second",
        "short",
        [
            (f"llm:prompt_tokens:rate5m{{{SEL}}}", "{{model}} prompt"),
            (f"llm:completion_tokens:rate5m{{{SEL}}}", "{{model}} completion"),
        ],
    ),
    ("Requests per second", "reqps", [(f"llm:requests:rate5m{{{SEL}}}", "{{model}}")]),
    ("Time to first token", "s", _quantiles("llm:ttft_seconds")),
    ("Time per output token", "s", _quantiles("llm:tpot_seconds")),
    ("End-to-end latency", "s", _quantiles("llm:e2e_seconds")),
    (
        "Queue",
        "short",
        [
            (f"llm:requests_waiting{{{SEL}}}", "{{model}} waiting"),
            (f"llm:requests_running{{{SEL}}}", "{{model}} running"),
        ],
    ),
    ("KV cache used", "percentunit", [(f"llm:kv_cache_usage:ratio{{{SEL}}}", "{{model}}")]),
    (
        "Prefix cache hit rate",
        "percentunit",
        [(f"llm:prefix_cache_hit:ratio_rate5m{{{SEL}}}", "{{model}}")],
    ),
    ("Ready replicas", "short", [(f"llm:replicas{{{SEL}}}", "{{model}}")]),
    # A canary and its stable, side by side: every series below keeps the revision that
    # served it (the canary analysis compares the same quantities by pod-template hash).
    (
        "Canary vs stable: TTFT p95, by revision",
        "s",
        [(f"llm:ttft_seconds:p95{{{SEL}}}", "{{model}} {{revision}}")],
    ),
    (
        "Canary vs stable: error ratio, by revision",
        "percentunit",
        [(f"llm:errors:ratio_rate5m{{{SEL}}}", "{{model}} {{revision}}")],
    ),
    (
        "Canary vs stable: GPU cost per request, by revision",
        "currencyUSD",
        [(f"llm:usd_per_request:rate5m{{{SEL}}}", "{{model}} {{revision}}")],
    ),
    (
        "Canary vs stable: pods and requests, by revision",
        "short",
        [
            (f"llm:pods{{{SEL}}}", "{{model}} {{revision}} pods"),
            (f"llm:requests:rate5m{{{SEL}}}", "{{model}} {{revision}} req/s"),
        ],
    ),
    (
        "Server error ratio",
        "percentunit",
        [
            (f"llm:slo_errors:ratio_rate5m{{{SEL}}}", "{{model}} 5m"),
            (f"llm:slo_errors:ratio_rate1h{{{SEL}}}", "{{model}} 1h"),
        ],
    ),
    (
        "Requests slower than the TTFT SLO",
        "percentunit",
        [(f"llm:slo_ttft_slow:ratio_rate1h{{{SEL}}}", "{{model}} 1h")],
    ),
]

COST: list[Panel] = [
    ("USD per hour, by model", "currencyUSD", [(f"llm:cost_usd_per_hour{{{SEL}}}", "{{model}}")]),
    (
        "USD per 1,000 conversations",
        "currencyUSD",
        [(f"llm:usd_per_1k_conversations{{{SEL}}}", "{{model}}")],
    ),
    (
        "Projected month vs budget",
        "currencyUSD",
        [
            ('llm:spend_usd:projected_month{namespace="$namespace"}', "projected"),
            ('llm:spend_usd:month_to_date{namespace="$namespace"}', "month to date"),
            ('llm:budget_usd_per_month{namespace="$namespace"}', "budget"),
        ],
    ),
    (
        "Budget burn (projected / budget)",
        "percentunit",
        [('llm:budget_used:ratio_projected{namespace="$namespace"}', "projected use")],
    ),
    ("GPU price per hour, by pool", "currencyUSD", [("llm:gpu_price_usd_per_hour", "{{pool}}")]),
    ("GPUs paid for", "short", [(f"llm:gpus_allocated{{{SEL}}}", "{{model}}")]),
    (
        "Spot savings, training (USD per hour against on demand)",
        "currencyUSD",
        [('llm:training_spot_savings_usd_per_hour{namespace="$namespace"}', "{{job}} on {{pool}}")],
    ),
]

GW = 'namespace="$namespace"'
# The gateway's panels, on the cost dashboard of an environment that has one: spend by
# team and by who served it (self-hosted at our per-token cost, or the hosted fallback at
# its list price), then its traffic, limits, fallbacks and budgets.
GATEWAY_COST: list[Panel] = [
    (
        "Gateway spend per team (USD/h)",
        "currencyUSD",
        [(f"sum by (team) (llm:gateway_spend_usd_per_hour{{{SEL}}})", "{{team}}")],
    ),
    (
        "Gateway spend, self-hosted against fallback (USD/h)",
        "currencyUSD",
        [
            (
                f"sum by (team, served_by) (llm:gateway_spend_usd_per_hour{{{SEL}}})",
                "{{team}} {{served_by}}",
            )
        ],
    ),
    (
        "Gateway requests per second, by team",
        "reqps",
        [(f"sum by (team, model) (llm:gateway_requests:rate5m{{{SEL}}})", "{{team}} {{model}}")],
    ),
    (
        "Gateway tokens per second",
        "short",
        [
            (
                f"sum by (model, direction) (llm:gateway_tokens:rate5m{{{SEL}}})",
                "{{model}} {{direction}}",
            )
        ],
    ),
    (
        "Rate-limited (429) per second, by limit",
        "reqps",
        [
            (
                f"sum by (team, limit) (llm:gateway_rate_limited:rate5m{{{SEL}}})",
                "{{team}} {{limit}}",
            )
        ],
    ),
    (
        "Fallback share of requests, by reason",
        "percentunit",
        [(f"llm:gateway_fallbacks:ratio_rate15m{{{SEL}}}", "{{team}} {{model}} {{reason}}")],
    ),
    (
        "Team budget remaining this month",
        "currencyUSD",
        [(f"llm:gateway_team_budget_remaining_usd{{{GW}}}", "{{team}}")],
    ),
    (
        "Gateway month spend vs ceiling",
        "currencyUSD",
        [
            (f"llm:gateway_spend_month_usd{{{GW}}}", "month to date"),
            (f"llm:gateway_ceiling_usd{{{GW}}}", "ceiling"),
        ],
    ),
]
GATEWAY_QUALITY: list[Panel] = [
    (
        "Refusal rate, every request (gateway, 15m)",
        "percentunit",
        [(f"llm:gateway_refusals:ratio_rate15m{{{SEL}}}", "{{team}} {{model}}")],
    ),
]

QUALITY: list[Panel] = [
    (
        "Refusal rate",
        "percentunit",
        [
            (f"llm:refusal:ratio{{{SEL}}}", "{{model}} sampled"),
            (f"llm:refusal:ratio_baseline7d{{{SEL}}}", "{{model}} 7-day baseline"),
        ],
    ),
    (
        "Input drift (MMD^2 vs reference)",
        "short",
        [(f"llm:input_drift:mmd2{{{SEL}}}", "{{model}}")],
    ),
    ("Input drift p-value", "short", [(f"{m.Q_INPUT_PVALUE}{{{SEL}}}", "{{model}}")]),
    (
        "Output length (mean completion tokens)",
        "short",
        [
            (f"llm:output_tokens:mean1h{{{SEL}}}", "{{model}} 1h"),
            (f"llm:output_tokens:mean7d{{{SEL}}}", "{{model}} 7d"),
        ],
    ),
    (
        "Output length drift",
        "short",
        [
            (f"llm:output_length_drift:ratio{{{SEL}}}", "{{model}} 1h / 7d"),
            (f"{m.Q_OUTPUT_LENGTH_KS}{{{SEL}}}", "{{model}} KS vs reference"),
        ],
    ),
    ("Sample size", "short", [(f"{m.Q_SAMPLE_SIZE}{{{SEL}}}", "{{model}}")]),
    ("Minutes since last check", "m", [(f"(time() - {m.Q_LAST_RUN}{{{SEL}}}) / 60", "{{model}}")]),
]

GPU: list[Panel] = [
    (
        "GPU utilisation, by model",
        "percentunit",
        [(f"llm:gpu_utilization:ratio{{{SEL}}}", "{{model}}")],
    ),
    (
        "GPU memory used, by model",
        "percentunit",
        [(f"llm:gpu_memory_used:ratio{{{SEL}}}", "{{model}}")],
    ),
    (
        "GPU utilisation, by GPU",
        "percent",
        [(f"{m.DCGM_UTIL}{{{GPU_PODS}}}", "{{Hostname}} gpu{{gpu}}")],
    ),
    (
        "Framebuffer used, by GPU",
        "decmbytes",
        [(f"{m.DCGM_FB_USED}{{{GPU_PODS}}}", "{{Hostname}} gpu{{gpu}}")],
    ),
    ("Power", "watt", [(f"DCGM_FI_DEV_POWER_USAGE{{{GPU_PODS}}}", "{{Hostname}} gpu{{gpu}}")]),
    (
        "Temperature",
        "celsius",
        [(f"DCGM_FI_DEV_GPU_TEMP{{{GPU_PODS}}}", "{{Hostname}} gpu{{gpu}}")],
    ),
    (
        "Spot interruptions (1h)",
        "short",
        [
            (
                f'sum by (pool) (increase({m.SPOT_INTERRUPTIONS}{{namespace="$namespace"}}[1h]))',
                "{{pool}}",
            )
        ],
    ),
]

TITLES = {
    "serving": ("LLM serving", SERVING),
    "cost": ("LLM cost", COST),
    "quality": ("LLM quality", QUALITY),
    "gpu": ("LLM GPUs", GPU),
}


def _variables(namespace: str) -> list[dict[str, Any]]:
    def var(name: str, query: str, current: str, include_all: bool) -> dict[str, Any]:
        return {
            "name": name,
            "type": "query",
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "query": {"query": query, "refId": name},
            "refresh": 2,
            "includeAll": include_all,
            "allValue": ".+" if include_all else None,
            "current": {"text": current, "value": current},
        }

    return [
        {"name": "datasource", "type": "datasource", "query": "prometheus"},
        var("namespace", "label_values(llm:requests:rate5m, namespace)", namespace, False),
        var(
            "model",
            'label_values(llm:requests:rate5m{namespace="$namespace"}, model)',
            "$__all",
            True,
        ),
    ]


# Refusals by revision: during a shadow phase the gateway scores the candidate's answers
# against the incumbent's on the same prompts; during traffic steps the refusal comparison
# is the canary analysis's Job (the gateway cannot tell which ReplicaSet answered).
GATEWAY_SERVING: list[Panel] = [
    (
        "Canary vs stable: shadow refusals, candidate and incumbent",
        "percentunit",
        [
            (
                f"llm:gateway_shadow_refusals:ratio_rate15m{{{SEL}}}",
                "{{model}} {{revision}} {{role}}",
            )
        ],
    ),
    (
        "Canary vs stable: shadow score",
        "percentunit",
        [(f"llm:gateway_shadow_score:mean_rate15m{{{SEL}}}", "{{model}} {{revision}}")],
    ),
]
GATEWAY_PANELS = {"serving": GATEWAY_SERVING, "cost": GATEWAY_COST, "quality": GATEWAY_QUALITY}


def dashboard(key: str, namespace: str, gateway: bool = False) -> dict[str, Any]:
    title, panels = TITLES[key]
    if gateway:
        panels = panels + GATEWAY_PANELS.get(key, [])
    out = []
    for i, (panel_title, unit, targets) in enumerate(panels):
        out.append(
            {
                "id": i + 1,
                "type": "timeseries",
                "title": panel_title,
                "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [
                    {"refId": chr(ord("A") + j), "expr": expr, "legendFormat": legend}
                    for j, (expr, legend) in enumerate(targets)
                ],
            }
        )
    return {
        "uid": DASHBOARDS[key],
        "title": title,
        "tags": ["llm-platform"],
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        "templating": {"list": _variables(namespace)},
        "panels": out,
    }


def dashboards(namespace: str, gateway: bool = False) -> dict[str, str]:
    """File name -> dashboard JSON, for the ConfigMaps the Grafana sidecar loads; with a
    gateway, the cost and quality dashboards gain its panels."""
    return {
        f"{DASHBOARDS[key]}.json": json.dumps(
            dashboard(key, namespace, gateway), indent=1, sort_keys=True
        )
        for key in TITLES
    }


def panel_queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) for every target of a dashboard."""
    return [(p["title"], t["expr"]) for p in board["panels"] for t in p["targets"]]
