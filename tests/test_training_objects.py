"""A spec training job on the cluster: the Job (one worker), JobSet (more) or CronJob (a
schedule, or a retraining trigger that starts it) the real program makes for every example
stack with a training pool, given a training block here (so nothing depends on the example
stacks' own jobs). Checked as the API server and the scheduler would: against Kubernetes
1.30's schemas and the pinned JobSet CRD, the restricted profile, the pool's taints and the
node's allocatable; and as the harness and podFailurePolicy agree (components/training/
contract.py)."""

from __future__ import annotations

import copy
import json
from typing import Any

import kubernetes_validate
import pinned
import pytest
import yaml
from conftest import ROOT, stack_spec
from test_scheduling import (
    DAEMONSET,
    _effective,
    _labels,
    _pod,
    _pool_allocatable,
    _pool_taints,
    _selects,
    _tolerates,
)

from components.catalog import versions
from components.plan.manifests import is_object, to_object
from components.plan.runner import run_program
from components.training.contract import RunConfig

# Every example stack with a training pool, and the cloud (None: on premises) it is on.
STACKS = {"aws": "aws", "gcp": "gcp", "azure": "azure", "hybrid": "aws", "onprem-mixed": None}
IMAGE = "ghcr.io/acme/trainer@sha256:" + "7" * 64
COMMAND = ["python", "-m", "trainer.finetune", "--bf16"]
HARNESS = ["/opt/llm-platform/bin/python", "-m", "components.training.harness"]
JOB = "kubernetes:batch/v1:Job"
CRONJOB = "kubernetes:batch/v1:CronJob"
JOBSET = "kubernetes:jobset.x-k8s.io/v1alpha2:JobSet"
SPOT = yaml.safe_load((ROOT / "components/catalog/spot_notice.yaml").read_text())["clouds"]
POD_GRACE = {row["id"]: row["pod_grace_s"] for row in SPOT}


def _pool(raw: dict) -> dict:
    (pool,) = [p for p in raw["gpu_pools"] if p.get("purpose") == "training"]
    return pool


def _job(raw: dict, name: str, **extra: Any) -> dict:
    return {
        "name": name,
        "image": IMAGE,
        "command": COMMAND,
        "model": raw["models"][0]["name"],
        "base": {"hf_id": "meta-llama/Llama-3.1-8B-Instruct", "revision": "b" * 40},
        "dataset": {"uri": "s3://acme-datasets/support", "version": "2026-11-30"},
        "hyperparameters": {"learning_rate": 0.0002, "epochs": 2},
        "seed": 1234,
        "pool": _pool(raw)["name"],
        "checkpoint_seconds": 10,
        "expected_hours": 6,
        **extra,
    }


def multi_gpus(pool: dict) -> int:
    """Two workers' GPUs each: a whole node each where the pool has two nodes, else half of
    its one node (the spec refuses workers the pool cannot hold)."""
    gpus = pool.get("gpus_per_node", 1)
    return gpus if pool.get("max_nodes", 1) >= 2 else gpus // 2


def training_spec(stack: str) -> dict:
    """The stack with four jobs: one worker; two workers (a JobSet); a weekly schedule; and
    one a retraining trigger starts (a suspended CronJob)."""
    raw = copy.deepcopy(stack_spec(stack))
    gpus = multi_gpus(_pool(raw))
    raw["observability"]["quality"] = raw["observability"].get("quality") or {
        "log_volume_claim": "request-logs"}
    raw["training"] = {"jobs": [
        _job(raw, "solo", active_deadline_hours=1.5, checkpoint_interval_minutes=20,
             expected_hours=1),
        _job(raw, "multi", workers=2, gpus_per_worker=gpus),
        _job(raw, "nightly", schedule="0 2 * * 0"),
        _job(raw, "retrain", **_retrain(stack, raw["models"][0]["name"])),
    ]}
    return raw


def _retrain(stack: str, model: str) -> dict:
    """A trigger that starts the job; a hybrid refuses that (its trigger runs on the other
    cluster), so there the job is scheduled and its trigger only files tickets."""
    if stack == "hybrid":
        return {"trigger": {"model": model, "action": "ticket"}, "schedule": "0 3 * * *"}
    return {"trigger": {"model": model, "action": "train"}}


def _records(stack: str, raw: dict) -> list[dict]:
    return [r.to_json() | {"obj": to_object(r) if is_object(r) else None,
                           "provider": r.provider} for r in run_program(stack, raw, ROOT)]


@pytest.fixture(scope="module")
def programs() -> dict[str, list[dict]]:
    return {stack: _records(stack, training_spec(stack)) for stack in STACKS}


def _training(records: list[dict], type_: str) -> dict[str, dict]:
    """The training objects of one type, by name."""
    return {r["obj"]["metadata"]["name"]: r["obj"] for r in records
            if r["type"] == type_ and "TrainingJobs" in r["urn"]}


def _run_id(raw: dict, name: str) -> str:
    (job,) = [j for j in raw["training"]["jobs"] if j["name"] == name]
    return RunConfig(
        job=name, image=job["image"], command=tuple(job["command"]),
        base_hf_id=job["base"]["hf_id"], base_revision=job["base"]["revision"],
        dataset_uri=job["dataset"]["uri"], dataset_version=job["dataset"]["version"],
        hyperparameters=job["hyperparameters"], seed=job["seed"],
    ).run_id()


def _job_specs(records: list[dict]) -> dict[str, dict]:
    """Every JobSpec a training object carries: the Job's, the JobSet's replicated Job's and
    the CronJob's template."""
    out = {name: obj["spec"] for name, obj in _training(records, JOB).items()}
    for name, obj in _training(records, JOBSET).items():
        (replicated,) = obj["spec"]["replicatedJobs"]
        out[name] = replicated["template"]["spec"]
    for name, obj in _training(records, CRONJOB).items():
        out[name] = obj["spec"]["jobTemplate"]["spec"]
    return out


# --- the objects, by name, and their schemas -------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_each_job_is_a_job_jobset_or_cronjob_named_for_its_run(programs, stack):
    raw, records = training_spec(stack), programs[stack]
    assert set(_training(records, JOB)) == {f"train-solo-{_run_id(raw, 'solo')}"}
    assert set(_training(records, JOBSET)) == {f"train-multi-{_run_id(raw, 'multi')}"}
    assert set(_training(records, CRONJOB)) == {"train-nightly", "train-retrain"}
    accounts = _training(records, "kubernetes:core/v1:ServiceAccount")
    assert set(accounts) == {"train-solo", "train-multi", "train-nightly", "train-retrain"}
    for spec in _job_specs(records).values():
        assert spec["template"]["spec"]["serviceAccountName"] in accounts
        assert spec["template"]["spec"]["automountServiceAccountToken"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_only_training_pods_reach_a_training_pod(programs, stack):
    records = programs[stack]
    policies = [r["obj"] for r in records
                if r["type"] == "kubernetes:networking.k8s.io/v1:NetworkPolicy"
                and "TrainingJobs" in r["urn"]]
    (policy,) = policies
    selector = policy["spec"]["podSelector"]["matchLabels"]
    # A JobSet's workers reach each other (rendezvous, collectives); nothing else gets in.
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["ingress"] == [{"from": [{"podSelector": {"matchLabels": selector}}]}]
    for name, spec in _job_specs(records).items():
        labels = spec["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), name


def test_a_change_of_hyperparameters_is_a_new_run_and_so_a_new_job():
    raw = training_spec("aws")
    before = _run_id(raw, "solo")
    raw["training"]["jobs"][0]["hyperparameters"]["learning_rate"] = 0.0001
    assert _run_id(raw, "solo") != before
    assert f"train-solo-{_run_id(raw, 'solo')}" in _training(_records("aws", raw), JOB)


@pytest.mark.parametrize("stack", STACKS)
def test_every_training_object_validates_against_kubernetes_and_the_pinned_jobset_crd(
    programs, stack
):
    checked = set()
    for r in programs[stack]:
        obj = r["obj"]
        if obj is None or "TrainingJobs" not in r["urn"] or "apiVersion" not in obj:
            continue
        if pinned.is_custom(obj):
            assert not pinned.crd_errors(obj), (obj["kind"], pinned.crd_errors(obj))
        else:
            kubernetes_validate.validate(obj, "1.30.0", strict=True)  # raises on any error
        checked.add(obj["kind"])
    assert {"Job", "JobSet", "CronJob", "ServiceAccount"} <= checked


def test_crd_validation_sees_a_misspelt_jobset_field(programs):
    (js,) = _training(programs["gcp"], JOBSET).values()
    typo = copy.deepcopy(js)
    typo["spec"]["replicatedJobs"][0]["replica"] = 2
    assert any("replica" in e for e in pinned.crd_errors(typo))
    missing = copy.deepcopy(js)
    del missing["spec"]["replicatedJobs"][0]["template"]
    assert any("'template' is a required property" in e for e in pinned.crd_errors(missing))


def test_the_jobset_runs_every_worker_as_an_index_of_one_job(programs):
    for stack in STACKS:
        (js,) = _training(programs[stack], JOBSET).values()
        (replicated,) = js["spec"]["replicatedJobs"]
        job = replicated["template"]["spec"]
        assert (replicated["replicas"], job["completionMode"]) == (1, "Indexed")
        assert job["completions"] == job["parallelism"] == 2
        # A whole node each on the clouds' 1-GPU pools, half a node on the 8-GPU ones.
        gpus = {"aws": 1, "gcp": 1, "azure": 1, "hybrid": 4, "onprem-mixed": 4}[stack]
        assert gpus == multi_gpus(_pool(stack_spec(stack)))
        (trainer,) = job["template"]["spec"]["containers"]
        assert trainer["resources"]["limits"]["nvidia.com/gpu"] == str(gpus)


# --- podFailurePolicy --------------------------------------------------------------------------


def _action(policy: dict, exit_code: int | None = None, condition: str | None = None) -> str:
    """What the Job controller does with a failed pod: the first rule that matches, else
    Count (kubernetes.io/docs/tasks/job/pod-failure-policy)."""
    for rule in policy["rules"]:
        codes = rule.get("onExitCodes")
        if codes is not None and exit_code is not None:
            inside = exit_code in codes["values"]
            if inside == (codes["operator"] == "In"):
                return rule["action"]
        for pattern in rule.get("onPodConditions", []):
            if pattern["type"] == condition and pattern.get("status", "True") == "True":
                return rule["action"]
    return "Count"


@pytest.mark.parametrize("stack", STACKS)
def test_a_preemption_never_counts_and_a_config_error_fails_the_job_at_once(programs, stack):
    specs = _job_specs(programs[stack])
    assert len(specs) == 4
    for name, spec in specs.items():
        policy = spec["podFailurePolicy"]
        # The node drained on the spot notice: the pod is evicted, DisruptionTarget set.
        assert _action(policy, condition="DisruptionTarget") == "Ignore", name
        assert _action(policy, exit_code=75) == "Ignore", name  # EX_TEMPFAIL: preempted
        assert _action(policy, exit_code=76) == "FailJob", name  # out of preemptions
        assert _action(policy, exit_code=78) == "FailJob", name  # EX_CONFIG
        assert _action(policy, exit_code=1) == "Count", name  # a crash: backoffLimit
        assert _action(policy, exit_code=137) == "Count", name  # OOM-killed
        # Only the trainer's exit codes: the init container's copy is not a preemption.
        assert {r["onExitCodes"]["containerName"] for r in policy["rules"]
                if "onExitCodes" in r} == {"trainer"}
        # podFailurePolicy is refused with any other restart policy.
        assert spec["template"]["spec"]["restartPolicy"] == "Never", name
        # A crash is retried a little; in a JobSet the set is restarted instead (below).
        assert spec["backoffLimit"] == (0 if name.startswith("train-multi-") else 2), name


@pytest.mark.parametrize("stack", STACKS)
def test_a_jobset_restarts_all_workers_after_a_loss_and_fails_on_a_final_failure(
    programs, stack
):
    """One worker preempted: its pod is replaced, its peers fail on the broken collective,
    the Job fails (backoffLimit 0) and the JobSet recreates every worker, which resume from
    the checkpoint; out of preemptions, a config error or the deadline fails the JobSet."""
    (js,) = _training(programs[stack], JOBSET).values()
    policy = js["spec"]["failurePolicy"]

    def jobset_action(reason: str) -> str:
        for rule in policy["rules"]:
            if reason in rule.get("onJobFailureReasons", [reason]):
                return rule["action"]
        return "RestartJobSet"

    assert jobset_action("BackoffLimitExceeded") == "RestartJobSet"
    assert jobset_action("PodFailurePolicy") == "FailJobSet"  # exit 76 or 78: FailJob
    assert jobset_action("DeadlineExceeded") == "FailJobSet"
    # Once per preemption the run survives (the default 20) and the two crash retries.
    assert policy["maxRestarts"] == 20 + 2


def test_the_deadline_is_the_jobs_hours_in_seconds(programs):
    specs = _job_specs(programs["aws"])
    solo = next(s for n, s in specs.items() if n.startswith("train-solo-"))
    assert solo["activeDeadlineSeconds"] == 5400  # 1.5 h
    assert specs["train-nightly"]["activeDeadlineSeconds"] == 86400  # the default 24 h


def test_policy_reading_sees_a_swapped_action():
    policy = {"rules": [{"action": "Count", "onExitCodes": {"operator": "In", "values": [75]}}]}
    assert _action(policy, exit_code=75) == "Count"
    assert _action({"rules": []}, condition="DisruptionTarget") == "Count"


# --- schedules -------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_a_schedule_runs_the_job_and_a_trigger_gets_a_suspended_template(programs, stack):
    crons = _training(programs[stack], CRONJOB)
    nightly, retrain = crons["train-nightly"]["spec"], crons["train-retrain"]["spec"]
    assert (nightly["schedule"], nightly.get("suspend", False)) == ("0 2 * * 0", False)
    assert retrain.get("suspend", False) is (stack != "hybrid")
    for spec in (nightly, retrain):
        # Two pods of one run would write the same checkpoints.
        assert spec["concurrencyPolicy"] == "Forbid"


# --- the harness and the pod -----------------------------------------------------------------


def _trainer(spec: dict) -> dict:
    (trainer,) = [c for c in spec["template"]["spec"]["containers"] if c["name"] == "trainer"]
    return trainer


def _argv(trainer: dict) -> tuple[dict[str, str], list[str]]:
    """The harness's flags and the job's command after `--`."""
    command = trainer["command"]
    assert command[:3] == HARNESS
    cut = command.index("--")
    flags = command[3:cut]
    return dict(zip(flags[::2], flags[1::2], strict=True)), command[cut + 1:]


@pytest.mark.parametrize("stack", STACKS)
def test_the_trainer_runs_under_the_harness_with_the_run_and_the_grace(programs, stack):
    raw, cloud = training_spec(stack), STACKS[stack]
    specs = _job_specs(programs[stack])
    solo = next(s for n, s in specs.items() if n.startswith("train-solo-"))
    flags, command = _argv(_trainer(solo))
    assert command == COMMAND
    run = json.loads(flags["--run-config"])
    assert (run["job"], run["image"], run["seed"]) == ("solo", IMAGE, 1234)
    assert (flags["--model"], flags["--pool"]) == (raw["models"][0]["name"], _pool(raw)["name"])
    assert (flags["--checkpoint-interval"], flags["--keep"], flags["--max-preemptions"]) == (
        "1200", "3", "20")
    # On a cloud's spot pool the grace is the part of the notice a pod may use; on premises
    # (nothing is reclaimed) the checkpoint's 10 s and 30 s to push and exit.
    grace = POD_GRACE[cloud] if cloud else 10 + 30
    for name, spec in specs.items():
        assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == grace, name
        assert _argv(_trainer(spec))[0]["--grace"] == str(grace), name
    # The output is signed with the key mounted from the Secret the sync Job uses.
    key = flags["--signing-key"]
    mounts = {m["mountPath"]: m for m in _trainer(solo)["volumeMounts"]}
    assert key.rsplit("/", 1)[0] in mounts and mounts[key.rsplit("/", 1)[0]]["readOnly"]


@pytest.mark.parametrize("stack", STACKS)
def test_interruptions_go_to_the_pushgateway_beside_the_job_except_on_a_hybrids_cloud(
    programs, stack
):
    raw, records = training_spec(stack), programs[stack]
    # (cluster, namespace, name): a hybrid has a namespace of one name on each cluster.
    services = {(r["provider"], r["obj"]["metadata"]["namespace"], r["obj"]["metadata"]["name"]):
                r["obj"] for r in records if r["type"] == "kubernetes:core/v1:Service"}
    objects = {r["obj"]["metadata"]["name"]: r for r in records
               if r["type"] in (JOB, JOBSET, CRONJOB) and "TrainingJobs" in r["urn"]}
    for name, spec in _job_specs(records).items():
        flags, _ = _argv(_trainer(spec))
        cluster = objects[name]["provider"]
        namespace = objects[name]["obj"]["metadata"]["namespace"]
        if raw["topology"] == "hybrid":
            # The jobs run on the cloud cluster, which has no Pushgateway.
            assert "--pushgateway" not in flags, name
            assert (cluster, namespace, "pushgateway") not in services
            assert any(key[1:] == (namespace, "pushgateway") for key in services)
            continue
        port = services[(cluster, namespace, "pushgateway")]["spec"]["ports"][0]["port"]
        assert flags["--pushgateway"] == f"http://pushgateway.{namespace}.svc:{port}", name


@pytest.mark.parametrize("stack", STACKS)
def test_the_init_container_copies_the_harness_from_model_tools(programs, stack):
    for name, spec in _job_specs(programs[stack]).items():
        pod = spec["template"]["spec"]
        (init,) = pod["initContainers"]
        assert init["image"] == versions.image("model-tools"), name
        assert init["command"][:3] == ["cp", "-a", "/opt/llm-platform/."]
        staged = {m["name"] for m in init["volumeMounts"] if m["mountPath"] == init["command"][3]}
        harness = [m for m in _trainer(spec)["volumeMounts"]
                   if m["mountPath"] == "/opt/llm-platform"]
        assert [m["name"] for m in harness] == list(staged) and harness[0]["readOnly"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["shm"]["emptyDir"]["medium"] == "Memory"
        env = {e["name"]: e["value"] for e in _trainer(spec)["env"]}
        scratch = next(m["mountPath"] for m in _trainer(spec)["volumeMounts"]
                       if m["name"] == "scratch")
        for var in ("CHECKPOINT_DIR", "OUTPUT_DIR", "HOME", "TMPDIR"):
            assert env[var].startswith(scratch), (name, var)
        assert "emptyDir" in volumes["scratch"]


# --- admission: the restricted profile, the pool's taints, the node's size --------------------

ALLOWED_VOLUMES = {"emptyDir", "secret", "configMap", "projected", "persistentVolumeClaim",
                   "ephemeral", "downwardAPI"}


def restricted_problems(pod: dict) -> list[str]:
    """What the restricted Pod Security Standard refuses (kubernetes.io/docs/concepts/
    security/pod-security-standards, Restricted)."""
    problems = []
    sec = pod.get("securityContext", {})
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            problems.append(key)
    for v in pod.get("volumes", []):
        if not set(v) - {"name"} <= ALLOWED_VOLUMES:
            problems.append(f"volume {v['name']}")
    for c in [*pod.get("initContainers", []), *pod["containers"]]:
        csec = c.get("securityContext", {})
        if csec.get("privileged") or csec.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{c['name']}: privilege escalation")
        if csec.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{c['name']}: capabilities")
        if not (csec.get("runAsNonRoot") or sec.get("runAsNonRoot")):
            problems.append(f"{c['name']}: may run as root")
        if 0 in (csec.get("runAsUser"), sec.get("runAsUser")):
            problems.append(f"{c['name']}: UID 0")
        seccomp = csec.get("seccompProfile") or sec.get("seccompProfile") or {}
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{c['name']}: seccomp")
        if c.get("ports") and any(p.get("hostPort") for p in c["ports"]):
            problems.append(f"{c['name']}: hostPort")
    return problems


@pytest.mark.parametrize("stack", STACKS)
def test_every_training_pod_meets_the_restricted_profile_its_namespace_enforces(programs, stack):
    records = programs[stack]
    for name, spec in _job_specs(records).items():
        assert restricted_problems(spec["template"]["spec"]) == [], name
    namespaces = {r["obj"]["metadata"]["name"]: r["obj"] for r in records
                  if r["type"] == "kubernetes:core/v1:Namespace"}
    job = next(iter(_training(records, JOB).values()))
    labels = namespaces[job["metadata"]["namespace"]]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_restricted_check_sees_a_root_container(programs):
    spec = next(iter(_job_specs(programs["aws"]).values()))
    pod = copy.deepcopy(spec["template"]["spec"])
    pod["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    pod["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    assert restricted_problems(pod) == ["volume host", "trainer: privilege escalation"]


class _Plan:
    """The plan.json form test_scheduling's helpers read."""

    def __init__(self, records: list[dict]):
        self.records = records

    def resources(self, type_: str) -> list[dict]:
        return [r for r in self.records if r["type"] == type_]


@pytest.mark.parametrize("stack", STACKS)
def test_training_pods_land_on_their_pool_tolerate_its_taints_and_fit_its_nodes(
    programs, stack
):
    """Per node: as many workers as its GPUs allow, with every DaemonSet that lands there,
    within the node's allocatable, for requests and limits; and a toleration for every taint
    the pool's nodes carry (the GPU taint and, on AKS spot, the one the cloud adds)."""
    raw, plan = training_spec(stack), _Plan(programs[stack])
    pool = _pool(raw)
    taints = _pool_taints(plan, raw)[pool["name"]]
    allocatable = _pool_allocatable(raw, pool)
    assert taints and allocatable is not None
    daemonsets = [d for d in plan.resources(DAEMONSET) if _selects(d, _labels(pool))]
    ds_cpu = sum(_effective(_pod(d), "requests")[0] for d in daemonsets)
    ds_mem = sum(_effective(_pod(d), "requests")[1] for d in daemonsets)
    for name, spec in _job_specs(programs[stack]).items():
        pod = spec["template"]["spec"]
        assert pod["nodeSelector"] == _labels(pool), name
        for taint in taints:
            assert _tolerates(pod["tolerations"], taint), (name, taint)
        gpus = int(_trainer(spec)["resources"]["limits"]["nvidia.com/gpu"])
        per_node = pool.get("gpus_per_node", 1) // gpus
        for kind in ("requests", "limits"):
            cpu, mem = _effective(pod, kind)
            assert per_node * cpu + ds_cpu <= allocatable[0], (name, kind)
            assert per_node * mem + ds_mem <= allocatable[1], (name, kind)


def test_an_aks_spot_pool_is_tolerated_by_its_cloud_taint(programs):
    spec = next(iter(_job_specs(programs["azure"]).values()))
    assert {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal",
            "value": "spot", "effect": "NoSchedule"} in spec["template"]["spec"]["tolerations"]


# --- on-demand, and the JobSet release -------------------------------------------------------


def test_a_job_on_an_on_demand_pool_carries_its_reason():
    raw = training_spec("aws")
    _pool(raw)["capacity"] = "on-demand"
    reason = "the contract deadline cannot absorb a spot reclaim"
    raw["training"]["jobs"] = [_job(raw, "solo", on_demand_reason=reason)]
    records = _records("aws", raw)
    (job,) = _training(records, JOB).values()
    key = "llm-platform.dev/on-demand-reason"
    assert job["metadata"]["annotations"][key] == reason
    assert job["spec"]["template"]["metadata"]["annotations"][key] == reason
    # Off spot the grace is the checkpoint's 10 s and 30 s to push and exit.
    assert job["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 40
    assert not _training(records, JOBSET) and not [
        r for r in records if r["type"].startswith("kubernetes:helm.sh/")
        and r["inputs"]["chart"].endswith("/jobset")]


@pytest.mark.parametrize("stack", STACKS)
def test_jobsets_wait_for_the_pinned_jobset_release_and_set_only_its_keys(programs, stack):
    records = programs[stack]
    (release,) = [r for r in records if r["type"].startswith("kubernetes:helm.sh/")
                  and r["inputs"]["chart"].endswith("/jobset")]
    pin = versions.chart("jobset")
    assert release["inputs"]["chart"] == f"{pin.repo}/{pin.chart}"
    assert release["inputs"]["version"] == pin.version
    vendored = pinned.chart_values("jobset", pin.version)
    assert not pinned.unknown_value_keys(release["inputs"]["values"], vendored)
    image = release["inputs"]["values"]["image"]
    assert f"{image['repository']}:{image['tag']}" == versions.image("jobset-controller")
    (js,) = [r for r in records if r["type"] == JOBSET]
    assert release["urn"] in js["dependencies"]


# --- the builders, with an identity the foundations will give ----------------------------------


def _hand_made(**changes: Any):
    from components.kubernetes.facts import ArtifactStore, PoolScheduling, Taint, WorkloadIdentity
    from components.kubernetes.training.args import TrainingJobArgs
    from components.scheduling import PodResources, Resources
    from components.training.contract import HarnessConfig

    run = RunConfig(job="ft", image=IMAGE, command=("train",), base_hf_id="org/base",
                    base_revision="c" * 40, dataset_uri="gs://d/x", dataset_version="1")
    values = dict(
        name="ft", image=IMAGE, command=("train",),
        harness=HarnessConfig(run=run, store="gs://bucket", model="m", pool="train",
                              checkpoint_interval_s=600, keep_checkpoints=3,
                              max_preemptions=5, grace_s=25),
        pool=PoolScheduling(max_gpus=8, node_selector={"pool": "train"},
                            taints=(Taint("nvidia.com/gpu", "NoSchedule", "present"),)),
        gpus_per_worker=1, workers=1,
        resources=PodResources(Resources(2000, 12288), Resources(8000, 60000)),
        shm_mib=4096, active_deadline_s=3600,
        identity=WorkloadIdentity(pod_labels={"azure.workload.identity/use": "true"},
                                  env={"AZURE_CLIENT_ID": "abc"}, token_audience="sts"),
        store=ArtifactStore(uri="gs://bucket", rclone_env={}, models_path="x",
                            fsspec_uri="gs://bucket", fsspec_env={"GOOGLE_CLOUD_PROJECT": "p"}),
        signing_key_secret=None, labels={"app.kubernetes.io/name": "train-ft"},
    )
    return TrainingJobArgs(**{**values, **changes})


def test_the_trainers_identity_reaches_its_pod():
    from components.kubernetes.training import objects

    pod = objects.pod_template(_hand_made(), "tools:1")
    assert pod.metadata.labels["azure.workload.identity/use"] == "true"
    (trainer,) = pod.spec.containers
    env = {e.name: e.value for e in trainer.env}
    assert env["AZURE_CLIENT_ID"] == "abc" and env["GOOGLE_CLOUD_PROJECT"] == "p"
    token = [v for v in pod.spec.volumes if v.name == "cloud-token"]
    assert token and token[0].projected.sources[0].service_account_token.audience == "sts"
    # No signing key: nothing mounted, and the harness is not told of one.
    assert "--signing-key" not in trainer.command
    assert not [v for v in pod.spec.volumes if v.name == "signing-key"]


def test_an_on_prem_store_is_mounted_read_write_for_checkpoints():
    from components.kubernetes.facts import ArtifactStore
    from components.kubernetes.training import objects

    store = ArtifactStore(uri="file:///artifacts", rclone_env={}, models_path="x",
                          fsspec_uri="file:///artifacts", claim="model-store")
    pod = objects.pod_template(_hand_made(store=store, identity=None), "tools:1")
    (claim,) = [v for v in pod.spec.volumes if v.persistent_volume_claim is not None]
    assert (claim.persistent_volume_claim.claim_name,
            claim.persistent_volume_claim.read_only) == ("model-store", False)
    (mount,) = [m for m in pod.spec.containers[0].volume_mounts if m.name == claim.name]
    assert (mount.mount_path, mount.read_only) == ("/artifacts", False)


def test_long_job_names_are_fitted_to_what_each_kind_accepts():
    from components.kubernetes.training import objects

    long = "a" * 63
    args = _hand_made(name=long)
    assert len(objects.run_name(args)) <= 63
    assert len(objects.run_name(_hand_made(name=long, workers=4))) <= 63 - len("-workers-0-63-abcde")
    assert len(objects.cron_name(long)) <= 52
    # Short names are left alone: the name is the job's and its run's.
    assert objects.run_name(_hand_made()) == f"train-ft-{_hand_made().harness.run.run_id()}"


@pytest.mark.parametrize("stack", ["aws", "hybrid"])
def test_the_components_children_derive_their_names(programs, stack):
    records = programs[stack]
    (component,) = [r for r in records if r["type"] == "llm-platform:kubernetes:TrainingJobs"]
    children = [r for r in records if r["parent"] == component["urn"]]
    assert len(children) >= 5
    for r in children:
        assert r["name"].startswith(component["name"]), r["name"]
