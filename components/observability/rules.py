"""Recording and alerting rules, from the spec and the serving plans.

Every model gets its own rule groups with its SLO, prices and sizing baked in at deploy
time, so a threshold in an alert is the number the spec asked for, not a global default.
Alert annotations are plain text for the same reason: they name the model and the
threshold, and `promtool test rules` can compare them exactly. Pure: no Pulumi.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from components import pricing
from components.engines import ENGINES
from components.engines.base import EngineMetrics
from components.observability import metrics as m
from components.spec import Environment, GpuPool, Model, Quality

# Multi-window, multi-burn-rate SLO alerts (Google SRE Workbook, "Alerting on SLOs",
# table 5-8): page on 2% of a 30-day budget spent in 1h or 5% in 6h, ticket on 10% in 3d.
# The short window stops the alert soon after the burn stops.
PAGE_BURNS = ((14.4, "1h", "5m"), (6.0, "6h", "30m"))
TICKET_BURN = (1.0, "3d", "6h")
SLO_WINDOWS = ("5m", "30m", "1h", "6h", "3d")
# The TTFT objective is a p95, so 5% of requests may be slower than it.
TTFT_BUDGET = 0.05
# The cost ceiling when the spec gives none: twice what the plan expects at its traffic.
DEFAULT_COST_CEILING_FACTOR = 2.0

DASHBOARDS = {
    "serving": "llm-serving",
    "cost": "llm-cost",
    "quality": "llm-quality",
    "gpu": "llm-gpu",
}


@dataclass(frozen=True)
class Alert:
    name: str
    severity: str
    expr: str
    for_: str
    summary: str
    description: str
    dashboard: str
    labels: dict[str, str] = field(default_factory=dict)


def _num(x: float) -> str:
    return f"{x:.6g}"


def _record(name: str, expr: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"record": name, "expr": expr, "labels": dict(labels)}


def cost_ceiling(env: Environment, model: Model) -> float | None:
    """USD per 1,000 conversations above which the cost alert fires."""
    if model.slo.max_usd_per_1k_conversations is not None:
        return model.slo.max_usd_per_1k_conversations
    plan = env.plans[model.name]
    rate = pricing.gpu_hour_usd(env.spec, model.pool)
    t = model.traffic
    planned = pricing.model_economics(
        monthly_usd=plan.gpus_min * rate * pricing.HOURS_PER_MONTH,
        gpu_hours=plan.gpus_min * pricing.HOURS_PER_MONTH,
        conversations_per_day=t.conversations_per_day,
        turns_per_conversation=t.turns_per_conversation,
        prompt_tokens_per_turn=t.prompt_tokens_per_turn,
        completion_tokens_per_turn=t.completion_tokens_per_turn,
        hosted=None,
    ).usd_per_1k_conversations
    return None if planned is None else round(planned * DEFAULT_COST_CEILING_FACTOR, 4)


_CRON_EVERY_N_MIN = re.compile(r"^\*/([0-9]+) \* \* \* \*$")


def quality_stale_after_s(schedule: str) -> int:
    """Three missed runs, or three hours when the schedule is not every-N-minutes."""
    match = _CRON_EVERY_N_MIN.match(" ".join(schedule.split()))
    return 3 * 60 * int(match.group(1)) if match else 3 * 3600


class RuleBuilder:
    def __init__(self, env: Environment):
        self.env = env
        self.spec = env.spec
        self.obs = env.spec.observability
        self.ns = env.spec.namespace

    # -- annotations ---------------------------------------------------------------------
    def _rule(self, alert: Alert) -> dict[str, Any]:
        uid = DASHBOARDS[alert.dashboard]
        query = f"var-namespace={self.ns}"
        if "model" in alert.labels:
            query += f"&var-model={alert.labels['model']}"
        return {
            "alert": alert.name,
            "expr": alert.expr,
            "for": alert.for_,
            "labels": {
                "severity": alert.severity,
                "environment": self.spec.environment,
                "namespace": self.ns,
                **alert.labels,
            },
            "annotations": {
                "summary": alert.summary,
                "description": alert.description,
                "runbook_url": f"{self.obs.runbook_base_url}/{alert.name}.md",
                "dashboard_url": f"{self.obs.grafana_url}/d/{uid}?{query}",
            },
        }

    # -- per model -----------------------------------------------------------------------
    def model_groups(self, model: Model) -> list[dict[str, Any]]:
        sel = m.Selector(self.ns, model.name)
        series = ENGINES[model.engine.kind].metrics(sel)
        ids = {"namespace": self.ns, "model": model.name}
        recorded = series.series()
        rec = [_record(n, recorded[n], ids) for n in m.ENGINE_SERIES_HEAD if n in recorded]
        rec += self._revision_records(model, series, ids)
        rec += self._resource_records(model, ids)
        rec += self._tail_records(model, recorded, ids)
        bound = m.ttft_bucket(model.slo.ttft_p95_ms, series.ttft_buckets_ms)
        slo: list[dict[str, Any]] = []
        for w in SLO_WINDOWS:
            slo.append(_record(f"llm:slo_errors:ratio_rate{w}", series.error_ratio(w), ids))
            if bound is not None:
                slo.append(
                    _record(
                        f"llm:slo_ttft_slow:ratio_rate{w}", series.slow_ttft_ratio(w, bound), ids
                    )
                )
        alerts = self._model_alerts(model, set(recorded), bound)
        name = f"llm-{model.name}"
        return [
            {"name": f"{name}.recording", "rules": rec},
            {"name": f"{name}.slo", "rules": slo},
            {"name": f"{name}.alerts", "rules": [self._rule(a) for a in alerts]},
        ]

    def _revision_records(
        self, model: Model, series: EngineMetrics, ids: dict[str, str]
    ) -> list[dict[str, Any]]:
        """Per revision, what the canary and its stable are compared on (the canary
        analysis's own queries are in analysis.py): errors, pods, and the GPU cost of a
        request, the pods' price per second over their requests per second."""
        s = m.Selector(self.ns, model.name).base
        plan = self.env.plans[model.name]
        usd_per_pod_second = (
            pricing.gpu_hour_usd(self.spec, model.pool) * plan.tensor_parallel / 3600
        )
        return [
            _record(
                "llm:errors:ratio_rate5m", series.error_ratio("5m", by=m.BY_REVISION), ids
            ),
            # Every model-server pod is a scrape target, ready or not, and is paid for.
            _record("llm:pods", f"count by ({m.BY_REVISION}) (up{{{s}}})", ids),
            _record(
                "llm:usd_per_request:rate5m",
                f"llm:pods{{{s}}} * {_num(usd_per_pod_second)} / "
                f"(llm:requests:rate5m{{{s}}} > 0)",
                ids,
            ),
        ]

    def _replicas(self, model: Model) -> tuple[str, str]:
        """Available and paid-for replicas: kube-state-metrics' for a Deployment, the Argo
        Rollouts controller's for a Rollout (both ReplicaSets: its status.replicas is
        available + unavailable, rollouts.go collectRollouts, v1.9.0). `max`: every
        controller replica may report the same Rollout."""
        if model.rollout is None:
            deployment = f'namespace="{self.ns}",deployment="{model.name}"'
            return (
                f"sum(kube_deployment_status_replicas_available{{{deployment}}})",
                f"sum(kube_deployment_spec_replicas{{{deployment}}})",
            )
        rollout = f'exported_namespace="{self.ns}",name="{model.name}"'
        available = f"max({m.ROLLOUT_REPLICAS_AVAILABLE}{{{rollout}}})"
        return available, f"({available} + max({m.ROLLOUT_REPLICAS_UNAVAILABLE}{{{rollout}}}))"

    def _resource_records(self, model: Model, ids: dict[str, str]) -> list[dict[str, Any]]:
        """GPU use, replicas and cost: from DCGM and kube-state-metrics (or the Argo
        Rollouts controller), whatever the engine."""
        plan = self.env.plans[model.name]
        s = m.Selector(self.ns, model.name).base
        pods = f'namespace="{self.ns}",pod=~"{m.pod_regex(model.name)}"'
        used, free = f"sum({m.DCGM_FB_USED}{{{pods}}})", f"sum({m.DCGM_FB_FREE}{{{pods}}})"
        available, paid = self._replicas(model)
        return [
            _record("llm:gpu_utilization:ratio", f"avg({m.DCGM_UTIL}{{{pods}}}) / 100", ids),
            _record("llm:gpu_memory_used:ratio", f"{used} / ({used} + {free})", ids),
            _record("llm:replicas", available, ids),
            _record(
                "llm:gpus_allocated",
                f"{paid} * {plan.tensor_parallel}",
                {**ids, "pool": model.pool},
            ),
            _record(
                "llm:cost_usd_per_hour",
                f"llm:gpus_allocated{{{s}}} * on (pool) group_left () llm:gpu_price_usd_per_hour",
                ids,
            ),
            _record(
                "llm:conversations:rate1h",
                f"sum without ({m.BY_REVISION}) (llm:requests:rate1h{{{s}}}) / "
                f"{_num(model.traffic.turns_per_conversation)}",
                ids,
            ),
            _record(
                "llm:usd_per_1k_conversations",
                f"llm:cost_usd_per_hour{{{s}}} / on (namespace, model) "
                f"(llm:conversations:rate1h{{{s}}} * 3600 > 0) * 1000",
                ids,
            ),
        ]

    def _tail_records(
        self, model: Model, recorded: dict[str, str], ids: dict[str, str]
    ) -> list[dict[str, Any]]:
        """Cache and length records, then the quality monitor's. An engine that counts no
        output tokens gets its mean length from the quality monitor's samples instead."""
        s = m.Selector(self.ns, model.name).base
        if self.obs.quality is not None and "llm:output_tokens:mean1h" not in recorded:
            pushed = f"{m.Q_OUTPUT_TOKENS_MEAN}{{{s}}}"
            recorded = {
                **recorded,
                "llm:output_tokens:mean1h": f"max(avg_over_time({pushed}[1h]))",
                "llm:output_tokens:mean7d": f"max(avg_over_time({pushed}[7d] offset 1h))",
            }
        rec = [_record(n, recorded[n], ids) for n in m.ENGINE_SERIES_TAIL if n in recorded]
        rec.append(
            _record(
                "llm:output_length_drift:ratio",
                f"llm:output_tokens:mean1h{{{s}}} / llm:output_tokens:mean7d{{{s}}}",
                ids,
            )
        )
        if self.obs.quality is None:
            return rec
        return rec + [
            _record("llm:refusal:ratio", f"max({m.Q_REFUSAL_RATIO}{{{s}}})", ids),
            _record(
                "llm:refusal:ratio_baseline7d",
                f"avg_over_time(llm:refusal:ratio{{{s}}}[7d] offset 1h)",
                ids,
            ),
            _record("llm:input_drift:mmd2", f"max({m.Q_INPUT_MMD2}{{{s}}})", ids),
        ]

    def _burn_alerts(
        self, model: Model, prefix: str, name: str, budget: float, what: str, objective: str
    ) -> list[Alert]:
        s = m.Selector(self.ns, model.name).base
        labels = {"model": model.name, "slo": name}

        def over(factor: float, window: str) -> str:
            return f"{prefix}{window}{{{s}}} > {_num(factor * budget)}"

        page = " or ".join(f"({over(f, lw)} and {over(f, sw)})" for f, lw, sw in PAGE_BURNS)
        factor, lw, sw = TICKET_BURN
        title = "Error" if name == "availability" else "TTFT"
        return [
            Alert(
                name=f"Model{title}BudgetBurn",
                severity="critical",
                expr=page,
                for_="2m",
                summary=f"{model.name}: {what} is burning the {objective} SLO budget fast",
                description=(
                    f"{model.name} in {self.ns}: the {what} ratio is over 14.4x the budget "
                    f"({_num(budget)}) in the last 1h and 5m, or over 6x in the last 6h and "
                    f"30m. At this rate a 30-day budget is gone in days."
                ),
                dashboard="serving",
                labels=labels,
            ),
            Alert(
                name=f"Model{title}BudgetBurnSlow",
                severity="warning",
                expr=f"{over(factor, lw)} and {over(factor, sw)}",
                for_="30m",
                summary=f"{model.name}: {what} is spending the {objective} SLO budget steadily",
                description=(
                    f"{model.name} in {self.ns}: the {what} ratio has been above the budget "
                    f"({_num(budget)}) over the last 3d and 6h; the SLO will be missed if it "
                    "goes on."
                ),
                dashboard="serving",
                labels=labels,
            ),
        ]

    def _model_alerts(
        self, model: Model, recorded: set[str], bound: float | None
    ) -> list[Alert]:
        """SLO burn, serving, waste and cost alerts, and the quality monitor's."""
        out = self._burn_alerts(
            model,
            "llm:slo_errors:ratio_rate",
            "availability",
            1 - model.slo.availability,
            "server error",
            f"{_num(model.slo.availability * 100)}% availability",
        )
        if bound is not None:
            out += self._burn_alerts(
                model,
                "llm:slo_ttft_slow:ratio_rate",
                "ttft",
                TTFT_BUDGET,
                f"time-to-first-token over {_num(bound)} ms",
                f"TTFT p95 {_num(model.slo.ttft_p95_ms)} ms",
            )
        out += self._serving_alerts(model, recorded)
        out += self._lifecycle_alerts(model)
        out += self._cost_alerts(model)
        if (quality := self.obs.quality) is not None:
            out += self._quality_alerts(model, quality)
        return out

    def _serving_alerts(self, model: Model, recorded: set[str]) -> list[Alert]:
        plan = self.env.plans[model.name]
        th = self.obs.thresholds
        s = m.Selector(self.ns, model.name).base
        mine = {"model": model.name}
        out = [
            Alert(
                name="ModelDown",
                severity="critical",
                expr=f"llm:replicas{{{s}}} == 0 or absent(llm:replicas{{{s}}})",
                for_="5m",
                summary=f"{model.name} has no ready replica",
                description=(
                    f"Deployment {self.ns}/{model.name} has had no available replica for 5 "
                    "minutes (or its state is not reported); every request to it fails."
                ),
                dashboard="serving",
                labels=mine,
            ),
            Alert(
                name="ModelQueueSaturated",
                severity="critical",
                expr=(
                    f"sum without ({m.BY_REVISION}) (llm:requests_waiting{{{s}}}) / "
                    f"llm:replicas{{{s}}} > {plan.max_num_seqs} "
                    f"and llm:replicas{{{s}}} >= {plan.replicas_max}"
                ),
                for_="10m",
                summary=f"{model.name} is scaled out to its maximum and still queueing",
                description=(
                    f"{model.name} runs its maximum {plan.replicas_max} replica(s) and each "
                    f"has more than a full batch ({plan.max_num_seqs} sequences) waiting; "
                    "requests wait at least one batch before their first token."
                ),
                dashboard="serving",
                labels=mine,
            ),
            Alert(
                name="ModelKVCacheNearFull",
                severity="warning",
                expr=(
                    f"max without ({m.BY_REVISION}) (llm:kv_cache_usage:ratio{{{s}}}) > "
                    f"{_num(th.kv_cache_full_pct / 100)}"
                ),
                for_="15m",
                summary=f"{model.name}: KV cache above {_num(th.kv_cache_full_pct)}%",
                description=(
                    f"The busiest {model.name} replica has used over "
                    f"{_num(th.kv_cache_full_pct)}% of its KV cache for 15 minutes; new "
                    "sequences wait or preempt running ones."
                ),
                dashboard="serving",
                labels=mine,
            ),
        ]
        if "llm:preemptions:rate5m" in recorded:
            out.append(self._preemption_alert(model))
        return out

    def _lifecycle_alerts(self, model: Model) -> list[Alert]:
        """The pinned revision's proof and promotion: a copy that fails verification pages
        (the pod never starts, so the model loses capacity); a gate that failed or a
        rollout Argo aborted tickets (users stay on the stable revision; a person decides
        what ships next). Each reads the pinned revision only, so a Pushgateway group left
        by an older revision cannot keep an alert firing."""
        out = [self._artifact_alert(model)] if self.spec.has_artifact_store else []
        if model.rollout is None:
            return out
        return out + self._rollout_alerts(model)

    def _artifact_alert(self, model: Model) -> Alert:
        rev = model.revision
        verify = f'namespace="{self.ns}",job="{m.VERIFY_JOB}",model="{model.name}"'
        return Alert(
            name="ModelArtifactInvalid",
            severity="critical",
            expr=f'max({m.ARTIFACT_INVALID}{{{verify},revision="{rev}"}}) > 0',
            for_="1m",
            summary=f"{model.name}: the weights of revision {rev} fail verification",
            description=(
                f"The verify-weights init container of {model.name} found the copy "
                f"of revision {rev} in the artifact store unsigned, altered or "
                "incomplete; its pods do not start the engine. The container's log "
                "line names the file."
            ),
            dashboard="serving",
            labels={"model": model.name},
        )

    def _rollout_alerts(self, model: Model) -> list[Alert]:
        mine, rev = {"model": model.name}, model.revision
        rollout = f'exported_namespace="{self.ns}",name="{model.name}"'
        gate = f'namespace="{self.ns}",job="{m.EVAL_GATE_JOB}",model="{model.name}"'
        return [
            Alert(
                name="ModelRolloutAborted",
                severity="warning",
                expr=(
                    f'max({m.ROLLOUT_INFO}{{{rollout},phase="{m.ROLLOUT_ABORT_PHASE}"}}) > 0'
                ),
                for_="1m",
                summary=f"{model.name}: the rollout of revision {rev} was aborted",
                description=(
                    f"Argo Rollouts aborted the rollout of {model.name} revision {rev}: an "
                    "analysis failed (eval gate, shadow, or canary against stable) or it "
                    "was aborted by hand. Traffic is back on the stable revision; the stack "
                    "still pins the aborted one."
                ),
                dashboard="serving",
                labels=mine,
            ),
            Alert(
                name="ModelEvalGateFailed",
                severity="warning",
                expr=f'min({m.EVAL_GATE_PASSED}{{{gate},revision="{rev}"}}) == 0',
                for_="1m",
                summary=f"{model.name}: revision {rev} failed its eval gate",
                description=(
                    f"The golden set scored revision {rev} of {model.name} under "
                    f"min_score {_num(model.eval.min_score)} or more than "
                    f"{_num(model.eval.max_regression)} below the incumbent; it gets no "
                    "traffic. The gate's report is in evals/" + model.name + "/reports/."
                ),
                dashboard="quality",
                labels=mine,
            ),
        ]

    def _preemption_alert(self, model: Model) -> Alert:
        th = self.obs.thresholds
        s = m.Selector(self.ns, model.name).base
        return Alert(
            name="ModelPreemptions",
            severity="warning",
            expr=(
                f"sum without ({m.BY_REVISION}) (llm:preemptions:rate5m{{{s}}}) * 60 > "
                f"{_num(th.preemptions_per_minute)}"
            ),
            for_="15m",
            summary=f"{model.name} is preempting sequences",
            description=(
                f"{model.name} preempts more than {_num(th.preemptions_per_minute)} "
                "sequence(s) a minute: the KV cache cannot hold the running batch, "
                "so work is recomputed and latency grows."
            ),
            dashboard="serving",
            labels={"model": model.name},
        )

    def _cost_alerts(self, model: Model) -> list[Alert]:
        th = self.obs.thresholds
        s = m.Selector(self.ns, model.name).base
        mine = {"model": model.name}
        out = [
            Alert(
                name="GPUIdleWaste",
                severity="warning",
                expr=(
                    f"llm:gpu_utilization:ratio{{{s}}} < {_num(th.gpu_idle_util_pct / 100)} "
                    f"and on (namespace, model) llm:cost_usd_per_hour{{{s}}} > 0"
                ),
                for_="3h",
                summary=f"{model.name}: paid-for GPUs idle",
                description=(
                    f"The GPUs of {model.name} averaged under {_num(th.gpu_idle_util_pct)}% "
                    "utilisation for 3 hours while they are paid for; lower the minimum "
                    "replicas or move the model to a smaller GPU."
                ),
                dashboard="gpu",
                labels=mine,
            )
        ]
        ceiling = cost_ceiling(self.env, model)
        if ceiling is not None:
            out.append(
                Alert(
                    name="CostPer1kConversationsHigh",
                    severity="warning",
                    expr=f"llm:usd_per_1k_conversations{{{s}}} > {_num(ceiling)}",
                    for_="1h",
                    summary=f"{model.name}: cost per 1,000 conversations above ${_num(ceiling)}",
                    description=(
                        f"{model.name} has cost more than ${_num(ceiling)} per 1,000 "
                        "conversations for an hour (GPU cost per hour over live conversation "
                        "rate, at deploy-time prices)."
                    ),
                    dashboard="cost",
                    labels=mine,
                )
            )
        return out

    def _quality_alerts(self, model: Model, q: Quality) -> list[Alert]:
        s = m.Selector(self.ns, model.name).base
        mine = {"model": model.name}
        return [
            Alert(
                name="RefusalRateSpike",
                severity="critical",
                expr=(
                    f"llm:refusal:ratio{{{s}}} > {_num(q.refusal_rate_floor)} and "
                    f"llm:refusal:ratio{{{s}}} > {_num(q.refusal_spike_factor)} * "
                    f"llm:refusal:ratio_baseline7d{{{s}}}"
                ),
                for_="15m",
                summary=f"{model.name} is refusing far more requests than usual",
                description=(
                    f"The sampled refusal rate of {model.name} is above "
                    f"{_num(q.refusal_rate_floor * 100)}% and {_num(q.refusal_spike_factor)}x "
                    "its 7-day baseline; users are being turned away."
                ),
                dashboard="quality",
                labels=mine,
            ),
            Alert(
                name="InputDrift",
                severity="warning",
                expr=f"llm:input_drift:mmd2{{{s}}} > {_num(q.input_drift_threshold)}",
                for_="30m",
                summary=f"{model.name}: prompts have drifted from the reference",
                description=(
                    f"The MMD^2 between recent {model.name} prompt embeddings and the "
                    f"reference corpus is above {_num(q.input_drift_threshold)}; see "
                    "runbooks/retraining-policy.md."
                ),
                dashboard="quality",
                labels=mine,
            ),
        ] + self._quality_output_alerts(model, q)

    def _quality_output_alerts(self, model: Model, q: Quality) -> list[Alert]:
        s = m.Selector(self.ns, model.name).base
        mine = {"model": model.name}
        stale = quality_stale_after_s(q.schedule)
        return [
            Alert(
                name="OutputLengthDrift",
                severity="warning",
                expr=(
                    f"abs(llm:output_length_drift:ratio{{{s}}} - 1) > "
                    f"{_num(q.output_length_drift_pct / 100)}"
                ),
                for_="1h",
                summary=f"{model.name}: answer length moved from its 7-day baseline",
                description=(
                    f"The mean completion length of {model.name} over the last hour differs "
                    f"from the 7-day mean by more than {_num(q.output_length_drift_pct)}%."
                ),
                dashboard="quality",
                labels=mine,
            ),
            Alert(
                name="QualityMonitorStale",
                severity="warning",
                expr=(
                    f"time() - max({m.Q_LAST_RUN}{{{s}}}) > {stale} "
                    f"or absent({m.Q_LAST_RUN}{{{s}}})"
                ),
                for_="30m",
                summary=f"{model.name}: the quality monitor has not reported",
                description=(
                    f"No quality-monitor result for {model.name} in {stale // 60} minutes; "
                    "refusal and drift alerts are blind until it runs again."
                ),
                dashboard="quality",
                labels=mine,
            ),
        ]

    # -- environment -----------------------------------------------------------------------
    def platform_groups(self) -> list[dict[str, Any]]:
        # Deploy-time constants get a group of their own: the model groups read the prices
        # and this environment's cost group reads the model groups, and keeping the chain
        # acyclic means a fresh evaluation never reads a value from two steps back.
        prices = self._price_records()
        rec = self._cost_records()
        alerts = self._platform_alerts()
        name = f"llm-{self.spec.environment}"
        training = self._training_records()
        return [
            {"name": f"{name}.prices", "rules": prices},
            *([{"name": f"{name}.training", "rules": training}] if training else []),
            {"name": f"{name}.cost", "rules": rec},
            {"name": f"{name}.alerts", "rules": [self._rule(a) for a in alerts]},
        ]

    def _price_records(self) -> list[dict[str, Any]]:
        env_labels = {"namespace": self.ns}
        prices = [
            _record(
                "llm:gpu_price_usd_per_hour",
                f"vector({_num(pricing.gpu_hour_usd(self.spec, p.name))})",
                {"pool": p.name},
            )
            for p in self.spec.gpu_pools
        ]
        # What a spot pool's GPU-hour would cost on demand: spot savings are measured
        # against it (llm:training_spot_savings_usd_per_hour).
        prices += [
            _record(
                "llm:gpu_on_demand_price_usd_per_hour",
                f"vector({_num(pricing.gpu_hour_usd(self.spec, p.name, on_demand=True))})",
                {"pool": p.name},
            )
            for p in self._spot_pools()
        ]
        prices.append(
            _record(
                "llm:budget_usd_per_month",
                f"vector({_num(self.spec.budget.monthly_usd)})",
                env_labels,
            )
        )
        return prices

    def _spot_pools(self) -> list[GpuPool]:
        return [p for p in self.spec.gpu_pools if p.instance_type and p.capacity == "spot"]

    def _training_records(self) -> list[dict[str, Any]]:
        """Per training job on a spot pool: the GPUs its pods hold now (DCGM's per-GPU
        series attributed to the pod; 0 when none runs), and what those GPU-hours save
        against the pool's on-demand rate: the seeds' spot savings tracking, live."""
        spot = {p.name for p in self._spot_pools()}
        out = []
        for job in self.spec.training.jobs:
            if job.pool not in spot:
                continue
            ids = {"namespace": self.ns, "job": job.name, "pool": job.pool}
            # Its Job is train-<job>-<run id> (12 hex); a JobSet's and a CronJob's pods
            # add their own suffixes after it (components/training/contract.py).
            pods = (f'namespace="{self.ns}",'
                    f'pod=~"{m.TRAINING_JOB_PREFIX}{job.name}-[0-9a-f]{{12}}-.+"')
            mine = f'namespace="{self.ns}",job="{job.name}"'
            out += [
                _record("llm:training_gpus", f"count({m.DCGM_UTIL}{{{pods}}}) or vector(0)", ids),
                _record(
                    "llm:training_spot_savings_usd_per_hour",
                    f"llm:training_gpus{{{mine}}} * on (pool) group_left () "
                    "(llm:gpu_on_demand_price_usd_per_hour - llm:gpu_price_usd_per_hour)",
                    ids,
                ),
            ]
        return out

    def _cost_records(self) -> list[dict[str, Any]]:
        env_labels = {"namespace": self.ns}
        return [
            _record(
                "llm:cost_usd_per_hour:sum",
                f'sum(llm:cost_usd_per_hour{{namespace="{self.ns}"}})',
                env_labels,
            ),
            # A month at the last day's average rate: the spend the budget will see.
            _record(
                "llm:spend_usd:projected_month",
                f'avg_over_time(llm:cost_usd_per_hour:sum{{namespace="{self.ns}"}}[1d])'
                " * 24 * scalar(days_in_month())",
                env_labels,
            ),
            _record(
                "llm:spend_usd:month_to_date",
                f'avg_over_time(llm:cost_usd_per_hour:sum{{namespace="{self.ns}"}}[1d])'
                " * scalar(24 * (day_of_month() - 1) + hour())",
                env_labels,
            ),
            _record(
                "llm:budget_used:ratio_projected",
                f'llm:spend_usd:projected_month{{namespace="{self.ns}"}} / on (namespace) '
                f'llm:budget_usd_per_month{{namespace="{self.ns}"}}',
                env_labels,
            ),
        ]

    def _platform_alerts(self) -> list[Alert]:
        th = self.obs.thresholds
        return [
            Alert(
                name="ProjectedSpendOverBudget",
                severity="warning",
                expr=f'llm:budget_used:ratio_projected{{namespace="{self.ns}"}} > 1',
                for_="1h",
                summary=f"{self.spec.environment}: projected GPU spend is over the budget",
                description=(
                    f"At the last day's rate, GPU spend in {self.ns} this month will exceed "
                    f"the ${_num(self.spec.budget.monthly_usd)} budget."
                ),
                dashboard="cost",
            ),
            Alert(
                name="TrainingJobFailed",
                severity="warning",
                expr=(
                    f'kube_job_failed{{namespace="{self.ns}",'
                    f'job_name=~"{m.TRAINING_JOB_PREFIX}.+",condition="true"}} > 0'
                ),
                for_="1m",
                summary=f"{self.spec.environment}: a training job failed",
                description=(
                    f"A training Job in {self.ns} reached the Failed condition after its "
                    "retries; its job_name label names it."
                ),
                dashboard="gpu",
            ),
            Alert(
                name="SpotInterruptionsHigh",
                severity="warning",
                expr=(
                    f"sum by (pool) (increase({m.SPOT_INTERRUPTIONS}"
                    f'{{namespace="{self.ns}"}}[1h])) > {th.spot_interruptions_per_hour}'
                ),
                for_="5m",
                summary=f"{self.spec.environment}: spot capacity is being reclaimed often",
                description=(
                    "Training jobs were interrupted more than "
                    f"{th.spot_interruptions_per_hour} times in the last hour in one pool; "
                    "checkpoints may not keep up."
                ),
                dashboard="gpu",
            ),
            self._retraining_alert(),
        ]

    def _retraining_alert(self) -> Alert:
        """A retraining trigger whose action is `ticket` found the written policy holding
        (runbooks/retraining-policy.md): it pushes one series per condition and episode, so
        the alert fires once per condition and resolves when the trigger drops it."""
        due = f'namespace="{self.ns}",job="{m.RETRAIN_TRIGGER_JOB}",action="ticket"'
        return Alert(
            name="RetrainingDue",
            severity="warning",
            expr=f"max by (training_job, model, reason) ({m.RETRAINING_DUE}{{{due}}}) > 0",
            for_="1m",
            summary=f"{self.spec.environment}: a model is due for retraining",
            description=(
                f"The retraining trigger of a training job in {self.ns} (its training_job "
                "label) found the retraining policy holding for a model (its model label): "
                "reason drift (input drift over the threshold on enough days of the window) "
                "or eval (the serving revision's eval score under the floor). The trigger "
                "CronJob's log line gives the figures; see runbooks/retraining-policy.md."
            ),
            dashboard="quality",
            # Its model label comes from the series, so the dashboard link cannot name it
            # (as with the gateway's alerts); and with a component of its own, a page on the
            # model (ModelDown: same namespace and model, no component) does not inhibit it.
            labels={"component": "retraining-trigger"},
        )


# The gateway's alert thresholds. Fixed, not spec fields: each is a share of a limit the
# spec already states (a team's budget, a model's traffic), so one number fits every
# environment. runbooks/<Alert>.md explains each and how to act on it.
GATEWAY_DOWN_FOR = "5m"
TEAM_BUDGET_USED_RATIO = 0.9
FALLBACK_RATIO_HIGH = 0.2
RATE_LIMITED_RATIO = 0.1
# A handful of 429s from a quiet team is a 100% ratio and still no spike.
RATE_LIMITED_MIN_PER_MINUTE = 1
# Budget and ceiling refusals have alerts of their own (TeamBudgetNearlyExhausted keeps
# firing past 100%, CostCeilingReached pages); the spike is about traffic limits.
SPIKE_LIMITS_EXCLUDED = "budget|ceiling"


class GatewayRuleBuilder(RuleBuilder):
    """The gateway's records and alerts, from the series its runtime exports (issue 16,
    contract 5): per team and model, and for the environment's month against its ceiling."""

    @property
    def _scraped(self) -> str:
        return f'namespace="{self.ns}",job="{m.GATEWAY_JOB}"'

    @property
    def _recorded(self) -> str:
        return f'namespace="{self.ns}"'

    def groups(self) -> list[dict[str, Any]]:
        name = f"llm-{self.spec.environment}.gateway"
        return [
            {"name": f"{name}.recording", "rules": self._traffic_records() + self._ratio_records()},
            {"name": f"{name}.spend", "rules": self._spend_records()},
            {"name": f"{name}.alerts", "rules": [self._rule(a) for a in self._alerts()]},
        ]

    def _rate(self, metric: str, window: str, by: str, extra: str = "") -> str:
        return m.sum_rate(metric, self._scraped + extra, window, by=by)

    def _traffic_records(self) -> list[dict[str, Any]]:
        ids = {"namespace": self.ns}
        return [
            _record(
                "llm:gateway_requests:rate5m",
                self._rate(m.GW_REQUESTS, "5m", "team, model, served_by, code"),
                ids,
            ),
            _record(
                "llm:gateway_tokens:rate5m",
                self._rate(m.GW_TOKENS, "5m", "team, model, served_by, direction"),
                ids,
            ),
            _record(
                "llm:gateway_spend_usd_per_hour",
                f"{self._rate(m.GW_SPEND, '1h', 'team, model, served_by')} * 3600",
                ids,
            ),
            _record(
                "llm:gateway_rate_limited:rate5m",
                self._rate(m.GW_RATE_LIMITED, "5m", "team, model, limit"),
                ids,
            ),
        ]

    def _share(self, part: str, window: str, by: str, whole_filter: str = "") -> str:
        """`part`'s rate over the requests' rate of the same team and model; no value
        where there were no requests, rather than a division by zero."""
        whole = self._rate(m.GW_REQUESTS, window, "team, model", whole_filter)
        return (
            f"{self._rate(part, window, by)} / on (team, model) group_left () ({whole} > 0)"
        )

    def _ratio_records(self) -> list[dict[str, Any]]:
        ids = {"namespace": self.ns}
        fallbacks = self._rate(m.GW_FALLBACKS, "15m", "model")
        return [
            _record(
                "llm:gateway_rate_limited:ratio_rate5m",
                self._share(m.GW_RATE_LIMITED, "5m", "team, model, limit"),
                ids,
            ),
            _record(
                "llm:gateway_fallbacks:ratio_rate15m",
                self._share(m.GW_FALLBACKS, "15m", "team, model, reason"),
                ids,
            ),
            _record(
                "llm:gateway_model_fallbacks:ratio_rate15m",
                f"{fallbacks} / ({self._rate(m.GW_REQUESTS, '15m', 'model')} > 0)",
                ids,
            ),
            # Refusals are counted on answered requests only: a 429 has no answer to refuse.
            _record(
                "llm:gateway_refusals:ratio_rate15m",
                self._share(m.GW_REFUSALS, "15m", "team, model", ',code=~"2.."'),
                ids,
            ),
        ] + self._shadow_records()

    def _shadow_records(self) -> list[dict[str, Any]]:
        """A rollout's shadow phase, per model and candidate revision: the candidate's and
        the incumbent's refusals over the pairs scored, and the mean score."""
        ids = {"namespace": self.ns}
        scored = self._rate(m.GW_SHADOW_SCORE_COUNT, "15m", "model, revision")
        return [
            _record(
                "llm:gateway_shadow_refusals:ratio_rate15m",
                f"{self._rate(m.GW_SHADOW_REFUSALS, '15m', 'model, revision, role')} / "
                f"on (model, revision) group_left () ({scored} > 0)",
                ids,
            ),
            _record(
                "llm:gateway_shadow_score:mean_rate15m",
                f"{self._rate(m.GW_SHADOW_SCORE_SUM, '15m', 'model, revision')} / "
                f"({scored} > 0)",
                ids,
            ),
        ]

    def _spend_records(self) -> list[dict[str, Any]]:
        ids = {"namespace": self.ns}
        sel = self._scraped
        budget = f"max by (team) ({m.GW_TEAM_BUDGET}{{{sel}}})"
        spent = f"max by (team) ({m.GW_TEAM_SPEND}{{{sel}}})"
        return [
            _record("llm:gateway_team_budget_remaining_usd", f"{budget} - {spent}", ids),
            _record("llm:gateway_team_budget_used:ratio", f"{spent} / ({budget} > 0)", ids),
            _record("llm:gateway_spend_month_usd", f"max({m.GW_SPEND_MONTH}{{{sel}}})", ids),
            _record("llm:gateway_ceiling_usd", f"max({m.GW_CEILING}{{{sel}}})", ids),
            _record(
                "llm:gateway_ceiling_used:ratio",
                f"max({m.GW_SPEND_MONTH}{{{sel}}}) / (max({m.GW_CEILING}{{{sel}}}) > 0)",
                ids,
            ),
        ]

    def _alerts(self) -> list[Alert]:
        env, ns, rec, up = self.spec.environment, self.ns, self._recorded, self._scraped
        mine = {"component": "gateway"}
        return [
            Alert(
                name="GatewayDown",
                severity="critical",
                # `or vector(0)`: no target at all is down too, with the same (no) labels
                expr=f"(sum(up{{{up}}}) or vector(0)) == 0",
                for_=GATEWAY_DOWN_FOR,
                summary=f"{env}: the LLM gateway is down",
                description=(
                    f"No {m.GATEWAY_JOB} pod in {ns} has answered a Prometheus scrape for "
                    f"{GATEWAY_DOWN_FOR} (or none is a target); every client request to the "
                    "gateway fails."
                ),
                dashboard="cost",
                labels=mine,
            ),
            Alert(
                name="CostCeilingReached",
                severity="critical",
                expr=f"llm:gateway_spend_month_usd{{{rec}}} >= llm:gateway_ceiling_usd{{{rec}}}",
                for_="2m",
                summary=f"{env}: the gateway's monthly cost ceiling is reached",
                description=(
                    f"Spend through the gateway in {ns} this month has reached the "
                    "environment's ceiling; every team now gets 429 budget_exceeded until "
                    "the next UTC month or a raised ceiling."
                ),
                dashboard="cost",
                labels=mine,
            ),
        ] + self._ticket_alerts()

    def _ticket_alerts(self) -> list[Alert]:
        env, ns, rec = self.spec.environment, self.ns, self._recorded
        mine = {"component": "gateway"}
        used, fb, rl = TEAM_BUDGET_USED_RATIO, FALLBACK_RATIO_HIGH, RATE_LIMITED_RATIO
        spike = f'{rec},limit!~"{SPIKE_LIMITS_EXCLUDED}"'
        return [
            Alert(
                name="TeamBudgetNearlyExhausted",
                severity="warning",
                expr=f"llm:gateway_team_budget_used:ratio{{{rec}}} > {_num(used)}",
                for_="5m",
                summary=f"{env}: a team has spent over {_num(used * 100)}% of its budget",
                description=(
                    f"A team of the gateway in {ns} (its team label) has spent more than "
                    f"{_num(used * 100)}% of its monthly budget; at 100% its requests get "
                    "429 budget_exceeded until the next UTC month."
                ),
                dashboard="cost",
                labels=mine,
            ),
            Alert(
                name="FallbackRateHigh",
                severity="warning",
                expr=f"llm:gateway_model_fallbacks:ratio_rate15m{{{rec}}} > {_num(fb)}",
                for_="15m",
                summary=f"{env}: over {_num(fb * 100)}% of a model's requests fall back",
                description=(
                    f"More than {_num(fb * 100)}% of the requests to a model in {ns} (its "
                    "model label) went to its hosted fallback over 15 minutes, for 15 "
                    "minutes: the self-hosted servers are full, failing or slow, and hosted "
                    "tokens cost more."
                ),
                dashboard="cost",
                labels=mine,
            ),
            Alert(
                name="RateLimitedSpike",
                severity="warning",
                expr=(
                    f"llm:gateway_rate_limited:ratio_rate5m{{{spike}}} > {_num(rl)} and "
                    f"llm:gateway_rate_limited:rate5m{{{spike}}} * 60 >= "
                    f"{_num(RATE_LIMITED_MIN_PER_MINUTE)}"
                ),
                for_="10m",
                summary=f"{env}: a team is being rate-limited",
                description=(
                    f"Over {_num(rl * 100)}% of a team's requests to a model in {ns}, and at "
                    f"least {_num(RATE_LIMITED_MIN_PER_MINUTE)} a minute, got 429 from one "
                    "limit (its limit label: rpm, tpm, parallel or capacity) for 10 minutes."
                ),
                dashboard="cost",
                labels=mine,
            ),
        ]


def prometheus_rules(
    env: Environment, gateway: bool = False
) -> dict[str, list[dict[str, Any]]]:
    """PrometheusRule name -> its groups: one for the environment, one per model. With a
    gateway, its groups join the environment's object."""
    builder = RuleBuilder(env)
    out = {"llm-platform": builder.platform_groups()}
    if gateway:
        out["llm-platform"] += GatewayRuleBuilder(env).groups()
    for model in env.spec.models:
        out[f"llm-model-{model.name}"] = builder.model_groups(model)
    return out


def alert_names(groups: dict[str, list[dict[str, Any]]]) -> set[str]:
    return {r["alert"] for gs in groups.values() for g in gs for r in g["rules"] if "alert" in r}
