"""Gateway: the LiteLLM proxy in front of the model servers, with its Redis, its database
and the Job that provisions teams and keys.

The component only creates the objects; what goes in them comes from the pure builders of
this package: `config` (LiteLLM's config.yaml and our gateway.json), `deployment` (the
proxy's pods, autoscaler, disruption budget), `objects` (ConfigMap, Secrets, request-log
claim, provisioning Job), `network` (Service, Ingress, ServiceMonitor, NetworkPolicies),
`redis` and `database` (CloudNativePG).

In render mode no secret value is written: the Secrets `llm-gateway-secrets` and
`llm-gateway-keys` are made beforehand with kubectl and only referenced by name.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes import helm
from components.kubernetes.gateway import database, deployment, network, objects, redis
from components.kubernetes.gateway.args import CnpgDatabase, GatewayArgs
from components.kubernetes.gateway.deployment import (
    CONFIG_MAP,
    DB_CLUSTER,
    KEYS_SECRET,
    NAME,
    PORT,
    SECRETS,
)

__all__ = ["Gateway", "GatewayArgs"]


class Gateway(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:kubernetes:Gateway", name, None, opts)
        self._args = args
        self._name = name
        data = objects.config_data(args)
        reads = [
            k8s.core.v1.ConfigMap(
                f"{name}-config", metadata=self._meta(CONFIG_MAP), data=data, opts=self._child()
            ),
            *self._secrets(),
        ]
        database_ready = self._database()
        self._redis()
        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-request-log",
            metadata=self._meta(args.request_log.claim),
            spec=objects.log_claim_spec(args.request_log),
            opts=self._child(),
        )
        gateway = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=self._meta(NAME, annotations=deployment.annotations(args.image)),
            spec=deployment.deployment_spec(args, deployment.config_checksum(data)),
            # The autoscaler owns the replica count once the Deployment exists.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*reads, claim], ignore_changes=["spec.replicas"]
            ),
        )
        k8s.batch.v1.Job(
            f"{name}-provision",
            metadata=self._meta(
                objects.job_name(args), annotations=deployment.annotations(args.image)
            ),
            spec=objects.job_spec(args),
            # `pulumi up` waits for the Job to succeed (pulumi/pulumi-kubernetes#633): long
            # enough for every retry while a new database starts.
            opts=self._child(
                depends_on=[*reads, *database_ready],
                custom_timeouts=pulumi.CustomTimeouts(create=objects.JOB_WAIT),
            ),
        )
        self._scaling(gateway)
        service = self._network()
        self.url = pulumi.Output.concat(
            "http://", service.metadata.name, ".", args.namespace, f".svc:{PORT}"
        )
        self.register_outputs({"url": self.url})

    def _child(self, **extra) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **extra)

    def _meta(
        self, obj_name: str, labels: dict[str, str] | None = None, **extra
    ) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=obj_name,
            namespace=self._args.namespace,
            labels=labels or self._args.labels,
            **extra,
        )

    def _secrets(self) -> list[pulumi.Resource]:
        """Both Secrets from the Pulumi secrets, except in render mode, where the provider
        would write their values to disk in plain text (components/kubernetes/helm.py)."""
        args, name = self._args, self._name
        if args.render:
            return []
        made = [
            k8s.core.v1.Secret(
                f"{name}-secrets",
                metadata=self._meta(SECRETS),
                type="Opaque",
                string_data=objects.secret_data(args),
                opts=self._child(),
            )
        ]
        keys = objects.key_data(args)
        if keys:
            made.append(
                k8s.core.v1.Secret(
                    f"{name}-keys",
                    metadata=self._meta(KEYS_SECRET),
                    type="Opaque",
                    string_data=keys,
                    opts=self._child(),
                )
            )
        return made

    def _scaling(self, gateway: k8s.apps.v1.Deployment) -> None:
        args, name = self._args, self._name
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=self._meta(NAME),
            spec=deployment.hpa_spec(args, gateway.metadata.name),
            opts=self._child(),
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=self._meta(NAME),
            spec=deployment.pdb_spec(args),
            opts=self._child(),
        )

    def _network(self) -> k8s.core.v1.Service:
        args, name = self._args, self._name
        selector = deployment.selector()
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=self._meta(NAME),
            spec=network.service_spec(selector),
            opts=self._child(),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=self._meta(NAME, {**args.labels, **args.monitoring_labels}),
            spec=network.service_monitor_spec(selector, args.namespace),
            opts=self._child(depends_on=list(args.crds_ready)),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=self._meta(NAME),
            spec=network.network_policy_spec(args),
            opts=self._child(),
        )
        if args.ingress is not None:
            k8s.networking.v1.Ingress(
                f"{name}-ingress",
                metadata=self._meta(NAME),
                spec=network.ingress_spec(args.ingress),
                opts=self._child(depends_on=[service]),
            )
        return service

    def _redis(self) -> None:
        args, name = self._args, self._name
        labels = redis.labels(args.labels)
        k8s.apps.v1.Deployment(
            f"{name}-redis",
            metadata=self._meta(redis.NAME, labels),
            spec=redis.deployment_spec(args.redis_image, args.labels),
            opts=self._child(),
        )
        k8s.core.v1.Service(
            f"{name}-redis-service",
            metadata=self._meta(redis.NAME, labels),
            spec=redis.service_spec(),
            opts=self._child(),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-redis-netpol",
            metadata=self._meta(redis.NAME, labels),
            spec=network.redis_network_policy_spec(),
            opts=self._child(),
        )

    def _database(self) -> list[pulumi.Resource]:
        """The operator and the `Cluster` (with its backups) for an in-cluster database;
        nothing for an existing one. Returns what the provisioning Job waits for."""
        args, name = self._args, self._name
        db = args.database
        if not isinstance(db, CnpgDatabase):
            return []
        operator_ns = k8s.core.v1.Namespace(
            f"{name}-cnpg-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=database.OPERATOR_NAMESPACE,
                labels=database.namespace_labels(args.labels),
            ),
            opts=self._child(),
        )
        release = helm.install(
            f"{name}-cnpg",
            release=database.RELEASE,
            pinned=database.chart(),
            namespace=operator_ns.metadata.name,
            values=database.operator_values(),
            renders=args.render,
            opts=self._child(depends_on=[operator_ns]),
        )
        backup = None
        if db.backup_store is not None:
            backup = pulumi.Output.from_input(db.backup_store.uri).apply(database.backup_spec)
        labels = {**args.labels, **database.db_labels()}
        cluster = k8s.apiextensions.CustomResource(
            f"{name}-db",
            api_version=database.API_VERSION,
            kind="Cluster",
            metadata=self._meta(DB_CLUSTER, labels),
            spec=database.cluster_spec(db, args.labels, backup),
            opts=self._child(depends_on=[release]),
        )
        if backup is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-db-backup",
                api_version=database.API_VERSION,
                kind="ScheduledBackup",
                metadata=self._meta(DB_CLUSTER, labels),
                spec=database.scheduled_backup_spec(),
                opts=self._child(depends_on=[release, cluster]),
            )
        return [cluster]
