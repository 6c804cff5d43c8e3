"""How a pinned revision reaches the model server: the sync Job that copies it into the store
once, the fetch of exactly that revision, the verify init container before the engine, the
publisher's objects, the on-prem claim store, and the engines' Hub revision without a store.

Builders are called with hand-made Args; the component runs under Pulumi's mocks through the
offline plan's runner for a stack with a store and one without."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import replace

import pulumi
import pytest
from conftest import ROOT, stack_spec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from test_engines import RELEASES
from test_kubernetes_builders import make_args, make_plan

from components import catalog, scheduling
from components.catalog import versions
from components.engines import ENGINES
from components.kubernetes.facts import ArtifactStore, WorkloadIdentity
from components.kubernetes.model_server import pod, sync
from components.kubernetes.model_server.args import (
    ModelSync,
    ModelVersion,
    SecretFile,
    WeightsFetch,
    WeightsSource,
)
from components.onprem.artifacts import claim_store
from components.plan import manifests, report
from components.plan.runner import run_program
from components.spec import load_spec

REV = "a09a35458c702b33eeacc393d103063234e8bc28"
OLD = "bb46c15ee4bb56c5b63245ef50fd7637234d6f75"
S3 = ArtifactStore(
    uri="s3://b",
    rclone_env={"RCLONE_CONFIG_ARTIFACTS_TYPE": "s3"},
    models_path="artifacts:b/models",
    fsspec_uri="s3://b",
    fsspec_env={"AWS_DEFAULT_REGION": "us-east-1"},
)
FEDERATED = WorkloadIdentity(
    env={"AWS_ROLE_ARN": "arn:aws:iam::1:role/publisher"},
    token_audience="sts.amazonaws.com",
    pod_labels={"azure.workload.identity/use": "true"},
)
JOB = "kubernetes:batch/v1:Job"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def version(store: ArtifactStore = S3, identity: WorkloadIdentity | None = FEDERATED,
            token: SecretFile | None = None) -> ModelVersion:
    return ModelVersion(
        revision=REV,
        previous_revision=OLD,
        sync=ModelSync(source="hf://org/chat-model", store=store, identity=identity,
                       signing_key_secret="model-signing-key", hf_token=token,
                       files_config_map="model-publisher-cloud" if identity else None),
        public_key_config_map="model-signing-pub",
        pushgateway_url="http://pushgateway.serving.svc:9091",
    )


def fetched(store: ArtifactStore = S3, identity: WorkloadIdentity | None = None,
            **changes) -> pod.ModelServerArgs:
    source = WeightsSource(volume="per-pod", size_gib=40, storage_class="fast",
                           hf_id="org/chat-model", fetch=WeightsFetch(store, identity))
    return make_args(weights=source, version=version(store), **changes)


def by_name(items) -> dict:
    return {i.name: i for i in items}


# --- the sync Job ---------------------------------------------------------------------------

def test_job_is_named_by_the_hash_of_its_source_and_revision():
    """<model>-sync-<first 8 hex of sha256(source@revision)>: a new revision or another
    source is a new Job (Jobs are immutable), the same pair the same Job."""
    expected = hashlib.sha256(f"hf://org/chat-model@{REV}".encode()).hexdigest()[:8]
    sync_ = version().sync
    assert sync.job_name("chat", sync_, REV) == f"chat-sync-{expected}"
    assert sync.job_name("chat", sync_, OLD) != sync.job_name("chat", sync_, REV)
    other = replace(sync_, source="s3://fine-tunes/chat/v3")
    assert sync.job_name("chat", other, REV) != sync.job_name("chat", sync_, REV)
    # The longest model name the spec takes (40) still fits a Job name and its pods'
    # job-name label (63).
    assert len(sync.job_name("m" * 40, sync_, REV)) == 40 + len("-sync-") + 8 <= 63


def test_pulumi_waits_long_enough_for_every_attempt_of_a_large_copy():
    """22 GiB: each attempt 600 s to start plus three passes at 0.05 GiB/s = 600 + 1320 s;
    three attempts (backoffLimit 2) and 10 + 20 s of backoff: 5790 s -> 97 minutes. The
    provider's own default is 10 minutes."""
    assert sync.job_timeout(22) == "97m"
    # 102 GiB (a 70B model): 600 + 6120 = 6720 s per attempt, x3 + 30 = 20190 s -> 337 min.
    assert sync.job_timeout(102) == "337m"


def test_job_runs_restricted_as_the_publisher_on_the_cpu_nodes():
    args = fetched()
    spec = sync.job_spec(args, args.version.sync, REV)
    pod_spec = spec.template.spec
    assert spec.backoff_limit == 2 and spec.ttl_seconds_after_finished is None
    assert pod_spec.service_account_name == "model-publisher"
    assert pod_spec.automount_service_account_token is False
    assert pod_spec.restart_policy == "Never"
    # CPU nodes: nothing selects the GPU pool and nothing tolerates its taint.
    assert pod_spec.node_selector is None and pod_spec.tolerations is None
    assert pod_spec.security_context.run_as_non_root is True
    (c,) = pod_spec.containers
    sc = c.security_context
    assert sc.read_only_root_filesystem is True and sc.allow_privilege_escalation is False
    assert sc.capabilities.drop == ["ALL"] and sc.seccomp_profile.type == "RuntimeDefault"
    assert c.image == versions.image("model-tools")
    assert c.resources.requests == c.resources.limits == {"cpu": "1", "memory": "2Gi"}
    # No selector of the server's matches the Job's pod.
    labels = spec.template.metadata.labels
    assert labels["app.kubernetes.io/name"] == "chat-sync"
    assert labels["app.kubernetes.io/component"] == "model-sync"
    assert labels["azure.workload.identity/use"] == "true"


def test_job_copies_the_pinned_revision_to_its_place_in_the_store_and_signs_it():
    args = fetched()
    (c,) = sync.job_spec(args, args.version.sync, REV).template.spec.containers
    cmd = c.command
    assert cmd[:3] == ["python", "-m", "components.lifecycle.sync"]
    flags = dict(zip(cmd[3::2], cmd[4::2], strict=False))
    assert flags["--model"] == "chat" and flags["--revision"] == REV
    assert flags["--source"] == "hf://org/chat-model"
    assert flags["--signing-key"] == "/etc/model-signing/private.pem"
    assert flags["--scratch"] == "/scratch" and "--hf-token-file" not in flags
    env = {e.name: e.value for e in c.env}
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"  # the store's fsspec env
    assert env["AWS_ROLE_ARN"] == "arn:aws:iam::1:role/publisher"  # the publisher's identity
    assert env["HOME"].startswith("/scratch/")


def test_job_reads_the_private_key_and_hub_token_as_files_and_scratch_fits_the_weights():
    args = fetched()
    sync_ = replace(args.version.sync, hf_token=SecretFile(name="hf", key="token"))
    spec = sync.job_spec(args, sync_, REV).template.spec
    volumes, (c,) = by_name(spec.volumes), spec.containers
    mounts = {m.name: m for m in c.volume_mounts}
    key = volumes["signing-key"].secret
    assert key.secret_name == "model-signing-key" and key.default_mode == 0o440
    assert [(i.key, i.path) for i in key.items] == [("private.pem", "private.pem")]
    assert mounts["signing-key"].mount_path == "/etc/model-signing"
    assert mounts["signing-key"].read_only is True
    assert volumes["hf-token"].secret.secret_name == "hf"
    flags = dict(zip(c.command[3::2], c.command[4::2], strict=False))
    assert flags["--hf-token-file"] == "/var/run/secrets/huggingface/token"
    assert not [e for e in c.env if "KEY" in e.name or "TOKEN" in e.name]
    # The whole revision passes through scratch: a claim of the weights' size and class, as
    # a CPU node's 50 GiB disk could not hold a 70B model's.
    claim = volumes["scratch"].ephemeral.volume_claim_template.spec
    assert claim.resources.requests == {"storage": "40Gi"} and claim.storage_class_name == "fast"
    # The federated identity's token and credential files.
    token = volumes["cloud-token"].projected.sources[0].service_account_token
    assert token.audience == "sts.amazonaws.com"
    assert volumes["cloud-files"].config_map.name == "model-publisher-cloud"


def test_on_prem_job_writes_the_claim_and_needs_no_identity():
    store = claim_store("model-artifacts")
    args = fetched(store)
    sync_ = replace(args.version.sync, identity=None, files_config_map=None)
    spec = sync.job_spec(args, sync_, REV).template.spec
    volumes, (c,) = by_name(spec.volumes), spec.containers
    assert volumes["artifacts"].persistent_volume_claim.claim_name == "model-artifacts"
    assert volumes["artifacts"].persistent_volume_claim.read_only is False
    (mount,) = [m for m in c.volume_mounts if m.name == "artifacts"]
    assert mount.mount_path == "/artifacts" and mount.read_only is False
    assert "cloud-token" not in volumes and "cloud-files" not in volumes
    assert spec.service_account_name == "model-publisher"
    assert known(c.command[c.command.index("--dest") + 1]) == f"file:///artifacts/models/chat/{REV}"


# --- the server's init containers -----------------------------------------------------------

def test_fetch_copies_only_the_pinned_revision_and_verify_runs_before_the_engine():
    args = fetched()
    parts = pod.pod_parts(args, None, None)
    spec = pod.pod_spec(args, parts)
    fetch, verify = spec.init_containers
    assert fetch.name == "fetch-weights" and verify.name == "verify-weights"
    assert fetch.command[:2] == ["rclone", "copy"] and fetch.command[3] == f"/models/chat/{REV}"
    assert verify.image == versions.image("model-tools")
    assert verify.command == [
        "python", "-m", "components.lifecycle.verify", "--model", "chat", "--revision", REV,
        "--dir", f"/models/chat/{REV}", "--public-key", "/etc/model-signing/public.pem",
        "--pushgateway", "http://pushgateway.serving.svc:9091",
    ]
    mounts = {m.name: m for m in verify.volume_mounts}
    assert mounts["weights"].read_only is True and mounts["signing-pub"].read_only is True
    assert verify.security_context.read_only_root_filesystem is True
    assert verify.resources.requests == {"cpu": "500m", "memory": "512Mi"}
    assert verify.resources.limits == {"cpu": "2", "memory": "512Mi"}
    pub = by_name(spec.volumes)["signing-pub"].config_map
    assert pub.name == "model-signing-pub" and pub.items[0].key == "public.pem"
    # The engine serves the verified copy, offline.
    (server,) = spec.containers
    assert server.command[2] == f"/models/chat/{REV}"
    assert {e.name: e.value for e in server.env}["HF_HUB_OFFLINE"] == "1"


def known(value):
    """A value built from known inputs (Output.concat of strings), as the program sees it."""
    if isinstance(value, pulumi.Output):
        return asyncio.get_event_loop().run_until_complete(value.future())
    return value


def test_fetch_and_sync_agree_on_the_revisions_own_directory_in_the_store():
    """A planted `models/<name>/` fetch (whatever revisions are there) fails here."""
    args = fetched()
    fetch = pod.pod_spec(args, pod.pod_parts(args, None, None)).init_containers[0]
    assert known(fetch.command[2]) == f"artifacts:b/models/chat/{REV}"
    (c,) = sync.job_spec(args, args.version.sync, REV).template.spec.containers
    assert known(c.command[c.command.index("--dest") + 1]) == f"s3://b/models/chat/{REV}"


def test_on_prem_fetch_reads_the_claim_read_only_with_rclones_local_backend():
    store = claim_store("model-artifacts")
    assert store.rclone_env == {"RCLONE_CONFIG_ARTIFACTS_TYPE": "local"}
    assert store.models_path == "artifacts:/artifacts/models"
    assert store.fsspec_uri == "file:///artifacts" and store.claim == "model-artifacts"
    args = fetched(store)
    spec = pod.pod_spec(args, pod.pod_parts(args, None, None))
    fetch = spec.init_containers[0]
    assert known(fetch.command[2]) == f"artifacts:/artifacts/models/chat/{REV}"
    (mount,) = [m for m in fetch.volume_mounts if m.name == "artifacts"]
    assert mount.mount_path == "/artifacts" and mount.read_only is True
    claim = by_name(spec.volumes)["artifacts"].persistent_volume_claim
    assert claim.claim_name == "model-artifacts" and claim.read_only is True
    assert {e.name: e.value for e in fetch.env}["RCLONE_CONFIG_ARTIFACTS_TYPE"] == "local"


def test_pods_carry_the_revision_and_serving_labels_outside_the_selector():
    args = fetched()
    parts = pod.pod_parts(args, None, None)
    dep = pod.deployment_spec(args, parts)
    labels = dep.template.metadata.labels
    assert labels["llm-platform.dev/revision"] == REV
    assert labels["llm-platform.dev/serving"] == "live"
    assert "llm-platform.dev/revision" not in dep.selector.match_labels
    assert "llm-platform.dev/serving" not in dep.selector.match_labels


# --- without a store: the engine downloads the pinned commit --------------------------------

@pytest.mark.parametrize("engine", list(ENGINES.values()), ids=lambda e: e.name)
def test_engines_download_the_pinned_commit_from_the_hub_with_their_releases_flag(engine):
    source = WeightsSource(volume="per-pod", size_gib=40, storage_class=None, hf_id="org/m")
    # TP 1: Triton's TP > 1 command is mpirun's, with mpirun's own flags.
    args = make_args(engine=engine, weights=source, version=ModelVersion(revision=REV),
                     plan=make_plan(tensor_parallel=1))
    parts = pod.pod_parts(args, None, None)
    cmd = engine.command(parts.model_ref, "m", args.plan, parts.hub_revision)
    flags = {a.split("=", 1)[0]: a.split("=", 1)[-1] for a in cmd if a.startswith("--")}
    assert not set(flags) - set(RELEASES[engine.name].flags)
    if engine.hub_download:
        assert parts.model_ref == "org/m" and flags["--revision"] == REV
        assert pod.pod_spec(args, parts).init_containers is None
    else:
        # Triton serves an engine built beforehand from the volume: no Hub, no revision.
        assert "--revision" not in flags and parts.model_ref == "/models/chat"
        assert flags["--model-repository"] == "/models/chat/triton"


def test_fetched_triton_serves_the_revisions_repository():
    args = fetched(engine=ENGINES["tensorrt-llm"])
    spec = pod.pod_spec(args, pod.pod_parts(args, None, None))
    repos = {a for a in spec.containers[0].command if a.startswith("--model-repository=")}
    assert repos == {f"--model-repository=/models/chat/{REV}/triton"}


def test_job_fits_every_cloud_stacks_cpu_nodes():
    """The Job lands on the system nodes: its requests (= limits) within their allocatable."""
    nodes = {"aws": ("aws", "system_instance_type"), "gcp": ("gcp", "system_machine_type"),
             "azure": ("azure", "system_vm_size")}
    args = fetched()
    (c,) = sync.job_spec(args, args.version.sync, REV).template.spec.containers
    cpu_m = 1000 * int(c.resources.limits["cpu"])
    mem_mib = 1024 * int(c.resources.limits["memory"].removesuffix("Gi"))
    for stack, (block, key) in nodes.items():
        instance = stack_spec(stack)[block][key]
        node = scheduling.instance_allocatable(instance)
        assert catalog.instances()[instance].gpu_count == 0, instance
        assert cpu_m <= node.cpu_m and mem_mib <= node.memory_mib, (stack, instance, node)


# --- the component, under Pulumi's mocks through the offline plan's runner ------------------

def _private_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


PRIVATE_PEM = _private_pem()
# The key's base64 body, line by line: none may appear anywhere the plan writes.
PEM_LINES = [line for line in PRIVATE_PEM.splitlines() if "-----" not in line]


def _planned(stack: str, raw: dict, out):
    """The stack's program with a real private key as the Pulumi secret, and every file the
    plan writes for it (manifests, plan.json, cost.json, alertmanager.yaml) under `out`."""
    from components import pricing

    records = run_program(stack, raw, ROOT, {"modelSigningKey": PRIVATE_PEM})
    env = load_spec(raw)
    graph = [(r.type, r.name, r.inputs) for r in records if r.custom]
    items = pricing.price_graph(graph)
    result = report.PlanResult(stack, env, records, items, report.economics(env, items),
                               manifests.by_file(records), report.gateway_section(graph))
    report.write(result, None, out)
    return records


def _written(out) -> str:
    return "\n".join(p.read_text() for p in sorted(out.rglob("*")) if p.is_file())


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    out = tmp_path_factory.mktemp("aws-plan")
    return _planned("aws", stack_spec("aws"), out), out


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    out = tmp_path_factory.mktemp("mixed-plan")
    return _planned("onprem-mixed", stack_spec("onprem-mixed"), out), out


def _one(records, type_: str, name: str):
    (found,) = [r for r in records if r.type == type_ and r.name == name]
    return found


def test_store_stack_syncs_the_pinned_revision_before_its_server_starts(aws):
    records, _ = aws
    model = stack_spec("aws")["models"][0]
    revision, source = model["revision"], f"hf://{model['hf_id']}"
    job = _one(records, JOB, "aws-assistant-sync")
    digest = hashlib.sha256(f"{source}@{revision}".encode()).hexdigest()[:8]
    assert job.inputs["metadata"]["name"] == f"assistant-sync-{digest}"
    server = _one(records, DEPLOYMENT, "aws-assistant-server")
    assert job.urn in server.dependencies
    publisher = {r.name: r.urn for r in records if r.parent.endswith("::aws-publisher")}
    assert {publisher["aws-publisher-sa"], publisher["aws-publisher-signing-key"],
            publisher["aws-publisher-signing-pub"]} <= set(job.dependencies)
    template = server.inputs["spec"]["template"]
    fetch, verify = template["spec"]["initContainers"]
    assert fetch["command"][2].endswith(f"/models/assistant/{revision}")
    assert verify["name"] == "verify-weights" and flag_value(verify, "--revision") == revision
    assert template["metadata"]["labels"]["llm-platform.dev/revision"] == revision


def flag_value(container: dict, flag: str) -> str:
    cmd = container["command"]
    return cmd[cmd.index(flag) + 1]


def test_publisher_holds_the_keys_the_plan_never_writes(aws):
    records, out = aws
    secret = _one(records, "kubernetes:core/v1:Secret", "aws-publisher-signing-key")
    assert secret.inputs["metadata"]["name"] == "model-signing-key"
    assert set(secret.inputs["stringData"]) == {"private.pem"}
    public = _one(records, "kubernetes:core/v1:ConfigMap", "aws-publisher-signing-pub")
    assert public.inputs["data"] == {
        "public.pem": stack_spec("aws")["lifecycle"]["signing"]["public_key"]}
    account = _one(records, "kubernetes:core/v1:ServiceAccount", "aws-publisher-sa")
    assert account.inputs["metadata"]["name"] == "model-publisher"
    assert account.inputs["automountServiceAccountToken"] is False
    written = _written(out)
    assert "model-signing-key" in written  # the plan was written, with the Secret in it
    assert not [line for line in PEM_LINES if line in json.dumps([r.inputs for r in records])]
    assert not [line for line in PEM_LINES if line in written]
    assert "PRIVATE KEY" not in written


def test_render_mode_store_is_the_claim_and_the_key_is_made_with_kubectl(mixed):
    records, out = mixed
    raw = stack_spec("onprem-mixed")
    claim_spec = raw["onprem"]["artifact_claim"]
    secrets = [r for r in records if r.type == "kubernetes:core/v1:Secret"
               and r.inputs["metadata"]["name"] == "model-signing-key"]
    assert not secrets
    claim = _one(records, "kubernetes:core/v1:PersistentVolumeClaim", "onprem-mixed-publisher-store")
    assert claim.inputs["metadata"]["name"] == claim_spec.get("name", "model-artifacts")
    assert claim.inputs["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim.inputs["spec"]["storageClassName"] == claim_spec["storage_class"]
    assert claim.inputs["spec"]["resources"]["requests"]["storage"] == f"{claim_spec['size_gib']}Gi"
    name = claim.inputs["metadata"]["name"]
    # support-bot is synced to the claim; analyst's prebuilt engine sits on a prefilled
    # read-only claim of its own, so it has no sync Job and never mounts the store.
    job = _one(records, JOB, "onprem-mixed-support-bot-sync")
    assert claim.urn in job.dependencies
    pod_spec = job.inputs["spec"]["template"]["spec"]
    store = next(v for v in pod_spec["volumes"] if v["name"] == "artifacts")
    assert store["persistentVolumeClaim"] == {"claimName": name, "readOnly": False}
    server = _one(records, "kubernetes:argoproj.io/v1alpha1:Rollout",
                  "onprem-mixed-support-bot-rollout")
    served = server.inputs["spec"]["template"]["spec"]
    store = next(v for v in served["volumes"] if v["name"] == "artifacts")
    assert store["persistentVolumeClaim"] == {"claimName": name, "readOnly": True}
    assert [c["name"] for c in served["initContainers"]] == ["fetch-weights", "verify-weights"]
    assert "serviceAccountName" not in served  # the claim needs no cloud identity
    assert not [r for r in records if r.type == JOB and r.name == "onprem-mixed-analyst-sync"]
    analyst = _one(records, DEPLOYMENT, "onprem-mixed-analyst-server")
    assert "initContainers" not in analyst.inputs["spec"]["template"]["spec"]
    written = _written(out)
    assert not [line for line in PEM_LINES if line in written] and "PRIVATE KEY" not in written


def test_stack_without_a_store_downloads_the_pinned_commit_unsigned(tmp_path):
    raw = stack_spec("local")
    records = _planned("local", raw, tmp_path)
    assert not [r for r in records if r.type == JOB and r.name.endswith("-sync")]
    assert not [r for r in records if r.type == "llm-platform:kubernetes:ModelPublisher"]
    server = _one(records, DEPLOYMENT, "local-assistant-server")
    spec = server.inputs["spec"]["template"]["spec"]
    assert "initContainers" not in spec
    model = raw["models"][0]
    assert spec["containers"][0]["command"][2:4] == [
        model["hf_id"], f"--revision={model['revision']}"]


def test_nothing_reaches_a_sync_jobs_pod(aws):
    """One NetworkPolicy per namespace selects every sync Job's pod and admits nothing."""
    records, _ = aws
    policy = _one(records, "kubernetes:networking.k8s.io/v1:NetworkPolicy",
                  "aws-publisher-sync-netpol")
    selector = policy.inputs["spec"]["podSelector"]["matchLabels"]
    job = _one(records, JOB, "aws-assistant-sync")
    labels = job.inputs["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
    assert policy.inputs["spec"]["policyTypes"] == ["Ingress"]
    assert not policy.inputs["spec"].get("ingress")
    server = _one(records, DEPLOYMENT, "aws-assistant-server")
    assert not selector.items() <= server.inputs["spec"]["template"]["metadata"]["labels"].items()
