"""The gateway's in-cluster Postgres: the CloudNativePG operator (pinned chart) and one
`Cluster`, backed up to the artifact bucket. Pure builders: they return dicts.

Every field is in the CRDs of the pinned chart, vendored in
tests/upstream/crds/cloudnative-pg-0.29.0 (postgresql.cnpg.io/v1, operator 1.30.0).

Backups use the Cluster's in-tree `spec.backup.barmanObjectStore`. CloudNativePG deprecated
it in 1.26 for the Barman Cloud Plugin, and its 1.30.0 release notes move the removal to
1.31.0 (#11083). The plugin's chart needs cert-manager to issue its TLS certificates
(cloudnative-pg/charts charts/plugin-barman-cloud/README.md), which this platform does not
install, so 1.30.0 with the in-tree field is what works here today. Before the operator
row goes to 1.31, backups must move to the plugin (an ObjectStore plus `spec.plugins`).
"""

from __future__ import annotations

from typing import Any

import pulumi

from components import conventions
from components.catalog import versions
from components.kubernetes import helm
from components.kubernetes.facts import WorkloadIdentity
from components.kubernetes.gateway.args import CnpgDatabase
from components.kubernetes.gateway.deployment import DB_CLUSTER

API_VERSION = "postgresql.cnpg.io/v1"
COMPONENT = "gateway-db"
# The operator's own namespace, the chart README's (`helm upgrade --install cnpg --namespace
# cnpg-system --create-namespace`): the operator holds cluster-wide RBAC and an API token,
# which stay out of the namespace whose Secrets hold every client key.
OPERATOR_NAMESPACE = "cnpg-system"
RELEASE = "cnpg"
DATABASE = "gateway"
# Base backups nightly; the WAL archive covers the time between. CloudNativePG schedules
# take a seconds field first (ScheduledBackup.spec.schedule, robfig/cron format).
BACKUP_SCHEDULE = "0 0 3 * * *"
BACKUP_RETENTION = "30d"
BACKUP_PREFIX = "gateway-db"


def db_labels() -> dict[str, str]:
    return {conventions.APP_NAME: DB_CLUSTER, conventions.APP_COMPONENT: COMPONENT}


def namespace_labels(gateway_labels: dict[str, str]) -> dict[str, str]:
    """The operator's pod meets the restricted profile, so its namespace enforces it."""
    return {
        **gateway_labels,
        conventions.APP_NAME: OPERATOR_NAMESPACE,
        conventions.APP_COMPONENT: "namespace",
        conventions.PSA_ENFORCE: "restricted",
        conventions.PSA_WARN: "restricted",
        conventions.PSA_AUDIT: "restricted",
    }


def chart() -> helm.PinnedChart:
    return helm.PinnedChart(*versions.chart("cloudnative-pg"))


def operator_values() -> dict[str, Any]:
    """The chart's defaults already run the operator under the restricted profile
    (values.yaml containerSecurityContext/podSecurityContext at cloudnative-pg-v0.29.0) and
    use no Helm hook, so a rendered chart is complete."""
    return {
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}
    }


def _credentials(uri: str) -> dict[str, Any]:
    """Each cloud's workload identity, as barman-cloud takes it from the pod's service
    account (Cluster CRD barmanObjectStore.{s3,google,azure}Credentials)."""
    if uri.startswith("s3://"):
        return {"s3Credentials": {"inheritFromIAMRole": True}}
    if uri.startswith("gs://"):
        return {"googleCredentials": {"gkeEnvironment": True}}
    if ".blob.core.windows.net/" in uri:
        return {"azureCredentials": {"inheritFromAzureAD": True}}
    raise ValueError(f"no barman-cloud credentials for the artifact store {uri}")


def backup_spec(uri: str) -> dict[str, Any]:
    return {
        "retentionPolicy": BACKUP_RETENTION,
        "barmanObjectStore": {
            "destinationPath": f"{uri.rstrip('/')}/{BACKUP_PREFIX}",
            **_credentials(uri),
            "wal": {"compression": "gzip"},
            "data": {"compression": "gzip"},
        },
    }


def cluster_spec(
    db: CnpgDatabase, gateway_labels: dict[str, str], backup: pulumi.Input[dict] | None
) -> dict[str, Any]:
    """`gateway_labels` go on every instance pod (inheritedMetadata): the platform's, with the
    `gateway-db` component. The operator makes `<cluster>-app` holding the owner's URL."""
    storage: dict[str, Any] = {"size": f"{db.storage_gib}Gi"}
    if db.storage_class:
        storage["storageClass"] = db.storage_class
    identity = db.backup_identity or WorkloadIdentity()
    spec: dict[str, Any] = {
        "instances": db.instances,
        "storage": storage,
        "bootstrap": {"initdb": {"database": DATABASE, "owner": DATABASE}},
        "enableSuperuserAccess": False,
        "inheritedMetadata": {"labels": {**gateway_labels, **db_labels(), **identity.pod_labels}},
        "resources": {
            "requests": {"cpu": "250m", "memory": "512Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
    }
    if backup is not None:
        spec["backup"] = backup
        if identity.service_account_annotations:
            spec["serviceAccountTemplate"] = {
                "metadata": {"annotations": dict(identity.service_account_annotations)}
            }
    return spec


def scheduled_backup_spec() -> dict[str, Any]:
    return {
        "cluster": {"name": DB_CLUSTER},
        "schedule": BACKUP_SCHEDULE,
        "method": "barmanObjectStore",
        # The Backup objects go with the ScheduledBackup when it is deleted.
        "backupOwnerReference": "self",
    }
