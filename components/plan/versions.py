"""What the plan says about each model's version: the revision it serves, the one it
replaces, whether its files are signed, and with a rollout the canary's effective share
at each step (components/canary.py). Pure: read off the checked spec and its plans."""

from __future__ import annotations

from typing import Any

from components import canary
from components.spec import Environment, Model

# Without a traffic router the canary's share is its share of the pods. Exact weights need
# Argo Rollouts' Gateway API plugin (an HTTPRoute whose backendRefs are the stable and
# canary Services), which llm-platform documents and does not install.
ROUTER_NOTE = (
    "exact percentages need a traffic router: Argo Rollouts' Gateway API plugin (an "
    "HTTPRoute over {name}-stable and {name}-canary; not installed)"
)
NOT_SIGNED = "not signed: no artifact store"


PREFILLED = "not signed: served from a prefilled read-only claim, nothing is synced"


def _signing(env: Environment, model: Model) -> str:
    spec = env.spec
    if not spec.has_artifact_store:
        return NOT_SIGNED
    if model.weights.prefilled:
        return PREFILLED
    store = "onprem.artifact_claim" if spec.cloud is None else "the artifacts bucket"
    return f"signed: synced to {store}, verified before the engine starts"


def _rollout(env: Environment, model: Model) -> dict[str, Any] | None:
    rollout = model.rollout
    if rollout is None:
        return None
    plan = env.plans[model.name]
    weights = [s.weight_pct for s in rollout.steps]
    shares = canary.step_shares(plan.replicas_min, weights)[:-1]  # the last is promotion
    return {
        "replicas": plan.replicas_min,
        "approval": rollout.approval,
        "shadow": None
        if rollout.shadow is None
        else {
            "sample_pct": rollout.shadow.sample_pct,
            "duration_minutes": rollout.shadow.duration_minutes,
        },
        "steps": [
            {
                "weight_pct": s.weight_pct,
                "canary_pods": s.canary,
                "pods": s.pods,
                "share_pct": round(s.share_pct, 1),
                "text": s.text(),
            }
            for s in shares
        ],
        "exact": all(round(s.share_pct, 6) == s.weight_pct for s in shares),
        "extra_gpus": canary.extra_pods(plan.replicas_min, weights) * plan.tensor_parallel,
        "router": ROUTER_NOTE.format(name=model.name),
    }


def model_versions(env: Environment) -> list[dict[str, Any]]:
    """Per model, as plan.json records it."""
    return [
        {
            "model": m.name,
            "revision": m.revision,
            "replaces": m.previous_revision,
            "source": m.source.uri if m.source is not None else f"hf://{m.hf_id}",
            "signed": _signing(env, m).startswith("signed"),
            "signing": _signing(env, m),
            "served_by": "Rollout" if m.rollout is not None else "Deployment",
            "rollout": _rollout(env, m),
        }
        for m in env.spec.models
    ]


def lines(version: dict[str, Any]) -> list[str]:
    """How the plan prints one model's version."""
    replaces = version["replaces"]
    head = (
        f"{version['model']}: serves {version['revision']}"
        f"{f', replaces {replaces}' if replaces else ', a first version'}; {version['signing']}"
    )
    rollout = version["rollout"]
    if rollout is None:
        return [head, "  Deployment: a new revision replaces its pods at once (no rollout)"]
    gates = ["eval gate on 1 candidate pod, no traffic"]
    if rollout["shadow"] is not None:
        shadow = rollout["shadow"]
        gates.append(f"shadow {shadow['sample_pct']:g}% for {shadow['duration_minutes']} min")
    if rollout["approval"]:
        gates.append("approval (kubectl argo rollouts promote)")
    n = rollout["replicas"]
    out = [head, f"  Rollout at {n} replica{'' if n == 1 else 's'}: {', '.join(gates)}, then"]
    out += [f"    {s['text']}" for s in rollout["steps"]]
    if not rollout["exact"]:
        out.append(f"  {rollout['router']}")
    out.append(f"  needs {rollout['extra_gpus']} GPUs beyond the planned replicas while it runs")
    return out
