"""The spec's training checks (components/spec/checks.py training_problems): each job's pool,
capacity, deadline, size and spot grace, its store, and its retraining trigger, one edit per
case, the exact line a user reads, and the same line with exit 2 from `llm-platform plan`.
Each refused edit has a near miss beside it that loads."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
from conftest import run_cli, stack_spec, write_stack

from components import catalog
from components.cli import main
from components.spec import SpecError, load_spec
from components.spec.checks import eval_floor

S = "llm-platform:spec"
J = f"{S}.training.jobs[0]"
Edit = Callable[[dict], object]


def stack(name: str, edit: Edit | None = None) -> dict:
    raw = copy.deepcopy(stack_spec(name))
    if edit is not None:
        edit(raw)
    return raw


def job(raw: dict, i: int = 0) -> dict:
    return raw["training"]["jobs"][i]


def pool(raw: dict, name: str) -> dict:
    return next(p for p in raw["gpu_pools"] if p["name"] == name)


def with_job(source: str = "aws", **changes) -> Edit:
    """Give a stack without one the aws stack's job, on its pool `train`, edited."""
    def edit(raw: dict) -> None:
        added = {**copy.deepcopy(job(stack_spec(source))), **changes}
        added.pop("trigger", None)
        raw["training"] = {"jobs": [added]}
    return edit


def problems(raw: dict) -> list[str]:
    with pytest.raises(SpecError) as exc:
        load_spec(raw)
    return exc.value.problems


def test_each_example_stack_runs_one_spot_job():
    """aws and hybrid run one worker, gcp two (a JobSet); each on its spot pool `train`."""
    shapes = {}
    for name in ("aws", "gcp", "hybrid"):
        env = load_spec(stack_spec(name))
        (only,) = env.spec.training.jobs
        on = env.spec.pool(only.pool)
        assert (on.purpose, on.capacity, only.on_demand_reason) == ("training", "spot", None)
        assert only.base.hf_id == env.spec.models[0].hf_id
        assert only.base.revision == env.spec.models[0].revision
        assert env.warnings == []
        shapes[name] = (only.workers, only.gpus_per_worker)
    assert shapes == {"aws": (1, 1), "gcp": (2, 1), "hybrid": (1, 8)}


# --- refused: the exact line in process, and the same line with exit 2 from the CLI ---

def _grace_case(cloud: str) -> tuple[str, Edit, str]:
    """checkpoint_seconds one over the grace the catalog gives `cloud`'s pods (the azure
    stack has no job: it gets the aws stack's)."""
    notice = catalog.spot_notices()[cloud]
    over = notice.pod_grace_s + 1
    label = {"aws": "AWS", "gcp": "GCP", "azure": "Azure"}[cloud]
    edit = with_job(checkpoint_seconds=over) if cloud == "azure" else (
        lambda r: job(r).update(checkpoint_seconds=over))
    return (
        cloud, edit,
        f"{J}.checkpoint_seconds: must be <= {notice.pod_grace_s}, the grace {label} leaves a "
        f"pod of its {notice.notice_s} s spot notice (got {over}); the final checkpoint is "
        "written and uploaded after SIGTERM (components/catalog/spot_notice.yaml)",
    )


REFUSED = {
    # The issue's three.
    "inference-pool": (
        "aws", lambda r: job(r).update(pool="l40s"),
        f"{J}.pool: pool 'l40s' is for inference; a training job runs on a pool with purpose "
        "training: train"),
    "on-demand-without-reason": (
        "aws", lambda r: pool(r, "train").update(capacity="on-demand"),
        f"{J}.on_demand_reason: required: pool 'train' is on-demand; say why this job cannot "
        "run on spot (the Job is annotated with it), or move it to a spot training pool"),
    "interval-over-deadline": (
        "aws", lambda r: job(r).update(checkpoint_interval_minutes=120, active_deadline_hours=1.5,
                                       expected_hours=1),
        f"{J}.checkpoint_interval_minutes: must be shorter than active_deadline_hours (1.5 h = "
        "90 minutes) (got 120); a run stopped at its deadline before its first checkpoint "
        "keeps nothing"),
    # The rest.
    "interval-equals-deadline": (
        "aws", lambda r: job(r).update(checkpoint_interval_minutes=60, active_deadline_hours=1,
                                       expected_hours=1),
        f"{J}.checkpoint_interval_minutes: must be shorter than active_deadline_hours (1 h = "
        "60 minutes) (got 60); a run stopped at its deadline before its first checkpoint "
        "keeps nothing"),
    "no-such-pool": (
        "aws", lambda r: job(r).update(pool="trian"),
        f"{J}.pool: no gpu_pool named 'trian' (did you mean 'train'?); training pools: train"),
    "no-training-pool": (
        "aws", lambda r: (r["gpu_pools"].pop(1), job(r).update(pool="l40s")),
        f"{J}.pool: pool 'l40s' is for inference; a training job runs on a pool with purpose "
        "training: none; add a gpu_pools entry with purpose training"),
    "reason-on-spot": (
        "aws", lambda r: job(r).update(on_demand_reason="the contract's deadline is fixed"),
        f"{J}.on_demand_reason: pool 'train' is spot; remove on_demand_reason"),
    "reason-on-prem": (
        "onprem-mixed", with_job(on_demand_reason="the contract's deadline is fixed",
                                 gpus_per_worker=8),
        f"{J}.on_demand_reason: only for a job on an on-demand cloud pool; pool 'train' is on "
        "the on-prem cluster, where nothing is reclaimed: remove it"),
    "expected-over-deadline": (
        "aws", lambda r: job(r).update(expected_hours=24.5),
        f"{J}.expected_hours: must be <= active_deadline_hours 24 (got 24.5); the Job is "
        "stopped at its deadline"),
    "gpus-over-node": (
        "aws", lambda r: job(r).update(gpus_per_worker=2),
        f"{J}.gpus_per_worker: must be <= pool 'train''s gpus_per_node 1 (got 2); a worker is "
        "one pod on one node"),
    # gcp: 4 nodes of 1 GPU hold 4 one-GPU workers.
    "workers-over-pool": (
        "gcp", lambda r: job(r).update(workers=5),
        f"{J}.workers: must be <= 4 (got 5): pool 'train' holds 4 1-GPU workers (4 nodes x 1 per "
        "1-GPU node); raise the pool's max_nodes or lower workers"),
    # hybrid with 2 nodes of 8 H100: 3 workers x 5 GPUs = 15 <= 16 GPUs, but a node holds one
    # 5-GPU worker (8 // 5), so the pool holds 2.
    "workers-split-over-nodes": (
        "hybrid", lambda r: (pool(r, "train").update(max_nodes=2),
                             job(r).update(gpus_per_worker=5, workers=3)),
        f"{J}.workers: must be <= 2 (got 3): pool 'train' holds 2 5-GPU workers (2 nodes x 1 per "
        "8-GPU node); raise the pool's max_nodes or lower workers"),
    "grace-aws": _grace_case("aws"),
    "grace-gcp": _grace_case("gcp"),
    "grace-azure": _grace_case("azure"),
    "duplicate-name": (
        "aws", lambda r: r["training"]["jobs"].append(copy.deepcopy(job(r))),
        f"{S}.training.jobs[1].name: duplicate job name 'support-ft'"),
    "no-store": (
        "local", lambda r: (r["gpu_pools"].append(
            {"name": "train", "gpu": "L4", "max_nodes": 1, "purpose": "training"}),
            with_job()(r)),
        f"{S}.training.jobs: needs an artifact store: a job keeps its checkpoints under "
        "checkpoints/<job>/ and publishes its model under models/<model>/ there, so a "
        "preempted run can resume; add onprem.artifact_claim"),
    "no-signing-key": (
        "onprem-mixed", lambda r: ([r.pop(k) for k in ("models", "gateway", "lifecycle")],
                                   with_job(gpus_per_worker=8)(r)),
        f"{S}.lifecycle.signing: required: a training run's model is signed in the store, "
        "ready for the eval gate; add signing.public_key and its private_key_secret (README: "
        "Shipping a new model version)"),
    "trigger-no-such-model": (
        "hybrid", lambda r: job(r)["trigger"].update(model="asistant"),
        f"{J}.trigger.model: no model named 'asistant' (did you mean 'assistant'?); models: "
        "assistant"),
    "trigger-window-under-drift": (
        "hybrid", lambda r: job(r)["trigger"].update(drift_days=5, window_days=4),
        f"{J}.trigger.window_days: must be >= drift_days 5 (got 4); drift is counted on "
        "drift_days of the last window_days days"),
    "trigger-floor-without-eval": (
        "hybrid", lambda r: job(r)["trigger"].update(eval_floor=0.7),
        f"{J}.trigger.eval_floor: model 'assistant' has no eval gate, so no eval score to hold "
        "to a floor; add models[0].eval or remove eval_floor"),
    "trigger-watches-nothing": (
        "hybrid", lambda r: r["observability"].pop("quality"),
        f"{J}.trigger: watches nothing: drift comes from the quality monitor "
        "(observability.quality) and the eval score from models[0].eval; add one or "
        "remove trigger"),
    "trigger-train-in-a-hybrid": (
        "hybrid", lambda r: job(r)["trigger"].update(action="train"),
        f"{J}.trigger.action: 'train' is refused in a hybrid: the trigger runs beside "
        "Prometheus on the on-prem cluster and the job on the cloud's, which it cannot reach; "
        "use 'ticket'"),
}


@pytest.mark.parametrize(("base", "edit", "line"), REFUSED.values(), ids=REFUSED.keys())
def test_refused_with_one_line_and_exit_2(base, edit, line, scratch_project, capsys):
    raw = stack(base, edit)
    assert problems(raw) == [line]
    write_stack(scratch_project, "s", raw)
    with pytest.raises(SystemExit) as done:
        main(["plan", "--stack", "s", "--project", str(scratch_project), "--no-policy"])
    stderr = capsys.readouterr().err
    assert done.value.code == 2, stderr
    assert "Traceback" not in stderr
    assert stderr.splitlines() == [f"error: {line}"]


def test_the_issues_three_through_the_console_script(scratch_project):
    """The real `llm-platform` process: the issue's three mistakes, one line each, exit 2."""
    def edit(raw: dict) -> None:
        second = {**copy.deepcopy(job(raw)), "name": "support-ft-2", "pool": "l40s"}
        third = {**copy.deepcopy(job(raw)), "name": "support-ft-3",
                 "checkpoint_interval_minutes": 120, "active_deadline_hours": 1.5,
                 "expected_hours": 1, "on_demand_reason": "evaluated against a fixed date"}
        raw["training"]["jobs"] += [second, third]
        pool(raw, "train").update(capacity="on-demand")

    write_stack(scratch_project, "issue", stack("aws", edit))
    out = scratch_project / "out"
    proc = run_cli("plan", "--stack", "issue", "--project", str(scratch_project), "--out",
                   str(out), "--no-policy")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert sorted(ln.split(": ")[0] for ln in proc.stderr.splitlines()) == [
        "error", "error", "error"]
    assert sorted(ln.split(": ")[1] for ln in proc.stderr.splitlines()) == [
        f"{J}.on_demand_reason",
        f"{S}.training.jobs[1].pool",
        f"{S}.training.jobs[2].checkpoint_interval_minutes",
    ]
    assert not out.exists()


# --- near misses: one step short of each refusal, they load ---

def _loads(raw: dict) -> list[str]:
    return load_spec(raw).warnings


NEAR = {
    "reason-given": ("aws", lambda r: (pool(r, "train").update(capacity="on-demand"),
                                       job(r).update(on_demand_reason="a fixed deadline"))),
    "interval-one-minute-short": (
        "aws", lambda r: job(r).update(checkpoint_interval_minutes=89, active_deadline_hours=1.5,
                                       expected_hours=1.5)),
    "expected-equals-deadline": ("aws", lambda r: job(r).update(expected_hours=24)),
    "gpus-equal-node": ("hybrid", lambda r: job(r).update(gpus_per_worker=8)),
    "workers-fill-pool": ("gcp", lambda r: job(r).update(workers=4)),
    "workers-one-per-node": ("hybrid", lambda r: (pool(r, "train").update(max_nodes=2),
                                                  job(r).update(gpus_per_worker=5, workers=2))),
    "grace-aws": ("aws", lambda r: job(r).update(
        checkpoint_seconds=catalog.spot_notices()["aws"].pod_grace_s)),
    "grace-gcp": ("gcp", lambda r: job(r).update(
        checkpoint_seconds=catalog.spot_notices()["gcp"].pod_grace_s)),
    "grace-azure": ("azure", with_job(
        checkpoint_seconds=catalog.spot_notices()["azure"].pod_grace_s)),
    # On the on-prem cluster nothing is reclaimed: no grace budget, no reason needed.
    "on-prem-long-checkpoint": ("onprem-mixed", with_job(checkpoint_seconds=3600,
                                                         gpus_per_worker=8)),
    "on-prem-on-demand": ("onprem-mixed", lambda r: (
        pool(r, "train").update(capacity="on-demand"), with_job(gpus_per_worker=8)(r))),
    "second-name": ("aws", lambda r: r["training"]["jobs"].append(
        {**copy.deepcopy(job(r)), "name": "support-ft-2"})),
    "window-equals-drift": ("hybrid", lambda r: job(r)["trigger"].update(drift_days=5,
                                                                         window_days=5)),
}


@pytest.mark.parametrize(("base", "edit"), NEAR.values(), ids=NEAR.keys())
def test_near_miss_loads(base, edit):
    assert load_spec(stack(base, edit)).spec.training.jobs


def test_an_on_demand_cloud_training_pool_is_warned_about_but_not_an_on_prem_one():
    warned = _loads(stack("aws", lambda r: (pool(r, "train").update(capacity="on-demand"),
                                            job(r).update(on_demand_reason="a fixed deadline"))))
    assert warned == [
        f"{S}.gpu_pools[1].capacity: training pool 'train' is on-demand; checkpointed training "
        "can run on spot at a fraction of the price (see components/catalog/instances.yaml)"]
    # The on-prem cluster's nodes are owned: capacity means nothing there.
    assert _loads(stack("onprem-mixed", lambda r: pool(r, "train").update(
        capacity="on-demand"))) == []


def test_the_floor_defaults_to_the_models_eval_and_drift_may_be_all_that_is_watched():
    # onprem-mixed: support-bot has eval.min_score 0.8 and no quality monitor runs.
    def edit(raw: dict) -> None:
        with_job(gpus_per_worker=8)(raw)
        job(raw)["trigger"] = {"model": "support-bot", "action": "train"}

    env = load_spec(stack("onprem-mixed", edit))
    trigger = env.spec.training.jobs[0].trigger
    assert eval_floor(env.spec, trigger) == 0.8
    assert env.warnings == [
        f"{J}.trigger: only the eval score is watched: drift comes from the quality monitor, "
        "and observability.quality is not set"]
    # Its own floor wins over the model's.
    own = load_spec(stack("onprem-mixed", lambda r: (
        edit(r), job(r)["trigger"].update(eval_floor=0.6)))).spec
    assert eval_floor(own, own.training.jobs[0].trigger) == 0.6
    # The hybrid's assistant has no eval: only drift (the quality monitor's) is watched.
    hybrid = load_spec(stack_spec("hybrid"))
    assert eval_floor(hybrid.spec, hybrid.spec.training.jobs[0].trigger) is None
    assert hybrid.warnings == []


@pytest.mark.parametrize(("base", "uri", "expected"), [
    ("aws", "gs://acme-datasets/support", "copy it to s3://, or use an hf:// dataset"),
    ("gcp", "s3://acme-datasets/support", "copy it to gs:// or gcs://, or use an hf:// dataset"),
    ("aws", "hf://datasets/acme/support", None),
    ("gcp", "gcs://acme-datasets/support", None),
    ("onprem-mixed", "s3://acme-datasets/support", None),  # no cloud identity to check
])
def test_a_cloud_job_reads_its_dataset_with_its_own_identity(base, uri, expected):
    def edit(raw: dict) -> None:
        if base == "onprem-mixed":
            with_job(gpus_per_worker=8)(raw)
        job(raw)["dataset"]["uri"] = uri

    warnings = load_spec(stack(base, edit)).warnings
    if expected is None:
        assert warnings == []
    else:
        label = {"aws": "AWS", "gcp": "GCP"}[base]
        scheme = uri.split("://")[0]
        assert warnings == [
            f"{J}.dataset.uri: the job reads it with its {label} workload identity, which a "
            f"{scheme}:// store does not trust; {expected}"]
