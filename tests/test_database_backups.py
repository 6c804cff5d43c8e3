"""The gateway database's backups write to the artifact bucket as their own identity: a writer
bound to the database's service account (CloudNativePG names it after the Cluster), limited to
the backup prefix; the weights reader stays read-only on models/. Each cloud's ArtifactBucket
is run under Pulumi's mocks and the IAM it asks for is read back from what it registered."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pinned
import pulumi
import pytest
from pulumi.runtime import mocks, settings

from components.aws import artifacts as aws_artifacts
from components.aws.args import ArtifactBucketArgs as AwsBucketArgs
from components.azure import artifacts as azure_artifacts
from components.azure import ids
from components.azure.args import ArtifactBucketArgs as AzureBucketArgs
from components.gcp import artifacts as gcp_artifacts
from components.gcp.args import ArtifactBucketArgs as GcpBucketArgs
from components.gcp.args import OnPremFederation
from components.kubernetes.facts import ArtifactStore, WorkloadIdentity
from components.kubernetes.gateway import database, deployment
from components.kubernetes.gateway.args import CnpgDatabase
from components.plan.manifests import is_object, to_object
from components.plan.runner import Recorded, _EchoMocks, _RecordingMonitor
from tests.test_gateway_builders import kinds, make_args, record

NAMESPACE = "llm-prod"
ISSUER = "https://oidc.onprem.example.com"
# CloudNativePG runs the instances as a service account named after the Cluster.
DB_SUBJECT = f"system:serviceaccount:{NAMESPACE}:{deployment.DB_CLUSTER}"
READER_SUBJECT = f"system:serviceaccount:{NAMESPACE}:model-weights-reader"


def run(build: Callable[[], Any]) -> tuple[list[Recorded], Any]:
    """Registers what `build` makes with Pulumi's mock monitor; returns the registrations
    and what `build` returned."""
    echo = _EchoMocks()
    monitor = _RecordingMonitor(echo)
    settings.reset_options()
    mocks.set_mocks(echo, project="llm-platform", stack="test", preview=False, monitor=monitor)
    built: list[Any] = []

    def program() -> None:
        built.append(build())

    try:
        pulumi.runtime.test(program)()
    finally:
        monitor.close_loops()
    return monitor.recorded, built[0]


def of_type(records: list[Recorded], suffix: str) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in records if r.type.endswith(suffix)}


# --- AWS --------------------------------------------------------------------------------------


def aws_bucket(**changes: Any) -> tuple[list[Recorded], aws_artifacts.ArtifactBucket]:
    args = AwsBucketArgs(
        bucket_name="llm-prod-artifacts", region="eu-west-1", account_id="123456789012", namespace=NAMESPACE,
        expected_gib=10, access_log_bucket_name="llm-prod-access-logs", **changes,
    )
    return run(lambda: aws_artifacts.ArtifactBucket("art", args, "llm-prod"))


def policies_by_role(records: list[Recorded]) -> dict[str, dict]:
    """Each role's inline policy, by the role's resource name (the policy's `role` is the
    role's id, which the mocks make `<name>-id`)."""
    return {
        r["role"].removesuffix("-id"): json.loads(r["policy"])
        for r in of_type(records, "aws:iam/rolePolicy:RolePolicy").values()
    }


def actions(statement: dict) -> set[str]:
    found = statement["Action"]
    return {found} if isinstance(found, str) else set(found)


def test_aws_writer_is_bound_to_the_database_service_account_and_writes_only_its_prefix():
    records, bucket = aws_bucket(database_backups=True)
    associations = of_type(records, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    by_account = {a["serviceAccount"]: a for a in associations.values()}
    assert set(by_account) == {"model-weights-reader", "llm-gateway-db"}
    assert {a["namespace"] for a in associations.values()} == {NAMESPACE}
    writer_role = by_account["llm-gateway-db"]["roleArn"].rsplit(":", 1)[-1]
    reader_role = by_account["model-weights-reader"]["roleArn"].rsplit(":", 1)[-1]
    policies = policies_by_role(records)
    writes = policies[writer_role]["Statement"]
    # the mocks' ARN of the bucket ends in its resource name
    # (the other bucket holds the artifact bucket's access logs)
    (bucket_arn,) = (f":{name}" for name in of_type(records, "aws:s3/bucket:Bucket")
                     if name.endswith("-bucket"))
    objects = next(s for s in writes if "s3:PutObject" in actions(s))
    assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"} <= actions(objects)
    assert objects["Resource"].endswith(f"{bucket_arn}/gateway-db/*")
    listing = next(s for s in writes if actions(s) == {"s3:ListBucket"})
    assert listing["Condition"]["StringLikeIfExists"]["s3:prefix"] == ["gateway-db/*"]
    # never the power to destroy a version for good, nor anything outside the prefix
    everything = set().union(*(actions(s) for s in writes))
    assert not {a for a in everything if "Version" in a or a == "s3:*"}
    resources = [s["Resource"] for s in writes if s["Resource"].startswith("arn:aws:s3")]
    assert all(r.endswith((f"{bucket_arn}/gateway-db/*", bucket_arn)) for r in resources)
    # the weights reader is unchanged: read-only, models/ only
    reads = policies[reader_role]["Statement"]
    assert set().union(*(actions(s) for s in reads)) == {"s3:ListBucket", "s3:GetObject",
                                                          "kms:Decrypt"}
    assert bucket.backup_identity == WorkloadIdentity()  # Pod Identity needs nothing on the pod


def test_aws_hybrid_trusts_the_onprem_issuer_for_the_database_subject_with_its_own_role():
    records, bucket = aws_bucket(database_backups=True, onprem_oidc_issuer=ISSUER)
    assert len(of_type(records, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")) == 1
    roles = of_type(records, "aws:iam/role:Role")
    subjects = {
        name: json.loads(r["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"][
            "oidc.onprem.example.com:sub"]
        for name, r in roles.items()
    }
    assert sorted(subjects.values()) == sorted([DB_SUBJECT, READER_SUBJECT])
    writer = next(n for n, s in subjects.items() if s == DB_SUBJECT)
    statements = policies_by_role(records)[writer]["Statement"]
    assert any("s3:PutObject" in actions(s) for s in statements)
    identity = bucket.backup_identity
    # CloudNativePG mounts the projected token under /projected
    assert identity.env["AWS_WEB_IDENTITY_TOKEN_FILE"] == "/projected/llm-platform/token"
    assert identity.token_audience == "sts.amazonaws.com"
    assert bucket.identity.env["AWS_WEB_IDENTITY_TOKEN_FILE"] == (
        "/var/run/secrets/llm-platform/cloud-token/token")


def test_aws_without_an_in_cluster_database_there_is_no_writer():
    records, bucket = aws_bucket()
    assert bucket.backup_identity is None
    associations = of_type(records, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert [a["serviceAccount"] for a in associations.values()] == ["model-weights-reader"]


# --- GCP --------------------------------------------------------------------------------------

FEDERATION = OnPremFederation(
    pool_id="llm-prod-onprem", display_name="on-prem prod", issuer=ISSUER,
    audience="llm-platform-prod", jwks_json='{"keys": []}',
)


def gcp_bucket(**changes: Any) -> tuple[list[Recorded], gcp_artifacts.ArtifactBucket]:
    args = GcpBucketArgs(
        project="acme", location="US-CENTRAL1", bucket_name="acme-llm-prod-artifacts",
        reader_account_id="llm-prod-weights", namespace=NAMESPACE,
        noncurrent_version_days=30, checkpoint_days=14, labels={}, **changes,
    )
    return run(lambda: gcp_artifacts.ArtifactBucket("art", args, "acme.svc.id.goog"))


def grants(records: list[Recorded], account: str) -> dict[str, str]:
    """The roles on the bucket a service account holds, each with its condition (or '')."""
    members = of_type(records, "gcp:storage/bucketIAMMember:BucketIAMMember").values()
    return {
        m["role"]: (m.get("condition") or {}).get("expression", "")
        for m in members if account in m["member"]
    }


def test_gcp_writer_is_a_second_account_bound_to_the_database_and_held_to_its_prefix():
    records, bucket = gcp_bucket(backup_account_id="llm-prod-db-backup")
    accounts = of_type(records, "gcp:serviceaccount/account:Account")
    assert sorted(a["accountId"] for a in accounts.values()) == [
        "llm-prod-db-backup", "llm-prod-weights"]
    writer = grants(records, "llm-prod-db-backup")
    prefix = 'resource.name.startsWith("projects/_/buckets/acme-llm-prod-artifacts/objects/'
    assert f"{prefix}gateway-db/\")" in writer["roles/storage.objectAdmin"]
    assert "models/" not in writer["roles/storage.objectAdmin"]
    assert set(writer) == {"roles/storage.objectAdmin", "roles/storage.legacyBucketReader"}
    # the reader is unchanged: objectViewer on models/
    reader = grants(records, "llm-prod-weights")
    assert set(reader) == {"roles/storage.objectViewer"}
    assert f"{prefix}models/\")" in reader["roles/storage.objectViewer"]
    members = [m["member"] for m in of_type(
        records, "gcp:serviceaccount/iAMMember:IAMMember").values()]
    assert sorted(members) == sorted([
        f"serviceAccount:acme.svc.id.goog[{NAMESPACE}/llm-gateway-db]",
        f"serviceAccount:acme.svc.id.goog[{NAMESPACE}/model-weights-reader]",
    ])
    assert "iam.gke.io/gcp-service-account" in bucket.backup_identity.service_account_annotations


def test_gcp_hybrid_gives_the_database_its_own_provider_and_credential_file():
    records, bucket = gcp_bucket(backup_account_id="llm-prod-db-backup", federation=FEDERATION)
    assert len(of_type(records, "gcp:iam/workloadIdentityPool:WorkloadIdentityPool")) == 1
    providers = of_type(records, "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider")
    conditions = {p["workloadIdentityPoolProviderId"]: p["attributeCondition"]
                  for p in providers.values()}
    assert conditions == {
        "onprem-cluster": f'assertion.sub == "{READER_SUBJECT}"',
        "onprem-gateway-db": f'assertion.sub == "{DB_SUBJECT}"',
    }
    members = [m["member"] for m in of_type(
        records, "gcp:serviceaccount/iAMMember:IAMMember").values()]
    assert any(m.endswith(f"/subject/{DB_SUBJECT}") for m in members)
    identity = bucket.backup_identity
    assert identity.env == {
        "GOOGLE_APPLICATION_CREDENTIALS": "/projected/llm-platform/credentials.json"}
    assert identity.token_audience == "llm-platform-prod"
    assert bucket.identity.env == {
        "GOOGLE_APPLICATION_CREDENTIALS": "/etc/llm-platform/cloud/credentials.json"}
    creds = json.loads(gcp_artifacts.external_account("p", "w@x", "/projected/llm-platform"))
    assert creds["credential_source"] == {"file": "/projected/llm-platform/token"}


# --- Azure ------------------------------------------------------------------------------------

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"


def azure_bucket(**changes: Any) -> tuple[list[Recorded], azure_artifacts.ArtifactBucket]:
    args = AzureBucketArgs(
        account_name="llmprodabcdef12", location="eastus", subscription_id=SUBSCRIPTION,
        namespace=NAMESPACE, noncurrent_version_days=30, checkpoint_days=14,
        expected_gib=10, tags={}, **changes,
    )
    return run(lambda: azure_artifacts.ArtifactBucket(
        "art", args, "llm-prod", "subnet-id", "https://aks.issuer/"))


def test_azure_writer_has_its_own_role_held_to_its_prefix_and_trusts_the_database():
    records, bucket = azure_bucket(database_backups=True)
    (definition,) = of_type(records, "azure-native:authorization:RoleDefinition").values()
    (permissions,) = definition["permissions"]
    # no containers/delete or write: the whole container is out of the writer's reach
    assert permissions["actions"] == [
        "Microsoft.Storage/storageAccounts/blobServices/containers/read"]
    blobs = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
    assert {f"{blobs}/write", f"{blobs}/delete"} <= set(permissions["dataActions"])
    assignments = list(of_type(records, "azure-native:authorization:RoleAssignment").values())
    reader_role = ids.role_definition(SUBSCRIPTION, ids.BLOB_DATA_READER)
    (reader,) = [a for a in assignments if a["roleDefinitionId"] == reader_role]
    (writer,) = [a for a in assignments if a["roleDefinitionId"] != reader_role]
    assert "'gateway-db/'" in writer["condition"] and "models/" not in writer["condition"]
    for change in ("write", "add/action", "delete"):
        assert f"ActionMatches{{'{blobs}/{change}'}}" in writer["condition"]
    assert "'models/'" in reader["condition"] and "gateway-db" not in reader["condition"]
    credentials = of_type(records, "azure-native:managedidentity:FederatedIdentityCredential")
    assert sorted(c["subject"] for c in credentials.values()) == sorted(
        [DB_SUBJECT, READER_SUBJECT])
    assert bucket.backup_identity.pod_labels == {"azure.workload.identity/use": "true"}
    assert "azure.workload.identity/client-id" in (
        bucket.backup_identity.service_account_annotations)


def test_azure_hybrid_writer_reads_its_token_where_cloudnative_pg_mounts_it():
    records, bucket = azure_bucket(database_backups=True, onprem_issuer=ISSUER)
    credentials = of_type(records, "azure-native:managedidentity:FederatedIdentityCredential")
    assert {c["issuer"] for c in credentials.values()} == {ISSUER}
    assert bucket.backup_identity.env["AZURE_FEDERATED_TOKEN_FILE"] == (
        "/projected/llm-platform/token")
    assert bucket.backup_identity.token_audience == "api://AzureADTokenExchange"


# --- the Cluster ------------------------------------------------------------------------------


def test_names_the_foundations_bind_are_the_clusters():
    from components.kubernetes import facts

    assert facts.GATEWAY_DB == deployment.DB_CLUSTER
    assert facts.DATABASE_BACKUP_PREFIX == database.BACKUP_PREFIX


ONPREM_WRITER = WorkloadIdentity(
    env={"GOOGLE_APPLICATION_CREDENTIALS": "/projected/llm-platform/credentials.json"},
    token_audience="llm-platform-prod",
    files={"credentials.json": '{"type": "external_account"}'},
)


@pytest.fixture(scope="module")
def onprem_db() -> list[Recorded]:
    store = ArtifactStore("gs://acme-llm-prod-artifacts", {}, "")
    return record(make_args(database=CnpgDatabase(2, 10, None, store, ONPREM_WRITER)))


def test_an_onprem_cluster_mounts_its_token_and_credential_file_where_the_writer_says(onprem_db):
    objects = kinds(onprem_db)
    spec = objects[("Cluster", "llm-gateway-db")].inputs["spec"]
    assert spec["backup"]["barmanObjectStore"]["destinationPath"] == (
        "gs://acme-llm-prod-artifacts/gateway-db")
    assert spec["env"] == [{"name": "GOOGLE_APPLICATION_CREDENTIALS",
                            "value": "/projected/llm-platform/credentials.json"}]
    token, files = spec["projectedVolumeTemplate"]["sources"]
    assert token["serviceAccountToken"]["audience"] == "llm-platform-prod"
    # mounted under /projected: the files land at /projected/llm-platform/...
    assert token["serviceAccountToken"]["path"] == "llm-platform/token"
    assert files["configMap"] == {"name": "llm-gateway-db-cloud", "items": [
        {"key": "credentials.json", "path": "llm-platform/credentials.json"}]}
    config = objects[("ConfigMap", "llm-gateway-db-cloud")].inputs
    assert config["data"] == ONPREM_WRITER.files
    cluster = next(to_object(r) for r in onprem_db
                   if is_object(r) and r.inputs.get("kind") == "Cluster")
    assert not pinned.crd_errors(cluster), pinned.crd_errors(cluster)


def test_a_cloud_cluster_carries_the_writers_annotations_on_its_service_account():
    writer = WorkloadIdentity(
        service_account_annotations={"azure.workload.identity/client-id": "writer-id"},
        pod_labels={"azure.workload.identity/use": "true"},
    )
    uri = "https://acct.blob.core.windows.net/artifacts"
    db = CnpgDatabase(2, 10, None, ArtifactStore(uri, {}, ""), writer)
    spec = database.cluster_spec(db, {}, database.backup_spec(uri))
    assert spec["serviceAccountTemplate"]["metadata"]["annotations"] == {
        "azure.workload.identity/client-id": "writer-id"}
    assert spec["inheritedMetadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert "env" not in spec and "projectedVolumeTemplate" not in spec
