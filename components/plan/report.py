"""Everything `llm-platform plan` computes from a recorded graph: cost, per-model economics,
and the artefacts under out/<stack>/."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components import pricing, scan
from components.observability import alertmanager
from components.plan import manifests, terraform, training, versions
from components.plan.policy import Analyzer, Resource, Violation, engine_view
from components.plan.runner import Recorded, run_program
from components.spec import Environment


@dataclass(frozen=True)
class PlanResult:
    stack: str
    env: Environment
    records: list[Recorded]
    line_items: list[pricing.LineItem]
    economics: dict[str, pricing.ModelEconomics]
    manifests: dict[str, dict[str, Any]]
    # The gateway's teams, routes and costs (`gateway_section`); None without a gateway.
    gateway: dict[str, Any] | None = None
    # Each model's revision, what it replaces, its signing and its rollout's steps.
    model_versions: list[dict[str, Any]] | None = None
    # Each training job's pool, workers, expected cost and preemption path (plan/training.py).
    training: list[dict[str, Any]] | None = None

    @property
    def monthly_usd(self) -> float:
        return round(sum(i.monthly_usd for i in self.line_items), 2)

    def cost_json(self) -> dict[str, Any]:
        budget = self.env.spec.budget.monthly_usd
        return {
            "stack": self.stack,
            "currency": "USD",
            "hours_per_month": pricing.HOURS_PER_MONTH,
            "monthly_usd": self.monthly_usd,
            "budget_monthly_usd": budget,
            "budget_used_pct": round(100 * self.monthly_usd / budget, 1),
            "resources": [i.to_json() for i in self.line_items],
            "models": {k: v.to_json() for k, v in self.economics.items()},
            **({} if self.gateway is None else {"gateway": self.gateway}),
            # An attribution of the training pools' lines, already in monthly_usd.
            **({"training": [c.to_json() for c in pricing.training_costs(self.env.spec)]}
               if self.env.spec.training.jobs else {}),
        }

    def plan_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stack": self.stack}
        if self.model_versions is not None:
            out["model_versions"] = self.model_versions
        if self.gateway is not None:
            out["gateway"] = {k: v for k, v in self.gateway.items() if k != "costs"}
        if self.training:
            out["training"] = self.training
        return {**out, "resources": [r.to_json() for r in self.records]}


def _shares(env: Environment) -> dict[str, dict[str, float]]:
    """pool -> model -> the model's share of the pool's nodes, by minimum GPUs: a cloud node
    pool is billed whole, so its cost is carried by the models it serves."""
    out: dict[str, dict[str, float]] = {}
    for pool in env.spec.gpu_pools:
        gpus = {m.name: env.plans[m.name].gpus_min for m in env.spec.models if m.pool == pool.name}
        total = sum(gpus.values())
        if total:
            out[pool.name] = {name: n / total for name, n in gpus.items()}
    return out


def economics(env: Environment, items: list[pricing.LineItem]) -> dict[str, pricing.ModelEconomics]:
    out = {}
    shares = _shares(env)
    for model in env.spec.models:
        mine = [(i, 1.0) for i in items if i.model == model.name] + [
            (i, shares[i.pool][model.name])
            for i in items
            if i.pool in shares and model.name in shares[i.pool]
        ]
        t = model.traffic
        hosted = model.hosted_api
        out[model.name] = pricing.model_economics(
            monthly_usd=sum(i.monthly_usd * share for i, share in mine),
            gpu_hours=sum(
                i.quantity * share * (pool_gpus(env, i.pool) if i.unit == "node-hour" else 1)
                for i, share in mine
                if i.unit in ("GPU-hour", "node-hour")
            ),
            conversations_per_day=t.conversations_per_day,
            turns_per_conversation=t.turns_per_conversation,
            prompt_tokens_per_turn=t.prompt_tokens_per_turn,
            completion_tokens_per_turn=t.completion_tokens_per_turn,
            hosted=(hosted.name, hosted.usd_per_million_input, hosted.usd_per_million_output)
            if hosted
            else None,
        )
    return out


def pool_gpus(env: Environment, pool: str | None) -> int:
    return env.spec.pool(pool).gpus_per_node if pool else 1


def run_plan(
    stack: str, spec_value: dict[str, Any], env: Environment, project_dir: Path
) -> PlanResult:
    """The planned graph and its cost, in memory: nothing is written until the whole run,
    policy config included, has passed (see `write`)."""
    records = run_program(stack, spec_value, project_dir)
    graph = [(r.type, r.name, r.inputs) for r in records if r.custom]
    items = pricing.price_graph(graph)
    return PlanResult(
        stack,
        env,
        records,
        items,
        economics(env, items),
        manifests.by_file(records),
        gateway_section(graph),
        versions.model_versions(env),
        training.section(env.spec),
    )


def _per_million(usd_per_token: Any) -> float | None:
    return round(usd_per_token * 1e6, 4) if isinstance(usd_per_token, int | float) else None


def _routes(settings: dict[str, Any], proxy: dict[str, Any]) -> list[dict[str, Any]]:
    """Per model: its backpressure limit, its price and where it overflows to, as the
    generated LiteLLM config states them."""
    params = {
        e.get("model_name"): e.get("litellm_params") or {} for e in proxy.get("model_list") or []
    }
    out = []
    for model, info in (settings.get("models") or {}).items():
        own, target = params.get(model, {}), (info or {}).get("fallback")
        hosted = params.get(target, {}) if target else {}
        out.append(
            {
                "model": model,
                "max_parallel_requests": own.get("max_parallel_requests"),
                "usd_per_1m_input": _per_million(own.get("input_cost_per_token")),
                "usd_per_1m_output": _per_million(own.get("output_cost_per_token")),
                "fallback": target,
                "fallback_upstream": hosted.get("model"),
                "fallback_usd_per_1m_input": _per_million(hosted.get("input_cost_per_token")),
                "fallback_usd_per_1m_output": _per_million(hosted.get("output_cost_per_token")),
            }
        )
    return out


LIMITS = ("rpm", "tpm", "max_parallel_requests", "monthly_budget_usd")


def gateway_section(graph: pricing.Graph) -> dict[str, Any] | None:
    """The gateway as planned, read off its ConfigMap and objects: each team's limits, the
    sum of team budgets against the environment's ceiling, each model's route, and what
    the gateway, its Redis and its database cost."""
    found = pricing.gateway_config(graph)
    if found is None:
        return None
    settings, proxy = found
    teams = [
        {"name": t.get("name"), "models": t.get("models") or [], **{k: t.get(k) for k in LIMITS}}
        for t in settings.get("teams") or []
    ]
    budgets = round(sum(t["monthly_budget_usd"] or 0 for t in teams), 2)
    ceiling = settings.get("ceiling_usd")
    costs = pricing.gateway_costs(graph)
    return {
        "ceiling_usd": ceiling,
        "teams_budget_usd": budgets,
        "teams_over_ceiling": isinstance(ceiling, int | float) and budgets > ceiling,
        "teams_without_budget": [t["name"] for t in teams if t["monthly_budget_usd"] is None],
        "teams": teams,
        "routes": _routes(settings, proxy),
        "costs": [c.to_json() for c in costs],
        "monthly_usd": round(sum(c.monthly_usd for c in costs), 2),
        "added_to_total_usd": round(sum(c.monthly_usd for c in costs if c.in_total), 2),
    }


@dataclass(frozen=True)
class PolicyVerdict:
    name: str
    policies: list[str]
    config: dict[str, Any]
    violations: list[Violation]

    def at(self, level: str) -> list[Violation]:
        return [v for v in self.violations if v.enforcement == level]

    @property
    def passed(self) -> bool:
        return not self.at("mandatory")

    def to_json(self) -> dict[str, Any]:
        return {
            "pack": self.name,
            "passed": self.passed,
            "policies": self.policies,
            "config": self.config,
            "counts": {level: len(self.at(level)) for level in ("mandatory", "advisory")},
            "violations": [v.to_json() for v in self.violations],
        }


def as_analyzed(records: list[Recorded]) -> list[Resource]:
    return [
        Resource(
            urn=r.urn,
            type=r.type,
            name=r.name,
            properties=engine_view(r.wire),
            parent=r.parent,
            dependencies=r.dependencies,
            property_dependencies=r.property_dependencies,
        )
        for r in records
    ]


def run_policy(
    analyzer: Analyzer, records: list[Recorded], config: dict[str, Any]
) -> PolicyVerdict:
    """The pack's verdict on the planned graph."""
    analyzer.configure(config)
    info = analyzer.info()
    return PolicyVerdict(
        info.name,
        [p.name for p in info.policies],
        config,
        analyzer.review(as_analyzed(records)),
    )


def write(
    result: PlanResult, verdict: PolicyVerdict | None, out_dir: Path, exports: tuple[str, ...] = ()
) -> None:
    """Every file of the plan, into a directory of its own (output.staged), so an export
    is part of the complete-or-absent output like the rest."""
    manifests.write(result.manifests, out_dir / "manifests")
    (out_dir / "plan.json").write_text(json.dumps(result.plan_json(), indent=2))
    (out_dir / "cost.json").write_text(json.dumps(result.cost_json(), indent=2))
    # The Alertmanager config travels in a Secret, which the plan redacts whole; it holds
    # no credential, so it is written out here for review and `amtool check-config`.
    (out_dir / "alertmanager.yaml").write_text(
        yaml.safe_dump(alertmanager.config(result.env.spec), sort_keys=False)
    )
    if verdict is not None:
        (out_dir / "policy.json").write_text(json.dumps(verdict.to_json(), indent=2))
    if "terraform-plan" in exports:
        doc = terraform.export(result.stack, result.records)
        (out_dir / terraform.FILE_NAME).write_text(json.dumps(doc, indent=2))
        (out_dir / scan.SKIPS_DIR).mkdir()
        skips = scan.hcl(doc["llm_platform"]["scanner_skips"])
        (out_dir / scan.SKIPS_DIR / scan.SKIPS_FILE).write_text(skips)
