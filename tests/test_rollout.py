"""A model with a `rollout` block is an Argo Rollouts Rollout: its steps, its analyses and
its Services as an operator reads them in `kubectl argo rollouts get`, built by the pure
builders with hand-made Args; then the real program's objects for onprem-mixed (mid-upgrade)
and a variant, validated against the CRDs of the pinned chart argo-rollouts 2.41.0."""

from __future__ import annotations

import copy
from dataclasses import replace

import kubernetes_validate
import pinned
import pytest
from conftest import ROOT, stack_spec
from test_kubernetes_builders import VLLM, make_args, make_plan

from components import canary
from components.catalog import versions
from components.kubernetes import resolve, rollouts
from components.kubernetes.facts import STORE_MOUNT, ArtifactStore
from components.kubernetes.model_server import analysis, network, pod, rollout, scaling
from components.kubernetes.model_server.args import (
    AbortThresholds,
    AnalysisRuntime,
    CanaryStep,
    EvalGate,
    ModelSync,
    ModelVersion,
    RolloutArgs,
    Shadow,
)
from components.observability.analysis import PromMetric
from components.plan.manifests import is_object, to_object
from components.plan.runner import run_program
from components.spec import load_spec

REVISION = "a" * 40
RUNTIME = AnalysisRuntime(
    image="ghcr.io/llm-platform/model-tools:0.1.0",
    prometheus_url="http://prom.monitoring.svc:9090",
    pushgateway_url="http://pushgateway.serving.svc:9091",
)
GATE = EvalGate(
    golden_uri="file:///artifacts/evals/chat/golden.jsonl",
    reports_uri="file:///artifacts/evals/chat/reports/",
    min_score=0.8,
    max_regression=0.03,
)
CANARY = (PromMetric("error-ratio", "vector(1)", "result[0] > 1.5"),)
SHADOW = (PromMetric("shadow-score", "vector(1)", "result[0] < 0.8"),)


def make_rollout(**changes) -> RolloutArgs:
    values = dict(
        steps=(CanaryStep(5, 900), CanaryStep(25, 3600), CanaryStep(50, 7200)),
        eval_gate=GATE,
        runtime=RUNTIME,
        canary_metrics=CANARY,
    )
    return RolloutArgs(**{**values, **changes})


def spec_of(rollout_args: RolloutArgs, **server) -> dict:
    args = make_args(rollout=rollout_args, **server)
    return rollout.rollout_spec(args, pod.pod_parts(args, None, None), rollout_args, REVISION)


# --- the Rollout ----------------------------------------------------------------------------


def test_steps_are_the_gate_then_approval_then_each_weight_and_its_pause():
    spec = spec_of(make_rollout(approval=True, shadow=Shadow(sample_pct=5, duration_s=3600)))
    steps = spec["strategy"]["canary"]["steps"]
    gate = steps[0]["experiment"]
    assert gate["templates"] == [{
        "name": "candidate", "specRef": "canary", "replicas": 1,
        "metadata": {"labels": {"llm-platform.dev/serving": "candidate"}},
        "service": {"name": "chat-candidate"},
    }]
    assert gate["analyses"] == [
        {"name": "eval-gate", "templateName": "chat-eval-gate",
         "args": [{"name": "revision", "value": REVISION}], "requiredForCompletion": True},
        {"name": "shadow", "templateName": "chat-shadow"},
    ]
    # The shadow's hour, as a Go duration.
    assert gate["duration"] == "3600s"
    assert steps[1:] == [
        {"pause": {}},  # no duration: only `kubectl argo rollouts promote` ends it
        {"setWeight": 5}, {"pause": {"duration": "900s"}},
        {"setWeight": 25}, {"pause": {"duration": "3600s"}},
        {"setWeight": 50}, {"pause": {"duration": "7200s"}},
    ]
    background = spec["strategy"]["canary"]["analysis"]
    # The first setWeight is step 2 (after the gate and the approval).
    assert background == {
        "templates": [{"templateName": "chat-canary-analysis"}],
        "startingStep": 2,
        "args": [
            {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
            {"name": "stable-hash", "valueFrom": {"podTemplateHashValue": "Stable"}},
        ],
    }


def test_without_shadow_or_approval_the_gate_ends_when_the_gate_does_and_traffic_follows():
    spec = spec_of(make_rollout(steps=(CanaryStep(10, 60),)))
    steps = spec["strategy"]["canary"]["steps"]
    gate = steps[0]["experiment"]
    # No duration: the experiment completes once the required gate has (experiment.md, 6).
    assert "duration" not in gate and [a["name"] for a in gate["analyses"]] == ["eval-gate"]
    assert steps[1:] == [{"setWeight": 10}, {"pause": {"duration": "60s"}}]
    assert spec["strategy"]["canary"]["analysis"]["startingStep"] == 1


def test_rollout_keeps_the_deployments_pod_template_and_selector_and_labels_it_live():
    args = make_args(rollout=make_rollout())
    parts = pod.pod_parts(args, None, None)
    spec = rollout.rollout_spec(args, parts, args.rollout, REVISION)
    deployment = pod.deployment_spec(args, parts)
    assert spec["selector"] == {"matchLabels": deployment.selector.match_labels}
    assert spec["template"].spec == deployment.template.spec
    assert spec["template"].metadata.labels == {
        **deployment.template.metadata.labels, "llm-platform.dev/serving": "live"}
    assert spec["replicas"] == 1
    canary_spec = spec["strategy"]["canary"]
    assert (canary_spec["canaryService"], canary_spec["stableService"]) == (
        "chat-canary", "chat-stable")
    # The arithmetic the spec's spare-GPU check assumes (components/canary.py).
    assert (canary_spec["maxSurge"], canary_spec["maxUnavailable"]) == (1, 0)
    assert "trafficRouting" not in canary_spec


def test_progress_deadline_outlasts_a_model_load():
    # Argo's default is 600 s; a 1200 s load would fail the candidate's experiment.
    spec = spec_of(make_rollout(), plan=make_plan(startup_budget_s=1200))
    assert spec["progressDeadlineSeconds"] == 2400


# --- Services, autoscaler, network policy ---------------------------------------------------


def test_model_service_selects_live_pods_and_side_services_carry_another_component():
    selector = {"app.kubernetes.io/name": "chat", "app.kubernetes.io/component": "model-server"}
    live = {**selector, "llm-platform.dev/serving": "live"}
    assert rollout.live_selector(selector) == live
    side = rollout.side_service_spec(VLLM, selector)
    assert side.selector == live
    assert [(p.name, p.port) for p in side.ports] == [("http", 8000)]
    labels = rollout.side_service_labels({**selector, "llm-platform.dev/model": "chat"}, "canary")
    # The model's ServiceMonitor selects Services by `selector`: not these.
    assert labels["app.kubernetes.io/component"] == "model-server-canary"


def test_autoscaler_scales_the_rollout():
    spec = scaling.hpa_spec(make_plan(), VLLM, "chat", ("argoproj.io/v1alpha1", "Rollout"))
    ref = spec.scale_target_ref
    assert (ref.api_version, ref.kind, ref.name) == ("argoproj.io/v1alpha1", "Rollout", "chat")


def test_analysis_jobs_reach_the_model_api_only_when_it_rolls_out():
    def peers(analysis_on: bool) -> list[dict]:
        (api,) = network.network_policy_spec("monitoring", {"x": "y"}, VLLM, analysis_on).ingress
        return [p.pod_selector.match_labels for p in api.from_ if p.pod_selector]

    assert peers(False) == [{"app.kubernetes.io/component": "gateway"}]
    assert peers(True) == [{"app.kubernetes.io/component": "gateway"},
                           {"app.kubernetes.io/component": "model-analysis"}]


# --- AnalysisTemplates ----------------------------------------------------------------------


def _job(metric: dict):
    return metric["provider"]["job"]["spec"]


def test_eval_gate_is_one_job_that_fails_closed():
    previous = "b" * 40
    args = make_args(rollout=make_rollout(), version=ModelVersion(REVISION, previous))
    templates = analysis.templates(args, args.rollout, RUNTIME)
    assert set(templates) == {"chat-eval-gate", "chat-canary-analysis"}
    gate = templates["chat-eval-gate"]
    assert gate["args"] == [{"name": "revision"}]
    (metric,) = gate["metrics"]
    assert metric["name"] == "eval-gate" and "interval" not in metric
    job = _job(metric)
    assert job.backoff_limit == 0 and job.active_deadline_seconds == 3600
    pod_spec = job.template.spec
    assert pod_spec.service_account_name == "model-publisher"
    assert pod_spec.restart_policy == "Never" and pod_spec.automount_service_account_token is False
    (container,) = pod_spec.containers
    assert container.image == RUNTIME.image
    assert container.security_context.read_only_root_filesystem is True
    assert container.command == [
        "python", "-m", "components.lifecycle.evalgate",
        "--model", "chat", "--revision", "{{args.revision}}", "--incumbent-revision", previous,
        "--candidate-url", "http://chat-candidate:8000/v1",
        "--incumbent-url", "http://chat-stable:8000/v1",
        "--golden", GATE.golden_uri, "--report", GATE.reports_uri,
        "--min-score", "0.8", "--max-regression", "0.03",
        "--pushgateway", RUNTIME.pushgateway_url,
    ]
    assert job.template.metadata.labels["app.kubernetes.io/component"] == "model-analysis"


def test_gate_asks_the_judge_at_its_service_with_the_rubric_as_a_file():
    judged = replace(GATE, judge_model="analyst", judge_rubric="Score 1 if correct.")
    runtime = replace(RUNTIME, judge_url="http://analyst:8000/v1")
    args = make_args(rollout=make_rollout(eval_gate=judged))
    pod_spec = _job(analysis.templates(args, args.rollout, runtime)["chat-eval-gate"][
        "metrics"][0]).template.spec
    (container,) = pod_spec.containers
    # No version: the stable revision is unknown to the gate's report.
    assert container.command[container.command.index("--incumbent-revision") + 1] == "unknown"
    assert container.command[-6:] == [
        "--judge-url", "http://analyst:8000/v1", "--judge-model", "analyst",
        "--rubric-file", "/etc/eval-rubric/rubric.txt"]
    (rubric,) = [v for v in pod_spec.volumes if v.name == "rubric"]
    assert rubric.config_map.name == "chat-eval-rubric"
    assert {m.name: m.mount_path for m in container.volume_mounts}["rubric"] == "/etc/eval-rubric"


def test_canary_analysis_runs_the_prometheus_metrics_and_the_refusal_comparison():
    args = make_args(rollout=make_rollout(abort=AbortThresholds(refusal_rate_increase=0.05)))
    spec = analysis.templates(args, args.rollout, RUNTIME)["chat-canary-analysis"]
    assert spec["args"] == [{"name": "canary-hash"}, {"name": "stable-hash"}]
    error, refusal = spec["metrics"]
    assert error == CANARY[0].argo(RUNTIME.prometheus_url)
    assert error["provider"]["prometheus"]["address"] == "http://prom.monitoring.svc:9090"
    assert refusal["name"] == "refusal-rate" and refusal["interval"] == "30m"
    assert _job(refusal).template.spec.containers[0].command == [
        "python", "-m", "components.lifecycle.compare", "--model", "chat",
        "--canary-url", "http://chat-canary:8000/v1", "--stable-url", "http://chat-stable:8000/v1",
        "--golden", GATE.golden_uri, "--max-increase", "0.05",
    ]


def test_shadow_template_exists_with_shadow_traffic_only():
    args = make_args(rollout=make_rollout(shadow=Shadow(5, 600), shadow_metrics=SHADOW))
    templates = analysis.templates(args, args.rollout, RUNTIME)
    assert templates["chat-shadow"] == {"metrics": [SHADOW[0].argo(RUNTIME.prometheus_url)]}


def test_analysis_jobs_write_to_an_on_prem_claim_store_as_the_publisher():
    store = ArtifactStore(uri="file:///artifacts", rclone_env={}, models_path="artifacts:models",
                          fsspec_uri="file:///artifacts", claim="model-artifacts")
    assert STORE_MOUNT == "/artifacts"
    sync = ModelSync(source="hf://org/chat-model", store=store, identity=None,
                     signing_key_secret="model-signing-key")
    args = make_args(rollout=make_rollout(), version=ModelVersion(REVISION, sync=sync))
    pod_spec = _job(analysis.templates(args, args.rollout, RUNTIME)["chat-eval-gate"][
        "metrics"][0]).template.spec
    claims = [v.persistent_volume_claim.claim_name for v in pod_spec.volumes
              if v.persistent_volume_claim]
    assert claims == ["model-artifacts"]
    mounts = {m.name: m.mount_path for m in pod_spec.containers[0].volume_mounts}
    assert mounts == {"tmp": "/tmp", "artifacts": "/artifacts"}


# --- the Argo Rollouts release --------------------------------------------------------------


def test_controller_values_are_the_charts_keys_with_metrics_scraped_and_no_dashboard():
    values = rollouts.values({"release": "prom"})
    vendored = pinned.chart_values("argo-rollouts", versions.chart("argo-rollouts").version)
    assert not pinned.unknown_value_keys(values, vendored)
    assert values["controller"]["metrics"] == {
        "enabled": True, "serviceMonitor": {"enabled": True, "additionalLabels": {"release": "prom"}}}
    assert values["dashboard"] == {"enabled": False}
    # The image the chart runs is the catalog's: quay.io/argoproj/argo-rollouts:v1.9.0.
    image = values["controller"]["image"]
    assert f"{image['registry']}/{image['repository']}:{image['tag']}" == versions.image(
        "argo-rollouts-controller")
    assert image["repository"] == "argoproj/argo-rollouts" and image["tag"] == "v1.9.0"


# --- the real program: onprem-mixed mid-upgrade, and a variant ------------------------------


def _variant() -> dict:
    """onprem-mixed with support-bot's rollout without shadow or approval, two steps."""
    raw = copy.deepcopy(stack_spec("onprem-mixed"))
    (bot,) = [m for m in raw["models"] if m["name"] == "support-bot"]
    bot["rollout"] = {"steps": [{"weight_pct": 20, "pause_minutes": 30},
                                {"weight_pct": 60, "pause_minutes": 30}]}
    return raw


@pytest.fixture(scope="module")
def programs() -> dict[str, list[dict]]:
    out = {}
    for name, raw in (("stack", stack_spec("onprem-mixed")), ("variant", _variant())):
        records = run_program("onprem-mixed", raw, ROOT)
        out[name] = [
            {"type": r.type, "deps": r.dependencies, "urn": r.urn,
             "obj": to_object(r) if is_object(r) else {"kind": r.type, "metadata": {}}}
            for r in records if r.type.startswith("kubernetes:")
        ]
    return out


def _kinds(objs: list[dict]) -> dict[tuple[str, str], dict]:
    return {(o["obj"]["kind"], o["obj"]["metadata"].get("name")): o for o in objs}


def test_every_rollout_object_validates_against_the_pinned_crds_and_kubernetes(programs):
    checked = set()
    for objs in programs.values():
        for o in objs:
            obj = o["obj"]
            name = obj["metadata"].get("name", "")
            if "apiVersion" not in obj:
                continue  # a chart release
            if not name.startswith("support-bot") and obj["kind"] != "HorizontalPodAutoscaler":
                continue
            if pinned.is_custom(obj):
                assert not pinned.crd_errors(obj), (obj["kind"], name, pinned.crd_errors(obj))
            else:
                kubernetes_validate.validate(obj, "1.30.0", strict=True)  # raises on any error
            checked.add((obj["kind"], name))
    assert {("Rollout", "support-bot"), ("AnalysisTemplate", "support-bot-eval-gate"),
            ("AnalysisTemplate", "support-bot-canary-analysis"),
            ("AnalysisTemplate", "support-bot-shadow"), ("Service", "support-bot"),
            ("Service", "support-bot-stable"), ("Service", "support-bot-canary"),
            ("HorizontalPodAutoscaler", "support-bot")} <= checked


def test_crd_validation_sees_a_misspelt_rollout_field(programs):
    (ro,) = [o["obj"] for o in programs["stack"] if o["obj"]["kind"] == "Rollout"]
    typo = copy.deepcopy(ro)
    typo["spec"]["strategy"]["canary"]["steps"][2] = {"setweight": 5}
    assert any("setweight" in e for e in pinned.crd_errors(typo))
    bad_ref = copy.deepcopy(ro)
    del bad_ref["spec"]["strategy"]["canary"]["steps"][0]["experiment"]["templates"][0]["specRef"]
    assert any("'specRef' is a required property" in e for e in pinned.crd_errors(bad_ref))


def test_the_stack_mid_upgrade_rolls_support_bot_and_deploys_analyst(programs):
    kinds = _kinds(programs["stack"])
    ro = kinds[("Rollout", "support-bot")]["obj"]
    assert ("Deployment", "support-bot") not in kinds and ("Deployment", "analyst") in kinds
    steps = ro["spec"]["strategy"]["canary"]["steps"]
    # The stack: approval and an hour of 5 % shadow, then the seeds' 5/25/50 steps.
    assert steps[0]["experiment"]["duration"] == "3600s" and steps[1] == {"pause": {}}
    assert [s["setWeight"] for s in steps if "setWeight" in s] == [5, 25, 50]
    assert steps[0]["experiment"]["analyses"][0]["args"] == [
        {"name": "revision", "value": "a09a35458c702b33eeacc393d103063234e8bc28"}]
    gate = kinds[("AnalysisTemplate", "support-bot-eval-gate")]["obj"]
    command = gate["spec"]["metrics"][0]["provider"]["job"]["spec"]["template"]["spec"][
        "containers"][0]["command"]
    assert command[:3] == ["python", "-m", "components.lifecycle.evalgate"]
    # The on-prem store is the claim at /artifacts: the golden set and the reports are under
    # its evals/support-bot/, and the stable revision is the stack's previous_revision.
    flags = dict(zip(command[3::2], command[4::2], strict=True))
    assert flags["--golden"] == "file:///artifacts/evals/support-bot/golden.jsonl"
    assert flags["--report"] == "file:///artifacts/evals/support-bot/reports/"
    assert flags["--incumbent-revision"] == "bb46c15ee4bb56c5b63245ef50fd7637234d6f75"
    assert flags["--pushgateway"] == "http://pushgateway.llm-mixed.svc:9091"
    # Only the rolling model's API admits the analysis Jobs (analyst judges nothing here).
    for model, admits in (("support-bot", True), ("analyst", False)):
        peers = kinds[("NetworkPolicy", model)]["obj"]["spec"]["ingress"][0]["from"]
        analysis_peer = {"podSelector": {"matchLabels": {
            "app.kubernetes.io/component": "model-analysis"}}}
        assert (analysis_peer in peers) is admits, model
    assert gate["spec"]["metrics"][0]["provider"]["job"]["spec"]["template"]["spec"][
        "containers"][0]["image"] == versions.image("model-tools")
    hpa = kinds[("HorizontalPodAutoscaler", "support-bot")]["obj"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "support-bot"}
    svc = kinds[("Service", "support-bot")]["obj"]
    assert svc["spec"]["selector"]["llm-platform.dev/serving"] == "live"
    assert ro["spec"]["template"]["metadata"]["labels"]["llm-platform.dev/serving"] == "live"


def test_rollout_and_templates_wait_for_the_argo_rollouts_release(programs):
    for objs in programs.values():
        kinds = _kinds(objs)
        (release,) = [o for o in objs if o["type"] == "kubernetes:helm.sh/v4:Chart"
                      and "argo-rollouts" in o["urn"]]
        names = [k for k in kinds if k[0] in ("Rollout", "AnalysisTemplate")]
        assert names
        for key in names:
            assert release["urn"] in kinds[key]["deps"], key
        # The Rollout waits for its templates too, so no run starts before they exist.
        ro = kinds[("Rollout", "support-bot")]
        for key in names:
            if key[0] == "AnalysisTemplate":
                assert kinds[key]["urn"] in ro["deps"], key
        ns = kinds[("Namespace", rollouts.NAMESPACE)]["obj"]
        assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_variant_has_no_shadow_and_its_own_steps(programs):
    kinds = _kinds(programs["variant"])
    assert ("AnalysisTemplate", "support-bot-shadow") not in kinds
    steps = kinds[("Rollout", "support-bot")]["obj"]["spec"]["strategy"]["canary"]["steps"]
    assert steps[1:] == [{"setWeight": 20}, {"pause": {"duration": "1800s"}},
                         {"setWeight": 60}, {"pause": {"duration": "1800s"}}]
    assert canary.MAX_SURGE == 1


def test_the_gates_judge_is_asked_at_its_service_and_admits_the_gate():
    """support-bot's gate judged by another model of the stack, `grader`, which does not
    roll out: the gate asks grader's Service, and grader's API admits the analysis Jobs."""
    raw = copy.deepcopy(stack_spec("onprem-mixed"))
    bot = next(m for m in raw["models"] if m["name"] == "support-bot")
    grader = {k: v for k, v in copy.deepcopy(bot).items()
              if k not in ("rollout", "eval", "previous_revision")}
    raw["models"].append({**grader, "name": "grader"})
    bot["eval"]["judge"] = {"model": "grader", "rubric": "Score 1 if right."}
    for team in raw["gateway"]["teams"]:
        team["models"] = [*team["models"], "grader"]
    spec = load_spec(raw).spec
    admits = {m.name: resolve.analysis_clients(spec, m) for m in spec.models}
    assert admits == {"support-bot": True, "analyst": False, "grader": True}
    (model,) = [m for m in spec.models if m.name == "support-bot"]
    assert resolve.analysis_runtime(spec, model).judge_url == "http://grader:8000/v1"
