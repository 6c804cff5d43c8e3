"""Training jobs in the cost and the plan: each job priced at its pool's rate per node for
its expected runs, attributed to (never added on top of) its pool's line, and shown with its
preemption path. Stacks get their training block here, so these tests do not depend on the
example stacks' edits."""

from __future__ import annotations

import copy
import json
import math

import pytest
from conftest import CLI, stack_spec, write_stack

from components import catalog, pricing
from components.plan import training
from components.spec import load_spec

DIGEST = "ghcr.io/acme/trainer@sha256:" + "a" * 64
BASE = {"hf_id": "meta-llama/Llama-3.1-8B-Instruct",
        "revision": "0e9e39f249a16976918f6564b8830bc894c89659"}


def job(**over) -> dict:
    out = {
        "name": "support-ft",
        "image": DIGEST,
        "command": ["python", "-m", "trainer.finetune"],
        "model": "assistant",
        "base": BASE,
        "dataset": {"uri": "s3://acme-datasets/support", "version": "2026-11-30"},
        "pool": "train",
        "expected_hours": 6.0,
        "runs_per_month": 4.0,
        # Within the smallest grace of the clouds (GKE's, components/catalog/spot_notice.yaml).
        "checkpoint_seconds": 10,
    }
    return {**out, **over}


def with_jobs(stack: str, *jobs: dict, **pool_over) -> dict:
    raw = copy.deepcopy(stack_spec(stack))
    raw["training"] = {"jobs": list(jobs)}
    for pool in raw["gpu_pools"]:
        if pool["name"] == "train":
            pool.update(pool_over)
            for key, value in list(pool.items()):
                if value is None:
                    del pool[key]
    return raw


def spot_rate(*instance_types: str) -> float:
    """The dearest spot price among the types, read from the catalog."""
    rows = catalog.instances()
    return max(rows[t].spot_usd_per_hour or rows[t].on_demand_usd_per_hour for t in instance_types)


def test_aws_job_is_priced_per_node_at_the_spot_rate_of_the_dearest_type():
    env = load_spec(with_jobs("aws", job(workers=2, gpus_per_worker=1)))
    (cost,) = pricing.training_costs(env.spec)
    # The aws train pool: 1 GPU a node, g6e.xlarge plus g6e.2xlarge, on spot.
    node = spot_rate("g6e.xlarge", "g6e.2xlarge")
    assert node < catalog.instances()["g6e.2xlarge"].on_demand_usd_per_hour
    assert cost.capacity == "spot"
    assert cost.gpu_hours_per_month == 6 * 4 * 2 * 1
    assert cost.node_hours_per_month == 2 * 6 * 4
    assert cost.usd_per_gpu_hour == pytest.approx(node)
    assert cost.monthly_usd == round(48 * node, 2)


def test_workers_share_a_node_only_when_their_gpus_fit_whole():
    # hybrid's train pool: p5.48xlarge, 8 GPUs a node. 3 workers of 4 GPUs: 2 a node, 2 nodes.
    env = load_spec(with_jobs("hybrid", job(workers=3, gpus_per_worker=4, expected_hours=10,
                                            runs_per_month=2), max_nodes=3))
    (cost,) = pricing.training_costs(env.spec)
    node = spot_rate("p5.48xlarge")
    assert cost.gpu_hours_per_month == 10 * 2 * 3 * 4
    assert cost.node_hours_per_month == 2 * 10 * 2
    assert cost.monthly_usd == round(40 * node, 2)
    assert cost.usd_per_gpu_hour == pytest.approx(node / 8)
    # 3 GPUs a worker: 2 fit an 8-GPU node, so 3 workers still take 2 nodes; 5 GPUs: 1 a node.
    env = load_spec(with_jobs("hybrid", job(workers=3, gpus_per_worker=5), max_nodes=3))
    assert pricing.training_costs(env.spec)[0].node_hours_per_month == 3 * 6 * 4


def test_on_demand_pool_is_priced_at_the_on_demand_rate():
    env = load_spec(with_jobs("aws", job(on_demand_reason="a deadline spot cannot meet"),
                              capacity="on-demand"))
    (cost,) = pricing.training_costs(env.spec)
    rows = catalog.instances()
    node = max(rows[t].on_demand_usd_per_hour for t in ("g6e.xlarge", "g6e.2xlarge"))
    assert cost.capacity == "on-demand"
    assert cost.monthly_usd == round(24 * node, 2)
    entry = training.section(env.spec)[0]
    assert entry["preemption"]["path"] == training.NO_PREEMPTION_ON_DEMAND


def test_a_pool_without_node_hours_is_tagged_with_what_its_jobs_need():
    # Two jobs on the aws train pool (1 GPU a node, min_nodes 0): 2 nodes x 6 h x 4 runs and
    # 1 node x 3 h x 2 runs, and nothing always up.
    raw = with_jobs("aws", job(workers=2), job(name="eval-ft", expected_hours=3,
                                              runs_per_month=2), node_hours_per_month=None)
    env = load_spec(raw)
    pool = env.spec.pool("train")
    assert pool.node_hours_per_month is None
    assert pricing.node_hours(pool, 0, env.spec.training.jobs) == 48 + 6
    costs = pricing.training_costs(env.spec)
    line = pricing.nodes("aws:eks/nodeGroup:NodeGroup", "train", ["g6e.xlarge", "g6e.2xlarge"],
                         True, pricing.pool_tags(pool, 54), 0)
    # The pool's line (what the total counts) is exactly its jobs' attributed costs.
    assert line.monthly_usd == pytest.approx(sum(c.monthly_usd for c in costs), abs=0.011)
    # A node always up covers one node of each run; only the second node of the first job adds.
    pool_up = pool.model_copy(update={"min_nodes": 1})
    assert pricing.node_hours(pool_up, 0, env.spec.training.jobs) == 730 + 24
    # A stated figure is kept, and jobs of another pool never count.
    assert pricing.node_hours(pool.model_copy(update={"node_hours_per_month": 10}), 0,
                              env.spec.training.jobs) == 10
    other = env.spec.training.jobs[0].model_copy(update={"pool": "l40s"})
    assert pricing.node_hours(pool, 0, [other]) == 0


def test_onprem_job_uses_the_amortised_gpu_hour_and_has_no_preemption():
    raw = copy.deepcopy(stack_spec("local"))
    raw["gpu_pools"].append({"name": "train", "gpu": "L40S", "gpus_per_node": 2, "max_nodes": 1,
                             "purpose": "training",
                             "node_labels": {"nvidia.com/gpu.product": "NVIDIA-L40S"}})
    # Checkpoints need a store: on premises, a ReadWriteMany claim.
    raw["onprem"]["artifact_claim"] = {"name": "model-artifacts", "size_gib": 500,
                                       "storage_class": "nfs-rwx"}
    raw["lifecycle"] = copy.deepcopy(stack_spec("onprem-mixed")["lifecycle"])
    raw["training"] = {"jobs": [job(gpus_per_worker=2, expected_hours=5, runs_per_month=3)]}
    env = load_spec(raw)
    (cost,) = pricing.training_costs(env.spec)
    rate = raw["onprem"]["gpu_hour_usd"]
    assert (cost.capacity, cost.node_hours_per_month) == ("on-prem", None)
    assert cost.monthly_usd == round(5 * 3 * 2 * rate, 2)
    assert training.section(env.spec)[0]["preemption"] == {
        "path": training.NO_PREEMPTION_ONPREM, "notice_s": None, "pod_grace_s": None}


@pytest.mark.parametrize("stack", ["aws", "gcp", "hybrid"])
def test_preemption_path_is_the_clouds_spot_notice(stack):
    env = load_spec(with_jobs(stack, job()))
    cloud = env.spec.cloud
    notice = catalog.spot_notices()[cloud]
    (entry,) = training.section(env.spec)
    assert entry["preemption"] == {"path": notice.path, "notice_s": notice.notice_s,
                                   "pod_grace_s": notice.pod_grace_s}
    assert entry["capacity"] == "spot"


def test_a_stated_figure_below_the_jobs_is_warned_about():
    env = load_spec(with_jobs("aws", job(workers=4, expected_hours=50, runs_per_month=2,
                                                 active_deadline_hours=60.0),
                              node_hours_per_month=100))
    # 4 nodes x 50 h x 2 runs = 400 node-hours against the 100 the pool states.
    assert training.notes(env.spec) == [
        "pool train: its training jobs need 400 node-hours a month, more than its "
        "node_hours_per_month 100, which is what the total prices"]


def test_plan_shows_the_training_block_and_writes_it(scratch_project, tmp_path):
    import subprocess

    raw = with_jobs("aws", job(workers=2), node_hours_per_month=None)
    write_stack(scratch_project, "t", raw)
    out = tmp_path / "out"
    done = subprocess.run(
        [*CLI, "plan", "--stack", "t", "--project", str(scratch_project), "--no-policy",
         "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    node = spot_rate("g6e.xlarge", "g6e.2xlarge")
    usd = round(48 * node, 2)
    notice = catalog.spot_notices()["aws"]
    text = " ".join(done.stdout.split())
    assert "Training support-ft: pool train (spot), 2 worker(s) x 1 GPU" in text
    assert f"expected ${usd:,.2f}/month for 48.00 GPU-h" in text
    assert f"preemption: {notice.path} (notice {notice.notice_s} s, pod grace " \
           f"{notice.pod_grace_s} s)" in text
    cost = json.loads((out / "cost.json").read_text())
    assert [{k: c[k] for k in ("job", "pool", "capacity", "gpu_hours_per_month",
                               "usd_per_gpu_hour", "monthly_usd")} for c in cost["training"]] == [
        {"job": "support-ft", "pool": "train", "capacity": "spot", "gpu_hours_per_month": 48.0,
         "usd_per_gpu_hour": node, "monthly_usd": usd}]
    # The pool's line carries the jobs' node-hours, once: the total has no second copy.
    (pool_line,) = [r for r in cost["resources"] if r["pool"] == "train"]
    assert (pool_line["quantity"], pool_line["monthly_usd"]) == (48, usd)
    assert math.isclose(cost["monthly_usd"], sum(r["monthly_usd"] for r in cost["resources"]),
                        abs_tol=0.011)
    plan = json.loads((out / "plan.json").read_text())
    assert plan["training"][0]["preemption"]["pod_grace_s"] == notice.pod_grace_s
    assert plan["training"][0]["monthly_usd"] == usd


def _promtool(tmp_path, groups: list[dict], series: list[dict], checks: list[dict]) -> None:
    import shutil
    import subprocess

    import yaml

    promtool = shutil.which("promtool")
    assert promtool, "promtool not installed: `make test` installs it (Debian package prometheus)"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    (tmp_path / "t.yaml").write_text(yaml.safe_dump({
        "rule_files": ["rules.yaml"], "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": checks}],
    }, sort_keys=False))
    proc = subprocess.run([promtool, "test", "rules", "t.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_spot_savings_rule_prices_the_gpus_training_pods_hold(tmp_path):
    """Two GPUs of support-ft's pods run on the spot pool; a job whose name extends it
    (support-ft-2, 1 GPU) is its own series; a job on the on-demand pool saves nothing and
    gets no series. Savings = GPUs x (on-demand - spot) per GPU-hour of the pool's type."""
    from components.observability.rules import prometheus_rules

    raw = with_jobs("aws", job(), job(name="support-ft-2"))
    env = load_spec(raw)
    ns = env.spec.namespace
    groups = prometheus_rules(env)["llm-platform"]
    (training_group,) = [g for g in groups if g["name"].endswith(".training")]
    assert {r["labels"]["job"] for r in training_group["rules"]} == {"support-ft", "support-ft-2"}
    inst = catalog.instances()["g6e.xlarge"]  # the aws train pool's instance_type
    per_gpu = (inst.on_demand_usd_per_hour - inst.spot_usd_per_hour) / inst.gpu_count
    util = "DCGM_FI_DEV_GPU_UTIL"
    run = "0123456789ab"
    series = [
        {"series": f'{util}{{namespace="{ns}",pod="train-support-ft-{run}-workers-0-0-x1",'
                   f'gpu="{g}"}}', "values": "50x10"} for g in (0, 1)
    ] + [{"series": f'{util}{{namespace="{ns}",pod="train-support-ft-2-{run}-abcde",gpu="0"}}',
          "values": "50x10"},
         {"series": f'{util}{{namespace="other",pod="train-support-ft-{run}-zzzzz",gpu="0"}}',
          "values": "50x10"}]

    def sample(name: str, job_name: str, value: float) -> dict:
        return {"labels": f'{name}{{job="{job_name}",namespace="{ns}",pool="train"}}',
                "value": value}

    name = "llm:training_spot_savings_usd_per_hour"
    _promtool(tmp_path, groups, series, [
        {"expr": f'{name}{{job="support-ft"}}', "eval_time": "5m",
         "exp_samples": [sample(name, "support-ft", 2 * per_gpu)]},
        {"expr": f'{name}{{job="support-ft-2"}}', "eval_time": "5m",
         "exp_samples": [sample(name, "support-ft-2", 1 * per_gpu)]},
        # After the pods are gone (series end at 10m, stale after 5 more), nothing is saved.
        {"expr": f'{name}{{job="support-ft"}}', "eval_time": "20m",
         "exp_samples": [sample(name, "support-ft", 0)]},
    ])


def test_no_savings_series_for_a_job_on_an_on_demand_pool():
    from components.observability.rules import prometheus_rules

    env = load_spec(with_jobs("aws", job(on_demand_reason="a deadline spot cannot meet"),
                              capacity="on-demand"))
    groups = prometheus_rules(env)["llm-platform"]
    assert not [g for g in groups if g["name"].endswith(".training")]
    records = {r.get("record") for g in groups for r in g["rules"]}
    assert "llm:gpu_on_demand_price_usd_per_hour" not in records
