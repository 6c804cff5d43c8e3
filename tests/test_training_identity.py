"""Each training job's cloud identity: bound to the job's own service account train-<job> in
the stack's namespace of the cloud's cluster (in a hybrid too: training runs on the cloud's
pools, never on prem), reading models/ and its own checkpoints, writing only
checkpoints/<job>/ and models/<its model>/, and deleting only under checkpoints/<job>/ (the
harness keeps the last N checkpoints). The Args come from the example stacks' specs with a
training block added here; each cloud's ArtifactBucket runs under Pulumi's mocks and its
grants are read back and judged: AWS by moto's IAM policy engine, GCS and Azure by
evaluating the conditions they registered on the object names a run writes."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from typing import Any

import pytest
from conftest import stack_spec
from moto.iam.access_control import IAMPolicy, PermissionResult

from components import topology
from components.aws import resolve as aws_resolve
from components.aws.artifacts import ArtifactBucket as AwsBucket
from components.azure import artifacts as azure_artifacts
from components.azure import resolve as azure_resolve
from components.gcp import artifacts as gcp_artifacts
from components.gcp import resolve as gcp_resolve
from components.kubernetes.facts import WorkloadIdentity
from components.spec import load_spec
from tests.test_database_backups import FEDERATION, ISSUER, of_type, policies_by_role, run

JOB, MODEL = "support-ft", "assistant"
# A second job whose name starts with the first's: its checkpoints must stay out of reach.
OTHER_JOB, OTHER_MODEL = "support-ft2", "assistant-v2"
RUN = "0123456789ab"
# What a run writes (components/training/contract.py's layout).
MINE = {
    "checkpoint": f"checkpoints/{JOB}/{RUN}/step-200/model.safetensors",
    "manifest": f"checkpoints/{JOB}/{RUN}/step-200/manifest.json",
    "state": f"checkpoints/{JOB}/{RUN}/state.json",
    "revision": f"models/{MODEL}/ft-{RUN}/model.safetensors",
    "run record": f"models/{MODEL}/ft-{RUN}/run.json",
}
NOT_MINE = {
    "another model": f"models/{OTHER_MODEL}/ft-{RUN}/model.safetensors",
    "a model named like mine": f"models/{MODEL}-old/v1/model.safetensors",
    "evals": f"evals/{MODEL}/reports/latest.json",
    "another job's checkpoints": f"checkpoints/{OTHER_JOB}/{RUN}/step-1/manifest.json",
    "database backups": "gateway-db/base/000000010000000000000001",
}


def _job(name: str, model: str, pool: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": "ghcr.io/acme/trainer@sha256:" + "0" * 64,
        "command": ["python", "-m", "trainer.finetune"],
        "model": model,
        "base": {"hf_id": "meta-llama/Llama-3.1-8B-Instruct", "revision": "a" * 40},
        "dataset": {"uri": "s3://acme-datasets/support", "version": "2026-11-30"},
        "pool": pool,
        "expected_hours": 6.0,
        # Within the smallest grace of the clouds (GKE's, components/catalog/spot_notice.yaml).
        "checkpoint_seconds": 10,
    }


def with_training(stack: str) -> Any:
    """The example stack's environment with two training jobs on its spot pool."""
    doc = copy.deepcopy(stack_spec(stack))
    (spot,) = [p["name"] for p in doc["gpu_pools"] if p.get("capacity") == "spot"]
    doc["training"] = {"jobs": [_job(JOB, MODEL, spot), _job(OTHER_JOB, OTHER_MODEL, spot)]}
    return load_spec(doc)


def subject(namespace: str, service_account: str) -> str:
    return f"system:serviceaccount:{namespace}:{service_account}"


# --- AWS --------------------------------------------------------------------------------------


def aws_trainer(stack: str = "aws") -> tuple[list, Any, dict, dict]:
    """Records, the bucket, the job's Pod Identity association and its role's policy."""
    env = with_training(stack)
    args = aws_resolve.bucket_args(env, env.spec.aws)
    assert args.trainers == ((JOB, MODEL), (OTHER_JOB, OTHER_MODEL))
    records, bucket = run(lambda: AwsBucket("art", args, "llm-cluster"))
    associations = of_type(records, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    (assoc,) = [a for a in associations.values() if a["serviceAccount"] == f"train-{JOB}"]
    policy = policies_by_role(records)[assoc["roleArn"].rsplit(":", 1)[-1]]
    return records, bucket, assoc, policy


def s3_allows(policy: dict, action: str, key: str) -> bool:
    """moto's IAM engine on the role's policy: is `action` on object `key` allowed?"""
    listing = next(s for s in policy["Statement"] if s["Action"] == "s3:ListBucket")
    verdict = IAMPolicy(json.dumps(policy)).is_action_permitted(
        action, f"{listing['Resource']}/{key}")
    return verdict == PermissionResult.PERMITTED


def test_aws_trainer_writes_its_checkpoints_and_its_model_and_nothing_else():
    _, bucket, assoc, policy = aws_trainer()
    assert subject(assoc["namespace"], assoc["serviceAccount"]) == subject(
        "llm-aws", "train-support-ft")
    for what, key in MINE.items():
        assert s3_allows(policy, "s3:PutObject", key), what
        assert s3_allows(policy, "s3:GetObject", key), what
    for what, key in NOT_MINE.items():
        assert not s3_allows(policy, "s3:PutObject", key), what
    # reads: models/ (a base we published), never evals/, backups or another job's state
    assert s3_allows(policy, "s3:GetObject", NOT_MINE["another model"])
    for what in ("evals", "another job's checkpoints", "database backups"):
        assert not s3_allows(policy, "s3:GetObject", NOT_MINE[what]), what
    assert bucket.trainer_identities[JOB] == WorkloadIdentity()  # Pod Identity injects it


def test_aws_trainer_deletes_only_its_own_old_checkpoints():
    _, _, _, policy = aws_trainer()
    assert s3_allows(policy, "s3:DeleteObject", MINE["checkpoint"])
    for what in ("revision", "run record"):
        assert not s3_allows(policy, "s3:DeleteObject", MINE[what]), what
    for what, key in NOT_MINE.items():
        assert not s3_allows(policy, "s3:DeleteObject", key), what
    everything = {a for s in policy["Statement"] for a in
                  ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    # a delete marker at most: never a version, never a wildcard
    assert "s3:DeleteObjectVersion" not in everything
    assert not [a for a in everything if a.endswith("*")]
    listing = next(s for s in policy["Statement"] if s["Action"] == "s3:ListBucket")
    assert listing["Condition"]["StringLikeIfExists"]["s3:prefix"] == [
        "models/*", f"checkpoints/{JOB}/*"]


def test_aws_hybrid_trainer_is_bound_in_the_cloud_cluster_not_federated():
    records, bucket, assoc, _ = aws_trainer("hybrid")
    assert subject(assoc["namespace"], assoc["serviceAccount"]) == subject(
        "llm-hybrid", "train-support-ft")
    trusted = [json.loads(r["assumeRolePolicy"])["Statement"][0]
               for r in of_type(records, "aws:iam/role:Role").values()]
    federated = [t["Condition"]["StringEquals"] for t in trusted if "Federated" in t["Principal"]]
    assert federated and not [c for c in federated
                              if any("train-" in v for v in c.values())]
    assert bucket.trainer_identities[JOB] == WorkloadIdentity()


# --- GCP --------------------------------------------------------------------------------------

# What each role lets do to an object (cloud.google.com/iam/docs/roles-permissions/storage):
# Object Viewer gets and lists, Object Creator creates (no overwrite: that needs delete),
# Object Admin does all four.
GCS_ROLES = {
    "roles/storage.objectViewer": {"get"},
    "roles/storage.objectCreator": {"create"},
    "roles/storage.objectAdmin": {"get", "create", "delete"},
}
_STARTS = re.compile(r'^resource\.name\.startsWith\("([^"]+)"\)$')
_BUCKET = 'resource.type == "storage.googleapis.com/Bucket"'


def cel_allows(expression: str, bucket: str, name: str) -> bool:
    """The condition, evaluated for object `name`: every term is one of the two forms
    prefix_only writes (anything else fails the test rather than being guessed)."""
    allowed = False
    for term in expression.split(" || "):
        if term == _BUCKET:
            continue  # the bucket itself (listing); an object is not of that type
        match = _STARTS.match(term)
        assert match, term
        allowed |= f"projects/_/buckets/{bucket}/objects/{name}".startswith(match.group(1))
    return allowed


def gcp_trainer(**changes: Any) -> tuple[list, Any, Any]:
    """`changes` to the resolved Args: federation=FEDERATION makes it a hybrid's bucket."""
    env = with_training("gcp")
    args = replace(gcp_resolve.artifact_args(env, env.spec.gcp), **changes)
    assert [(j, m) for j, m, _ in args.trainers] == [(JOB, MODEL), (OTHER_JOB, OTHER_MODEL)]
    records, bucket = run(lambda: gcp_artifacts.ArtifactBucket("art", args, "acme.svc.id.goog"))
    return records, bucket, args


def gcs_can(records: list, args: Any, permission: str, name: str) -> bool:
    (_, _, account) = next(t for t in args.trainers if t[0] == JOB)
    members = of_type(records, "gcp:storage/bucketIAMMember:BucketIAMMember").values()
    held = [m for m in members if m["member"].startswith(f"serviceAccount:{account}@")]
    assert held, account
    return any(
        permission in GCS_ROLES[m["role"]]
        and cel_allows(m["condition"]["expression"], args.bucket_name, name)
        for m in held
    )


def test_gcp_trainer_creates_its_checkpoints_and_its_model_and_nothing_else():
    records, bucket, args = gcp_trainer()
    for what, name in MINE.items():
        assert gcs_can(records, args, "create", name), what
    for what, name in NOT_MINE.items():
        assert not gcs_can(records, args, "create", name), what
    assert gcs_can(records, args, "get", NOT_MINE["another model"])  # reads models/
    for what in ("evals", "another job's checkpoints", "database backups"):
        assert not gcs_can(records, args, "get", NOT_MINE[what]), what
    # deletes (and so replaces) only under its checkpoints: a revision is never overwritten
    assert gcs_can(records, args, "delete", MINE["state"])
    for what in ("revision", "run record"):
        assert not gcs_can(records, args, "delete", MINE[what]), what
    for what, name in NOT_MINE.items():
        assert not gcs_can(records, args, "delete", name), what
    members = [m["member"] for m in of_type(
        records, "gcp:serviceaccount/iAMMember:IAMMember").values()]
    assert f"serviceAccount:acme.svc.id.goog[llm-gcp/train-{JOB}]" in members
    assert "iam.gke.io/gcp-service-account" in (
        bucket.trainer_identities[JOB].service_account_annotations)


def test_gcp_trainer_accounts_fit_and_differ():
    _, _, args = gcp_trainer()
    accounts = [a for _, _, a in args.trainers]
    assert len(set(accounts)) == 2
    assert all(6 <= len(a) <= 30 and re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])", a)
               for a in accounts), accounts


def test_gcp_hybrid_trainer_uses_gke_workload_identity_not_the_onprem_pool():
    records, bucket, _ = gcp_trainer(federation=FEDERATION)
    members = [m["member"] for m in of_type(
        records, "gcp:serviceaccount/iAMMember:IAMMember").values()]
    assert f"serviceAccount:acme.svc.id.goog[llm-gcp/train-{JOB}]" in members
    providers = of_type(
        records, "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider")
    assert not [p for p in providers.values() if "train-" in p["attributeCondition"]]
    identity = bucket.trainer_identities[JOB]
    assert not identity.files and identity.token_audience is None


# --- Azure ------------------------------------------------------------------------------------

_BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
_ABAC = [  # the ABAC forms the conditions use, as Python over a request
    (re.escape(f"@Resource[{_BLOBS}:path] StringStartsWith ") + r"'([^']*)'",
     r"path.startswith('\1')"),
    (re.escape(f"@Request[{_BLOBS}:prefix] StringStartsWith ") + r"'([^']*)'",
     r"prefix.startswith('\1')"),
    (r"SubOperationMatches\{'Blob\.List'\}", "listing"),
    (r"ActionMatches\{'" + re.escape(_BLOBS) + r"/([a-z/]+)'\}", r"(action == '\1')"),
    (r"!", " not "), (r"\bAND NOT\b", "and not"), (r"\bAND\b", "and"), (r"\bOR\b", "or"),
]


def abac_allows(condition: str, action: str, path: str = "", prefix: str = "") -> bool:
    """The role assignment's condition, evaluated for one blob request (`action` one of
    read, write, add/action, delete; `prefix` for a listing)."""
    python = condition
    for pattern, replacement in _ABAC:
        python = re.sub(pattern, replacement, python)
    leftover = re.sub(r"'[^']*'|\b(and|or|not|path|prefix|listing|action|startswith)\b|[().=]",
                      "", python)
    assert not leftover.strip(), leftover  # nothing of the condition went unread
    return eval(python, {}, {"action": action, "path": path, "prefix": prefix,  # noqa: S307
                             "listing": bool(prefix)})


def azure_trainer(**changes: Any) -> tuple[list, Any, str, dict]:
    """`changes` to the resolved Args: onprem_issuer=ISSUER makes it a hybrid's account."""
    env = with_training("azure")
    args = replace(azure_resolve.artifact_args(env, env.spec.azure), **changes)
    assert args.trainers == ((JOB, MODEL), (OTHER_JOB, OTHER_MODEL))
    records, bucket = run(lambda: azure_artifacts.ArtifactBucket(
        "art", args, "llm-rg", "subnet-id", "https://aks.issuer/"))
    assignments = of_type(records, "azure-native:authorization:RoleAssignment")
    condition = assignments[f"art-train-{JOB}"]["condition"]
    definitions = of_type(records, "azure-native:authorization:RoleDefinition")
    (role,) = [d for d in definitions.values() if "training jobs" in d["roleName"]]
    return records, bucket, condition, role


def test_azure_trainer_writes_its_checkpoints_and_its_model_and_nothing_else():
    records, bucket, condition, role = azure_trainer()
    (permissions,) = role["permissions"]
    assert permissions["actions"] == [
        "Microsoft.Storage/storageAccounts/blobServices/containers/read"]  # no container delete
    for what, path in MINE.items():
        for action in ("write", "add/action", "read"):
            assert abac_allows(condition, action, path), (what, action)
    for what, path in NOT_MINE.items():
        assert not abac_allows(condition, "write", path), what
        assert not abac_allows(condition, "add/action", path), what
    assert abac_allows(condition, "read", NOT_MINE["another model"])
    for what in ("evals", "another job's checkpoints", "database backups"):
        assert not abac_allows(condition, "read", NOT_MINE[what]), what
    assert abac_allows(condition, "read", prefix=f"checkpoints/{JOB}/{RUN}/")
    assert not abac_allows(condition, "read", prefix=f"checkpoints/{OTHER_JOB}/")
    credentials = of_type(records, "azure-native:managedidentity:FederatedIdentityCredential")
    assert credentials[f"art-train-{JOB}"]["subject"] == subject("llm-azure", f"train-{JOB}")
    assert credentials[f"art-train-{JOB}"]["issuer"] == "https://aks.issuer/"
    assert bucket.trainer_identities[JOB].pod_labels == {"azure.workload.identity/use": "true"}


def test_azure_trainer_deletes_only_its_own_checkpoints():
    _, _, condition, _ = azure_trainer()
    assert abac_allows(condition, "delete", MINE["checkpoint"])
    for what in ("revision", "run record"):
        assert not abac_allows(condition, "delete", MINE[what]), what
    for what, path in NOT_MINE.items():
        assert not abac_allows(condition, "delete", path), what


def test_azure_hybrid_trainer_trusts_the_aks_issuer_not_the_onprem_one():
    records, bucket, _, _ = azure_trainer(onprem_issuer=ISSUER)
    credentials = of_type(records, "azure-native:managedidentity:FederatedIdentityCredential")
    assert credentials[f"art-train-{JOB}"]["issuer"] == "https://aks.issuer/"
    assert credentials["art-reader"]["issuer"] == ISSUER  # the store trusts the on-prem side
    identity = bucket.trainer_identities[JOB]
    assert identity.env == {} and identity.pod_labels == {"azure.workload.identity/use": "true"}


def test_azure_condition_reader_refuses_what_it_cannot_read():
    with pytest.raises(AssertionError):
        abac_allows("@Resource[x:path] StringEndsWith 'a'", "read", "a")


# --- the foundation hands the layer one identity per job --------------------------------------


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_cluster_facts_carry_one_trainer_per_job(cloud):
    env = with_training(cloud)
    secrets = {key: f"value-of-{key}" for key in env.spec.secret_keys()}
    found: list[Any] = []

    def program() -> None:
        facts, _ = topology.FOUNDATIONS[cloud](env, secrets)
        found.append(facts.trainers)

    run(program)
    (trainers,) = found
    assert sorted(trainers) == [JOB, OTHER_JOB]
    assert all(isinstance(t, WorkloadIdentity) for t in trainers.values())


def test_a_stack_without_training_gets_no_trainer():
    doc = copy.deepcopy(stack_spec("aws"))
    del doc["training"]
    env = load_spec(doc)
    assert aws_resolve.bucket_args(env, env.spec.aws).trainers == ()
    records, bucket = run(lambda: AwsBucket(
        "art", aws_resolve.bucket_args(env, env.spec.aws), "llm-cluster"))
    assert bucket.trainer_identities == {}
    accounts = {a["serviceAccount"] for a in of_type(
        records, "aws:eks/podIdentityAssociation:PodIdentityAssociation").values()}
    assert not [a for a in accounts if a.startswith("train-")]
