"""What the plan says about each training job: its pool and capacity, its workers, its
expected month's cost (pricing.training_cost) and how a preemption reaches it (the cloud's
spot notice, catalog spot_notice.yaml). Pure: read off the checked spec."""

from __future__ import annotations

from typing import Any

from components import catalog, pricing
from components.spec import EnvironmentSpec, TrainingJob

NO_PREEMPTION_ONPREM = "on-prem: no preemption"
NO_PREEMPTION_ON_DEMAND = "on-demand: no spot preemption"


def preemption(spec: EnvironmentSpec, job: TrainingJob) -> dict[str, Any]:
    """The path from the cloud's reclaim notice to the trainer's SIGTERM, with the notice and
    the pod's grace budget; on-prem and on-demand nodes are not reclaimed."""
    pool = spec.pool(job.pool)
    if pool.instance_type is None or spec.cloud is None:
        return {"path": NO_PREEMPTION_ONPREM, "notice_s": None, "pod_grace_s": None}
    if pool.capacity != "spot":
        return {"path": NO_PREEMPTION_ON_DEMAND, "notice_s": None, "pod_grace_s": None}
    notice = catalog.spot_notices()[spec.cloud]
    return {"path": notice.path, "notice_s": notice.notice_s, "pod_grace_s": notice.pod_grace_s}


def _pool_note(spec: EnvironmentSpec, pool_name: str, needed: float) -> str | None:
    """A pool whose stated node_hours_per_month is less than its jobs need: the pool's line
    (and so the total) prices the stated figure, not the jobs."""
    pool = spec.pool(pool_name)
    stated = pool.node_hours_per_month
    if stated is None or needed <= stated:
        return None
    return (
        f"pool {pool_name}: its training jobs need {needed:g} node-hours a month, more than "
        f"its node_hours_per_month {stated:g}, which is what the total prices"
    )


def section(spec: EnvironmentSpec) -> list[dict[str, Any]]:
    """plan.json `training`: one entry per job."""
    out = []
    for job in spec.training.jobs:
        cost = pricing.training_cost(spec, job)
        out.append(
            {
                "job": job.name,
                "pool": cost.pool,
                "capacity": cost.capacity,
                "workers": job.workers,
                "gpus_per_worker": job.gpus_per_worker,
                "gpu_hours_per_month": cost.gpu_hours_per_month,
                "monthly_usd": cost.monthly_usd,
                "preemption": preemption(spec, job),
            }
        )
    return out


def notes(spec: EnvironmentSpec) -> list[str]:
    """Warnings about the training cost: pools stating fewer node-hours than their jobs."""
    needed: dict[str, float] = {}
    for cost in pricing.training_costs(spec):
        if cost.node_hours_per_month is not None:
            needed[cost.pool] = needed.get(cost.pool, 0.0) + cost.node_hours_per_month
    return [n for pool, hours in needed.items() if (n := _pool_note(spec, pool, hours))]


def lines(entry: dict[str, Any]) -> list[str]:
    """The terminal's Training block for one job."""
    p = entry["preemption"]
    budget = (
        "" if p["notice_s"] is None
        else f" (notice {p['notice_s']} s, pod grace {p['pod_grace_s']} s)"
    )
    return [
        f"{entry['job']}: pool {entry['pool']} ({entry['capacity']}), {entry['workers']} "
        f"worker(s) x {entry['gpus_per_worker']} GPU",
        f"  expected ${entry['monthly_usd']:,.2f}/month for "
        f"{entry['gpu_hours_per_month']:,.2f} GPU-h",
        f"  preemption: {p['path']}{budget}",
    ]
