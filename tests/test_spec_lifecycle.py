"""The spec's model-version checks (components/spec/checks.py lifecycle_problems): pinned
revisions, the eval gate, the rollout and the signing key, one edit per case, the exact
line a user reads. In process, so `make mutate` sees which check each case reaches; and
through the console script, one error line and exit 2 each."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import stack_spec, write_stack
from test_spec_gateway import _program_errors

from components.cli import main
from components.spec import SpecError, load_spec

S = "llm-platform:spec"
M = f"{S}.models[0]"
QWEN_CANDIDATE = "a09a35458c702b33eeacc393d103063234e8bc28"
QWEN_STABLE = "bb46c15ee4bb56c5b63245ef50fd7637234d6f75"
PRIVATE_PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n"
    "-----END PRIVATE KEY-----\n"
)


def mixed(edit: Callable[[dict], object] | None = None) -> dict:
    """onprem-mixed (support-bot mid-upgrade, with a rollout), edited."""
    raw = copy.deepcopy(stack_spec("onprem-mixed"))
    if edit is not None:
        edit(raw)
    return raw


def bot(raw: dict) -> dict:
    return raw["models"][0]


def problems(raw: dict) -> list[str]:
    with pytest.raises(SpecError) as exc:
        load_spec(raw)
    return exc.value.problems


def test_the_example_is_a_model_mid_upgrade():
    env = load_spec(mixed())
    model = env.spec.models[0]
    assert (model.name, model.revision, model.previous_revision) == (
        "support-bot", QWEN_CANDIDATE, QWEN_STABLE)
    assert model.rollout is not None and model.rollout.approval
    assert [(s.weight_pct, s.pause_minutes) for s in model.rollout.steps] == [
        (5, 15), (25, 60), (50, 120)]
    assert env.spec.has_artifact_store and env.spec.lifecycle.signing is not None
    # The signing key is read from a Secret made by hand: render mode reads no secret.
    assert env.spec.secret_keys() == {}
    assert env.warnings == []


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda r: bot(r).update(revision="main"),
     f"{M}.revision: 'main' is not pinned: a Hub revision is the repository's 40-hex commit "
     "(a branch or tag such as main can move to other weights); for a fine-tune's own "
     "version set source.uri"),
    (lambda r: bot(r).update(previous_revision="v2"),
     f"{M}.previous_revision: 'v2' is not pinned: a Hub revision is the repository's 40-hex "
     "commit (a branch or tag such as main can move to other weights); for a fine-tune's own "
     "version set source.uri"),
    (lambda r: bot(r).update(previous_revision=QWEN_CANDIDATE),
     f"{M}.previous_revision: equals revision; name the revision this one replaces, or "
     "remove previous_revision"),
    (lambda r: bot(r).pop("revision"),
     f"{M}.revision: required: the model must be pinned to a 40-hex commit of the Hugging "
     "Face repository (its History tab, or huggingface_hub.model_info(hf_id).sha), or our "
     "own fine-tune's version (lowercase letters, digits, '.' and '-', at most 40, an "
     "optional leading 'v') with a source.uri"),
    (lambda r: bot(r).update(revision=QWEN_CANDIDATE.upper()),
     f"{M}.revision: String should match pattern '^v?[0-9a-z][0-9a-z.-]{{0,39}}$' "
     f"(got '{QWEN_CANDIDATE.upper()}')"),
], ids=["branch", "previous-version-without-source", "replaces-itself", "missing", "uppercase"])
def test_a_model_must_be_pinned(edit, expected):
    assert problems(mixed(edit)) == [expected]


def test_a_fine_tune_version_needs_its_source():
    raw = mixed(lambda r: bot(r).update(revision="v3", previous_revision="v2",
                                        source={"uri": "s3://acme-fine-tunes/support-bot/v3"}))
    assert load_spec(raw).spec.models[0].revision == "v3"


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda r: bot(r)["rollout"].update(abort={"error_ratio_factor": 1.0}),
     f"{M}.rollout.abort.error_ratio_factor: Input should be greater than 1 (got 1.0)"),
    (lambda r: bot(r)["rollout"].update(abort={"refusal_rate_increase": 1.5}),
     f"{M}.rollout.abort.refusal_rate_increase: Input should be less than or equal to 1 "
     "(got 1.5)"),
    (lambda r: bot(r)["rollout"]["shadow"].update(sample_pct=20),
     f"{M}.rollout.shadow.sample_pct: Input should be less than or equal to 10 (got 20)"),
    (lambda r: bot(r)["eval"].update(min_score=1.2),
     f"{M}.eval.min_score: Input should be less than or equal to 1 (got 1.2)"),
    (lambda r: bot(r)["eval"].update(max_regression=-0.01),
     f"{M}.eval.max_regression: Input should be greater than or equal to 0 (got -0.01)"),
    (lambda r: bot(r)["rollout"].update(steps=[{"weight_pct": 101, "pause_minutes": 5}]),
     f"{M}.rollout.steps[0].weight_pct: Input should be less than or equal to 100 (got 101)"),
], ids=["error-factor-1", "refusal-over-1", "shadow-20", "min-score", "regression", "step-101"])
def test_thresholds_out_of_range(edit, expected):
    assert problems(mixed(edit)) == [expected]


def test_steps_only_rise():
    steps = [{"weight_pct": w, "pause_minutes": 10} for w in (10, 50, 50, 30)]
    assert problems(mixed(lambda r: bot(r)["rollout"].update(steps=steps))) == [
        f"{M}.rollout.steps[2].weight_pct: must be over the step before's 50 (got 50); the "
        "canary's weight only rises",
        f"{M}.rollout.steps[3].weight_pct: must be over the step before's 50 (got 30); the "
        "canary's weight only rises",
    ]


def test_a_rollout_needs_the_gate_and_the_gate_needs_the_openai_api():
    assert problems(mixed(lambda r: bot(r).pop("eval"))) == [
        f"{M}.rollout: needs models[0].eval: the eval gate is the rollout's first step, "
        "before any traffic"]
    # analyst is served by Triton's KServe v2 API.
    raw = mixed(lambda r: r["models"][1].update(eval={"min_score": 0.7}))
    assert problems(raw) == [
        f"{S}.models[1].eval: model 'analyst' is served by tensorrt-llm, whose API is not the "
        "OpenAI API the gateway routes to, which the eval gate asks"]


@pytest.mark.parametrize(("judge", "expected"), [
    ("support-bot", None),
    ("analyst", f"{M}.eval.judge.model: model 'analyst' is served by tensorrt-llm, whose API "
                "is not the OpenAI API the gateway routes to: it cannot judge"),
    ("suport-bot", f"{M}.eval.judge.model: no model named 'suport-bot' (did you mean "
                   "'support-bot'?); models: support-bot, analyst"),
])
def test_the_judge_is_a_model_the_gateway_routes(judge, expected):
    raw = mixed(lambda r: bot(r)["eval"].update(judge={"model": judge, "rubric": "1 if polite"}))
    if expected is None:
        assert load_spec(raw).spec.models[0].eval.judge.model == "support-bot"
    else:
        assert problems(raw) == [expected]


def test_shadow_and_judge_need_the_gateway():
    def edit(raw: dict) -> None:
        raw.pop("gateway")
        bot(raw)["eval"]["judge"] = {"model": "support-bot", "rubric": "1 if polite"}

    assert problems(mixed(edit)) == [
        f"{M}.eval.judge: needs a gateway block: the judge is asked through the gateway; add "
        "gateway (README: Gateway) or remove judge",
        f"{M}.rollout.shadow: needs a gateway block: the gateway copies the requests to the "
        "candidate; add gateway (README: Gateway) or remove shadow",
    ]


def test_the_planned_support_bot_is_one_replica_of_one_gpu():
    # What the spare-GPU cases below are worked out from.
    plan = load_spec(mixed()).plans["support-bot"]
    assert (plan.replicas_min, plan.tensor_parallel, plan.gpus_min) == (1, 1, 1)


@pytest.mark.parametrize(("max_nodes", "fits"), [(2, False), (3, True)])
def test_a_rollout_needs_spare_gpus_for_the_canary(max_nodes, fits):
    # Pool l4 of 1-GPU nodes; support-bot holds 1 GPU at its 1 replica (the test above).
    # Argo's basic canary with maxSurge 1: at 5% one replica becomes 1 canary + 1 stable,
    # a surge of 1 pod, while the eval gate's candidate pod may still be scaling down: 2
    # pods x 1 GPU = 2 spare GPUs. 2 nodes: 2 GPUs - 1 held = 1 spare, too few; 3: enough.
    raw = mixed(lambda r: r["gpu_pools"][0].update(gpus_per_node=1, max_nodes=max_nodes))
    if fits:
        assert load_spec(raw).plans["support-bot"].replicas_min == 1
    else:
        assert problems(raw) == [
            f"{M}.rollout: the canary needs 2 spare GPUs in pool 'l4' (2 pods of 1 beside the "
            "1 planned: the eval gate's candidate and the surge) but its 2 GPUs hold 1 at the "
            "models' minimum replicas; raise the pool's max_nodes or remove rollout"]


def test_synced_models_need_the_signing_key():
    assert problems(mixed(lambda r: r.pop("lifecycle"))) == [
        f"{S}.lifecycle.signing: required: every model's revision is synced to "
        "onprem.artifact_claim and signed there; add signing.public_key and its "
        "private_key_secret (README: Shipping a new model version)"]
    raw = copy.deepcopy(stack_spec("aws"))
    raw.pop("lifecycle")
    assert problems(raw) == [
        f"{S}.lifecycle.signing: required: every model's revision is synced to the artifacts "
        "bucket and signed there; add signing.public_key and its private_key_secret (README: "
        "Shipping a new model version)"]


@pytest.mark.parametrize(("pem", "expected"), [
    (PRIVATE_PEM, "is a private key: put only the public key here, and the private key in the "
                  "Secret model-signing-key or the Pulumi secret private_key_secret names"),
    ("ssh-ed25519 AAAA", "must be a PEM public key (-----BEGIN PUBLIC KEY-----)"),
])
def test_the_public_key_is_an_ec_public_key(pem, expected):
    raw = copy.deepcopy(stack_spec("aws"))
    raw["lifecycle"]["signing"]["public_key"] = pem
    assert problems(raw) == [f"{S}.lifecycle.signing.public_key: {expected}"]


def test_the_private_key_is_a_pulumi_secret_outside_render_mode():
    assert load_spec(stack_spec("aws")).spec.secret_keys()["modelSigningKey"] == (
        "lifecycle", "signing", "private_key_secret")
    # The hybrid renders: its Secret model-signing-key is made with kubectl.
    assert "modelSigningKey" not in load_spec(stack_spec("hybrid")).spec.secret_keys()


def test_a_missing_signing_key_stops_the_program_with_one_line():
    secrets = load_spec(stack_spec("aws")).spec.secret_keys()
    given = {k: "x" for k in secrets if k != "modelSigningKey"}
    assert _program_errors(stack_spec("aws"), given) == [
        f"{S}.lifecycle.signing.private_key_secret: Pulumi secret 'llm-platform:modelSigningKey' "
        "is not set; run `pulumi config set --secret modelSigningKey <value>`"]


def test_a_rollout_without_a_store_is_warned_not_refused():
    raw = mixed(lambda r: (r["onprem"].pop("artifact_claim"), r.pop("lifecycle")))
    assert load_spec(raw).warnings == [
        f"{M}.rollout: no artifact store, so 'support-bot' is neither synced nor signed: each "
        "engine downloads its revision from the Hub, and the eval gate has no golden set to "
        "read; add onprem.artifact_claim"]


def test_a_hybrid_syncs_to_its_bucket_not_a_claim():
    raw = copy.deepcopy(stack_spec("hybrid"))
    raw["onprem"]["artifact_claim"] = {"size_gib": 100, "storage_class": "nfs-rwx"}
    assert problems(raw) == [
        f"{S}.onprem.artifact_claim: a hybrid's models are synced to its cloud bucket; remove "
        "artifact_claim"]


# --- through the console script: one line each, exit 2 ---

@pytest.mark.parametrize(("edit", "line"), [
    (lambda r: bot(r).update(revision="main"), f"error: {M}.revision: 'main' is not pinned"),
    (lambda r: r["gpu_pools"][0].update(gpus_per_node=1, max_nodes=2),
     f"error: {M}.rollout: the canary needs 2 spare GPUs in pool 'l4'"),
    (lambda r: bot(r)["rollout"].update(abort={"cost_per_request_factor": 0.5}),
     f"error: {M}.rollout.abort.cost_per_request_factor: Input should be greater than 1"),
], ids=["unpinned", "no-spare-gpus", "threshold"])
def test_the_cli_refuses_with_one_line(scratch_project: Path, capsys, edit, line):
    write_stack(scratch_project, "s", mixed(edit))
    with pytest.raises(SystemExit) as done:
        main(["plan", "--stack", "s", "--project", str(scratch_project)])
    stderr = capsys.readouterr().err
    assert done.value.code == 2, stderr
    assert "Traceback" not in stderr
    (only,) = stderr.splitlines()
    assert only.startswith(line)
