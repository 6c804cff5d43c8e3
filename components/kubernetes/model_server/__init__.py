"""ModelServer: one served model on Kubernetes, whichever engine runs it.

The component only creates the objects; what goes in them comes from the pure builders of
this package: `weights` (volume, token file, fetch), `pod` (container, pod, Deployment),
`scaling` (HPA, PDB) and `network` (Service, NetworkPolicy, ServiceMonitor).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import naming
from components.engines import HTTP_PORT
from components.kubernetes import pods
from components.kubernetes.model_server import network, pod, scaling, sync
from components.kubernetes.model_server.args import (
    ModelServerArgs,
    SecretFile,
    WeightsFetch,
    WeightsSource,
)
from components.kubernetes.model_server.weights import shared_claim_spec

__all__ = ["ModelServer", "ModelServerArgs", "SecretFile", "WeightsFetch", "WeightsSource"]


class ModelServer(pulumi.ComponentResource):
    """Deployment, Service, weights, PDB, HPA, ServiceMonitor and NetworkPolicy for a model.

    Rollouts work with no spare GPU (maxSurge 0 when the pool has no headroom), readiness
    means the model is loaded, and shutdown drains streams before the pod goes.
    """

    endpoint: pulumi.Output[str]

    def __init__(
        self, name: str, args: ModelServerArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:kubernetes:ModelServer", name, None, opts)
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        selector = naming.selector_labels(args.name, pod.COMPONENT)
        parts = pod.pod_parts(args, self._shared_claim(name), self._engine_config(name))
        deployment = k8s.apps.v1.Deployment(
            f"{name}-server",
            metadata=self._meta(annotations=pod.deployment_annotations(args)),
            spec=pod.deployment_spec(args, parts),
            # The autoscaler owns the replica count once the Deployment exists. No pod
            # fetches the revision before the sync Job has put it in the store.
            opts=pulumi.ResourceOptions(
                parent=self, ignore_changes=["spec.replicas"], depends_on=self._sync(name)
            ),
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb", metadata=self._meta(), spec=scaling.pdb_spec(selector), opts=child
        )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=self._meta(),
            spec=scaling.hpa_spec(args.plan, args.engine, deployment.metadata.name),
            opts=child,
        )
        self._network(name, selector)
        service = k8s.core.v1.Service(
            f"{name}-svc",
            metadata=self._meta(),
            spec=network.service_spec(args.engine, selector),
            opts=child,
        )
        self.endpoint = pulumi.Output.concat(
            "http://",
            service.metadata.name,
            ".",
            args.namespace,
            ".svc:",
            str(HTTP_PORT),
            args.engine.api_path,
        )
        self.register_outputs({"endpoint": self.endpoint})

    def _meta(self, suffix: str = "", **extra) -> k8s.meta.v1.ObjectMetaArgs:
        args = self._args
        return k8s.meta.v1.ObjectMetaArgs(
            name=f"{args.name}{suffix}", namespace=args.namespace, labels=args.labels, **extra
        )

    def _shared_claim(self, name: str) -> pulumi.Output[str] | None:
        if self._args.weights.volume != "shared":
            return None
        return k8s.core.v1.PersistentVolumeClaim(
            f"{name}-weights",
            metadata=self._meta("-weights"),
            spec=shared_claim_spec(self._args.weights),
            opts=pulumi.ResourceOptions(parent=self),
        ).metadata.name

    def _sync(self, name: str) -> list[pulumi.Resource]:
        """The Job that copies the pinned revision into the store, where there is one; what
        the server waits for. `pulumi up` waits for the Job's Complete condition and fails
        on Failed (pulumi_kubernetes==4.34.2 batch/v1/Job.py:109-124)."""
        args = self._args
        version = args.version
        if version is None or version.sync is None:
            return []
        job = k8s.batch.v1.Job(
            f"{name}-sync",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=sync.job_name(args.name, version.sync, version.revision),
                namespace=args.namespace,
                labels=sync.job_labels(args),
                annotations=pods.digest_skip(sync.TOOLS_IMAGE),
            ),
            spec=sync.job_spec(args, version.sync, version.revision),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=list(version.sync.ready),
                custom_timeouts=pulumi.CustomTimeouts(
                    create=sync.job_timeout(args.weights.size_gib),
                    update=sync.job_timeout(args.weights.size_gib),
                ),
            ),
        )
        return [job]

    def _engine_config(self, name: str) -> pulumi.Output[str] | None:
        files = self._args.engine.config_files(self._args.plan)
        if not files:
            return None
        return k8s.core.v1.ConfigMap(
            f"{name}-engine-config",
            metadata=self._meta("-engine-config"),
            data=files,
            opts=pulumi.ResourceOptions(parent=self),
        ).metadata.name

    def _network(self, name: str, selector: dict[str, str]) -> None:
        args = self._args
        k8s.apiextensions.CustomResource(
            f"{name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.name,
                namespace=args.namespace,
                labels={**args.labels, **args.monitoring_labels},
            ),
            spec=network.service_monitor_spec(selector, args.namespace, args.engine),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.crds_ready)),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=self._meta(),
            spec=network.network_policy_spec(args.prometheus_namespace, selector, args.engine),
            opts=pulumi.ResourceOptions(parent=self),
        )
