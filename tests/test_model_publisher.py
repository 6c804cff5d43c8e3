"""The model publisher: the one identity that writes model revisions and eval reports to the
artifact store, bound to the `model-publisher` service account, held to models/ and evals/,
and never able to delete (or, on GCS, replace) an object; and every cloud's lifecycle rules,
which never expire a current object under models/, so a revision the stack serves or may roll
back to is never removed. Each cloud's ArtifactBucket runs under Pulumi's mocks (the helpers
of test_database_backups) and its IAM is read back from what it registered."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from conftest import stack_spec

from components import topology
from components.aws import bucket as aws_bucket_parts
from components.aws.args import ArtifactBucketArgs as AwsBucketArgs
from components.azure import artifacts as azure_artifacts
from components.gcp import artifacts as gcp_artifacts
from components.kubernetes.facts import WorkloadIdentity
from components.spec import load_spec
from tests.test_database_backups import (
    FEDERATION,
    ISSUER,
    NAMESPACE,
    actions,
    aws_bucket,
    azure_bucket,
    gcp_bucket,
    grants,
    of_type,
    policies_by_role,
    run,
)

PUBLISHER_SUBJECT = f"system:serviceaccount:{NAMESPACE}:model-publisher"
BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"


def fsspec_of(build: Any) -> tuple[str, dict[str, str]]:
    """Runs `build` (a bucket's constructor) under the mocks and resolves its store."""
    found: list[tuple[str, dict[str, str]]] = []

    def program() -> None:
        store = build().store
        pulumi.Output.all(store.fsspec_uri, store.fsspec_env).apply(
            lambda a: found.append((a[0], a[1]))
        )

    run(program)
    (value,) = found
    return value


# --- AWS --------------------------------------------------------------------------------------


def aws_publisher_policy(records: list) -> tuple[dict, dict]:
    associations = of_type(records, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    (assoc,) = [a for a in associations.values() if a["serviceAccount"] == "model-publisher"]
    role = assoc["roleArn"].rsplit(":", 1)[-1]
    return assoc, policies_by_role(records)[role]


def test_aws_publisher_reads_and_adds_under_models_and_evals_and_never_deletes():
    records, bucket = aws_bucket(model_publisher=True)
    assoc, policy = aws_publisher_policy(records)
    assert assoc["namespace"] == NAMESPACE
    statements = policy["Statement"]
    listing = next(s for s in statements if actions(s) == {"s3:ListBucket"})
    bucket_arn = listing["Resource"]
    # the mocks' ARN of the bucket ends in its resource name
    assert bucket_arn.endswith(":art-bucket")
    objects = next(s for s in statements if "s3:PutObject" in actions(s))
    assert actions(objects) == {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"}
    assert sorted(objects["Resource"]) == [f"{bucket_arn}/evals/*", f"{bucket_arn}/models/*"]
    assert listing["Condition"]["StringLikeIfExists"]["s3:prefix"] == ["models/*", "evals/*"]
    everything = set().union(*(actions(s) for s in statements))
    # no delete of any kind (a delete marker or a version), no wildcard
    assert not {a for a in everything if "Delete" in a or a.endswith("*")}
    kms = next(s for s in statements if "kms:Decrypt" in actions(s))
    assert actions(kms) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert bucket.publisher_identity == WorkloadIdentity()  # Pod Identity: nothing on the pod


def test_aws_hybrid_publisher_trusts_the_onprem_issuer_for_its_own_subject():
    records, bucket = aws_bucket(model_publisher=True, onprem_oidc_issuer=ISSUER)
    roles = of_type(records, "aws:iam/role:Role")
    trusts = {
        name: json.loads(r["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
        for name, r in roles.items()
    }
    (publisher,) = [n for n, t in trusts.items()
                    if t["oidc.onprem.example.com:sub"] == PUBLISHER_SUBJECT]
    assert trusts[publisher]["oidc.onprem.example.com:aud"] == "sts.amazonaws.com"
    statements = policies_by_role(records)[publisher]["Statement"]
    assert not {a for s in statements for a in actions(s) if "Delete" in a}
    identity = bucket.publisher_identity
    assert identity.env["AWS_WEB_IDENTITY_TOKEN_FILE"] == (
        "/var/run/secrets/llm-platform/cloud-token/token")
    assert identity.token_audience == "sts.amazonaws.com"
    # one OIDC provider for every role that trusts the on-prem cluster
    assert len(of_type(records, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")) == 1


def test_aws_without_models_there_is_no_publisher():
    records, bucket = aws_bucket()
    assert bucket.publisher_identity is None
    associations = of_type(records, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert "model-publisher" not in {a["serviceAccount"] for a in associations.values()}


def test_aws_store_is_an_s3_root_with_the_region_botocore_reads():
    args = AwsBucketArgs(bucket_name="llm-prod-artifacts", region="eu-west-1",
                         account_id="123456789012", namespace=NAMESPACE, expected_gib=10,
                         access_log_bucket_name="llm-prod-access-logs")
    from components.aws.artifacts import ArtifactBucket

    uri, env = fsspec_of(lambda: ArtifactBucket("art", args, "llm-prod"))
    assert uri == "s3://llm-prod-artifacts"
    assert env == {"AWS_DEFAULT_REGION": "eu-west-1"}


def test_aws_lifecycle_never_expires_a_current_object_under_models():
    args = AwsBucketArgs(bucket_name="b", region="eu-west-1", account_id="123456789012",
                         namespace=NAMESPACE, expected_gib=10, access_log_bucket_name="l",
                         noncurrent_version_days=1,
                         checkpoint_days=1)
    rules = aws_bucket_parts.lifecycle_rules(args)
    revision = "models/support-bot/0123456789abcdef0123456789abcdef01234567/model.safetensors"
    for rule in rules:
        if rule.expiration is not None:
            # a rule expiring current objects is held to a prefix models/ is not under
            assert rule.filter.prefix and not revision.startswith(rule.filter.prefix), rule.id
    # the noncurrent-version rule does cover models/ (a sync never makes one there)
    versions = next(r for r in rules if r.noncurrent_version_expiration is not None)
    assert revision.startswith(versions.filter.prefix) and versions.expiration is None


# --- GCP --------------------------------------------------------------------------------------

GCP_PREFIX = 'resource.name.startsWith("projects/_/buckets/acme-llm-prod-artifacts/objects/'


def test_gcp_publisher_views_and_creates_under_models_and_evals_only():
    records, bucket = gcp_bucket(publisher_account_id="llm-prod-publisher")
    held = grants(records, "llm-prod-publisher")
    # Object Creator cannot replace or delete: GCS itself refuses the publisher an overwrite
    assert set(held) == {"roles/storage.objectViewer", "roles/storage.objectCreator"}
    for condition in held.values():
        assert f'{GCP_PREFIX}models/")' in condition and f'{GCP_PREFIX}evals/")' in condition
        assert "gateway-db" not in condition and "checkpoints" not in condition
    members = [m["member"] for m in of_type(
        records, "gcp:serviceaccount/iAMMember:IAMMember").values()]
    assert f"serviceAccount:acme.svc.id.goog[{NAMESPACE}/model-publisher]" in members
    assert "iam.gke.io/gcp-service-account" in (
        bucket.publisher_identity.service_account_annotations)
    # the reader's condition is unchanged: models/ only
    reader = grants(records, "llm-prod-weights")["roles/storage.objectViewer"]
    assert f'{GCP_PREFIX}models/")' in reader and "evals/" not in reader


def test_gcp_hybrid_publisher_has_its_own_provider_and_credential_file():
    records, bucket = gcp_bucket(publisher_account_id="llm-prod-publisher", federation=FEDERATION)
    providers = of_type(
        records, "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider")
    conditions = {p["workloadIdentityPoolProviderId"]: p["attributeCondition"]
                  for p in providers.values()}
    assert conditions["onprem-model-publisher"] == f'assertion.sub == "{PUBLISHER_SUBJECT}"'
    assert len(of_type(records, "gcp:iam/workloadIdentityPool:WorkloadIdentityPool")) == 1
    identity = bucket.publisher_identity
    assert identity.env == {
        "GOOGLE_APPLICATION_CREDENTIALS": "/etc/llm-platform/cloud/credentials.json"}
    assert identity.token_audience == "llm-platform-prod"
    assert "credentials.json" in identity.files


def test_gcp_store_is_a_gs_root_and_without_models_there_is_no_publisher():
    records, bucket = gcp_bucket()
    assert bucket.publisher_identity is None
    assert not grants(records, "publisher")
    args = gcp_artifacts.ArtifactBucketArgs(
        project="acme", location="US-CENTRAL1", bucket_name="acme-llm-prod-artifacts",
        reader_account_id="llm-prod-weights", namespace=NAMESPACE,
        noncurrent_version_days=30, checkpoint_days=14, labels={},
    )
    uri, env = fsspec_of(lambda: gcp_artifacts.ArtifactBucket("art", args, "acme.svc.id.goog"))
    assert (uri, env) == ("gs://acme-llm-prod-artifacts", {})


def test_gcp_lifecycle_never_deletes_a_live_object_under_models():
    args = gcp_artifacts.ArtifactBucketArgs(
        project="acme", location="US-CENTRAL1", bucket_name="b", reader_account_id="r",
        namespace=NAMESPACE, noncurrent_version_days=1, checkpoint_days=1, labels={},
    )
    revision = "models/support-bot/0123456789abcdef0123456789abcdef01234567/model.sig"
    for rule in gcp_artifacts.bucket(args)["lifecycle_rules"]:
        condition = rule.condition
        if condition.with_state == "ARCHIVED":
            continue  # noncurrent versions only
        prefixes = condition.matches_prefixes or []
        assert prefixes and not any(revision.startswith(p) for p in prefixes), condition


# --- Azure ------------------------------------------------------------------------------------


def test_azure_publisher_has_its_own_role_without_delete_held_to_models_and_evals():
    records, bucket = azure_bucket(model_publisher=True)
    definitions = of_type(records, "azure-native:authorization:RoleDefinition")
    (definition,) = [d for d in definitions.values() if "model publisher" in d["roleName"]]
    (permissions,) = definition["permissions"]
    assert permissions["actions"] == [
        "Microsoft.Storage/storageAccounts/blobServices/containers/read"]
    assert sorted(permissions["dataActions"]) == sorted(
        f"{BLOBS}/{a}" for a in ("read", "write", "add/action"))
    assignments = of_type(records, "azure-native:authorization:RoleAssignment")
    (assignment,) = [a for name, a in assignments.items() if name.endswith("-publisher")]
    condition = assignment["condition"]
    for prefix in ("models/", "evals/"):
        assert f"@Resource[{BLOBS}:path] StringStartsWith '{prefix}'" in condition
        assert f"@Request[{BLOBS}:prefix] StringStartsWith '{prefix}'" in condition
    assert "gateway-db" not in condition and "checkpoints" not in condition
    credentials = of_type(records, "azure-native:managedidentity:FederatedIdentityCredential")
    assert PUBLISHER_SUBJECT in {c["subject"] for c in credentials.values()}
    assert bucket.publisher_identity.pod_labels == {"azure.workload.identity/use": "true"}


def test_azure_hybrid_publisher_trusts_the_onprem_issuer():
    records, bucket = azure_bucket(model_publisher=True, onprem_issuer=ISSUER)
    credentials = of_type(records, "azure-native:managedidentity:FederatedIdentityCredential")
    by_subject = {c["subject"]: c["issuer"] for c in credentials.values()}
    assert by_subject[PUBLISHER_SUBJECT] == ISSUER
    assert bucket.publisher_identity.env["AZURE_FEDERATED_TOKEN_FILE"] == (
        "/var/run/secrets/llm-platform/cloud-token/token")


def test_azure_store_is_an_az_root_naming_the_account_adlfs_reads():
    records, bucket = azure_bucket()
    assert bucket.publisher_identity is None
    assert bucket.store.fsspec_uri == "az://artifacts"
    assert bucket.store.fsspec_env == {"AZURE_STORAGE_ACCOUNT_NAME": "llmprodabcdef12"}


def test_azure_lifecycle_never_deletes_a_current_blob_under_models():
    args = azure_artifacts.ArtifactBucketArgs(
        account_name="a", location="eastus", subscription_id="s", namespace=NAMESPACE,
        noncurrent_version_days=1, checkpoint_days=1, expected_gib=1, tags={},
    )
    blob = "artifacts/models/support-bot/0123456789abcdef0123456789abcdef01234567/manifest.json"
    for rule in azure_artifacts.lifecycle(args).rules:
        definition = rule.definition
        if definition.actions.base_blob is None:
            continue  # previous versions (or snapshots) only
        prefixes = definition.filters.prefix_match
        assert prefixes and not any(blob.startswith(p) for p in prefixes), rule.name


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_the_backup_writer_is_untouched_by_the_publisher(cloud):
    """The generalised writer builders keep the database's grant exactly: its one prefix."""
    if cloud == "aws":
        records, _ = aws_bucket(database_backups=True, model_publisher=True)
        associations = of_type(records, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
        (db,) = [a for a in associations.values() if a["serviceAccount"] == "llm-gateway-db"]
        statements = policies_by_role(records)[db["roleArn"].rsplit(":", 1)[-1]]["Statement"]
        objects = next(s for s in statements if "s3:PutObject" in actions(s))
        assert objects["Resource"].endswith("/gateway-db/*") and "s3:DeleteObject" in actions(
            objects)
    elif cloud == "gcp":
        records, _ = gcp_bucket(backup_account_id="llm-prod-db-backup",
                                publisher_account_id="llm-prod-publisher")
        writer = grants(records, "llm-prod-db-backup")["roles/storage.objectAdmin"]
        assert "gateway-db/" in writer and "models/" not in writer
    else:
        records, _ = azure_bucket(database_backups=True, model_publisher=True)
        assignments = of_type(records, "azure-native:authorization:RoleAssignment")
        (db,) = [a for name, a in assignments.items() if name.endswith("-backup")]
        assert "'gateway-db/'" in db["condition"] and "models/" not in db["condition"]


# --- through the example stacks -----------------------------------------------------------


def test_every_cloud_stack_with_models_gets_its_publisher(planned):
    """resolve turns a spec with models into a publisher, bound to the stack's namespace."""
    aws = planned["aws"]
    (assoc,) = [a["inputs"] for a in aws.resources(
        "aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if a["inputs"]["serviceAccount"] == "model-publisher"]
    assert assoc["namespace"] == "llm-aws"
    gcp = planned["gcp"]
    accounts = {a["inputs"]["accountId"] for a in gcp.resources(
        "gcp:serviceaccount/account:Account")}
    assert "llm-gcp-publisher" in accounts
    members = {m["inputs"]["member"] for m in gcp.resources(
        "gcp:serviceaccount/iAMMember:IAMMember")}
    assert any(m.endswith("[llm-gcp/model-publisher]") for m in members)
    azure = planned["azure"]
    subjects = {c["inputs"]["subject"] for c in azure.resources(
        "azure-native:managedidentity:FederatedIdentityCredential")}
    assert "system:serviceaccount:llm-azure:model-publisher" in subjects
    hybrid = planned["hybrid"]
    trusts = [json.loads(r["inputs"]["assumeRolePolicy"])["Statement"][0]["Condition"]
              for r in hybrid.resources("aws:iam/role:Role")
              if r["name"] == "hybrid-aws-artifacts-onprem-publisher"]
    assert trusts == [{"StringEquals": {
        "oidc.onprem.example.com/cluster-1:sub":
            "system:serviceaccount:llm-hybrid:model-publisher",
        "oidc.onprem.example.com/cluster-1:aud": "sts.amazonaws.com"}}]


def test_the_hybrid_hands_the_onprem_layer_the_federated_publisher():
    """topology._hybrid: the on-prem cluster's facts carry the cloud's federated publisher
    and the cloud store's fsspec root, as they carry the reader and the backup writer."""
    env = load_spec(stack_spec("hybrid"))
    secrets = {key: f"value-of-{key}" for key in env.spec.secret_keys()}
    found: list[Any] = []

    def program() -> None:
        facts, _ = topology.FOUNDATIONS["hybrid"](env, secrets)
        publisher = facts.model_publisher
        found.append(publisher)
        pulumi.Output.all(facts.artifacts.fsspec_uri, facts.artifacts.fsspec_env,
                          publisher.env["AWS_ROLE_ARN"]).apply(found.append)

    run(program)
    publisher, (uri, env_vars, role) = found
    assert publisher.token_audience == "sts.amazonaws.com"
    assert publisher.env["AWS_WEB_IDENTITY_TOKEN_FILE"] == (
        "/var/run/secrets/llm-platform/cloud-token/token")
    assert "onprem-publisher" in role
    assert uri.startswith("s3://llm-hybrid-artifacts-")
    assert env_vars == {"AWS_DEFAULT_REGION": "us-east-1"}  # stacks/Pulumi.hybrid.yaml
