"""TrainingJobs: every spec training job on the cluster that holds its pool. Per job a
ServiceAccount `train-<job>` (bound by the foundation to the job's cloud writer), and one of:
a Job `train-<job>-<run id>` (one worker), a JobSet of the same name (more than one), or a
CronJob `train-<job>` (a schedule, or a retraining trigger that starts it; suspended then).

Thin: the objects come from the pure builders in `objects`, the Args from
components/kubernetes/resolve.py (training_args)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes import pods
from components.kubernetes.facts import PRIVATE_KEY_FILE, SIGNING_KEY_SECRET
from components.kubernetes.training import jobset, objects, trigger
from components.kubernetes.training.args import (
    JobSetInstall,
    RetrainingTriggersArgs,
    TrainingJobArgs,
    TrainingJobsArgs,
)

__all__ = [
    "JobSetInstall",
    "RetrainingTriggers",
    "RetrainingTriggersArgs",
    "TrainingJobArgs",
    "TrainingJobs",
    "TrainingJobsArgs",
]


class TrainingJobs(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: TrainingJobsArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:kubernetes:TrainingJobs", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace, ready = args.namespace, []
        if args.own_namespace_labels is not None:
            ns = k8s.core.v1.Namespace(
                f"{name}-ns",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=args.namespace, labels=pods.restricted_namespace(args.own_namespace_labels)
                ),
                opts=child,
            )
            namespace = ns.metadata.name
            ready.append(ns)
            if args.private_key is not None:
                ready.append(self._signing_key(name, namespace, args, child))
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=objects.TRAINER_NETPOL, namespace=namespace, labels=args.labels
            ),
            spec=objects.network_policy_spec(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=ready),
        )
        jobset_ready = []
        if args.jobset is not None:
            jobset_ready.append(jobset.install(f"{name}-jobset", args.jobset, child))
        for job in args.jobs:
            self._job(f"{name}-{job.name}", replace_ns(args, namespace), job, ready, jobset_ready)
        self.register_outputs({})

    @staticmethod
    def _signing_key(
        name: str,
        namespace: pulumi.Input[str],
        args: TrainingJobsArgs,
        child: pulumi.ResourceOptions,
    ) -> pulumi.Resource:
        """The signing key's Secret in the jobs' own namespace (a hybrid's cloud cluster,
        where no ModelPublisher made one)."""
        return k8s.core.v1.Secret(
            f"{name}-signing-key",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SIGNING_KEY_SECRET, namespace=namespace),
            type="Opaque",
            string_data={PRIVATE_KEY_FILE: args.private_key},
            opts=child,
        )

    def _job(
        self,
        name: str,
        args: TrainingJobsArgs,
        job: TrainingJobArgs,
        ready: list[pulumi.Resource],
        jobset_ready: list[pulumi.Resource],
    ) -> None:
        """The job's account (and credential files), then its Job, JobSet or CronJob."""
        needs, files = self._account(name, args, job, ready)
        notes = {**objects.annotations(job), **pods.digest_skip(args.tools_image)}
        after = pulumi.ResourceOptions(parent=self, depends_on=needs)
        meta = _meta(args, job)
        if job.schedule is not None or job.triggered:
            k8s.batch.v1.CronJob(
                f"{name}-cron",
                metadata=meta(objects.cron_name(job.name), annotations=notes or None),
                spec=objects.cron_job_spec(job, args.tools_image, files),
                opts=after,
            )
        elif job.workers > 1:
            # Checkov reads no JobSet, so no skip of its check goes on one (the pod template's
            # image pins are the Job's).
            reason = objects.annotations(job) or None
            k8s.apiextensions.CustomResource(
                f"{name}-jobset",
                api_version=objects.JOBSET_API_VERSION,
                kind="JobSet",
                metadata=meta(objects.run_name(job), annotations=reason),
                spec=objects.job_set_spec(job, args.tools_image, files),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*needs, *jobset_ready]),
            )
        else:
            k8s.batch.v1.Job(
                f"{name}-job",
                metadata=meta(
                    objects.run_name(job), annotations={**notes, objects.SKIP_AWAIT: "true"}
                ),
                spec=objects.job_spec(job, args.tools_image, files),
                opts=after,
            )

    def _account(
        self,
        name: str,
        args: TrainingJobsArgs,
        job: TrainingJobArgs,
        ready: list[pulumi.Resource],
    ) -> tuple[list[pulumi.Resource], pulumi.Output[str] | None]:
        """ServiceAccount train-<job> with the identity's annotations, and the ConfigMap of
        its credential files where it has some: what the pods wait for."""
        identity = job.identity
        meta = _meta(args, job)
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=meta(
                objects.service_account(job.name),
                annotations=(identity.service_account_annotations or None) if identity else None,
            ),
            # The pod mounts only the audience-scoped token it needs, never the API token.
            automount_service_account_token=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=ready),
        )
        needs: list[pulumi.Resource] = [*ready, account]
        if identity is None or not identity.files:
            return needs, None
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-files",
            metadata=meta(f"{objects.service_account(job.name)}-cloud"),
            data=identity.files,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return [*needs, config_map], config_map.metadata.name


Meta = Callable[..., k8s.meta.v1.ObjectMetaArgs]


def _meta(args: TrainingJobsArgs, job: TrainingJobArgs) -> Meta:
    """Metadata in the jobs' namespace, with the job's labels."""

    def meta(obj: str, **extra) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=obj, namespace=args.namespace, labels=objects.pod_labels(job), **extra
        )

    return meta


def replace_ns(args: TrainingJobsArgs, namespace: pulumi.Input[str]) -> TrainingJobsArgs:
    return replace(args, namespace=namespace)


class RetrainingTriggers(pulumi.ComponentResource):
    """Per training job with a trigger: the CronJob retrain-<job> and its account (and, for
    action train, its Role), from the pure builders in `trigger`."""

    def __init__(
        self, name: str, args: RetrainingTriggersArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:kubernetes:RetrainingTriggers", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        for spec in args.triggers:
            built = trigger.trigger_objects(args.namespace, spec, args.labels)  # type: ignore[arg-type]
            for suffix, kind, init_args in built.resources:
                kind(f"{name}-{spec.job}-{suffix}", init_args, opts=child)
        self.register_outputs({})
