"""The retraining trigger of one training job: a CronJob `retrain-<job>` running
`python -m components.training.trigger` (the model-tools image), its ServiceAccount and, for
`action: train` only, the Role that lets it start the suspended CronJob `train-<job>`. Pure
builders: they return Pulumi Args or plain values; the TrainingJobs component registers them.

The thresholds travel as the container's arguments, read from the same spec fields
runbooks/retraining-policy.md names (`trigger_spec` below), so the document and the CronJob
cannot disagree: `kubectl get cronjob retrain-<job> -o yaml` shows the values in force.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi_kubernetes as k8s

from components import conventions
from components.catalog import versions
from components.kubernetes import pods
from components.kubernetes.facts import TRAINER_PREFIX
from components.kubernetes.pushgateway.objects import service_url

if TYPE_CHECKING:
    from components.spec import EnvironmentSpec, TrainingJob

PREFIX = "retrain-"
COMPONENT = "retraining-trigger"
# A CronJob's name is at most 52 characters: the controller appends 11 to name its Jobs
# (Kubernetes docs, CronJob, "Writing a CronJob spec").
MAX_CRONJOB_NAME = 52
# The model-tools image (docker/model-tools.Dockerfile) carries components/training/.
TOOLS_IMAGE = versions.image("model-tools")
TMP = "/tmp"

core = k8s.core.v1
meta = k8s.meta.v1


@dataclass(frozen=True)
class TriggerSpec:
    """The trigger's figures, resolved from the spec (`trigger_spec`)."""

    job: str  # training.jobs[].name
    model: str  # trigger.model
    revision: str | None  # models[].revision of trigger.model: whose eval score is read
    schedule: str  # trigger.schedule
    drift_threshold: float | None  # observability.quality.input_drift_threshold; None: no monitor
    drift_days: int  # trigger.drift_days
    window_days: int  # trigger.window_days
    eval_floor: float | None  # trigger.eval_floor, default the model's eval.min_score
    action: str  # trigger.action: ticket | train
    series_namespace: str  # where the model's series come from (the spec's namespace)
    prometheus_url: str  # observability.prometheus.url
    pushgateway_url: str  # the stack's Pushgateway


def trigger_spec(spec: EnvironmentSpec, job: TrainingJob) -> TriggerSpec | None:
    """The job's trigger with every default the policy names filled in; None without one."""
    trig = job.trigger
    if trig is None:
        return None
    model = next((m for m in spec.models if m.name == trig.model), None)
    floor = trig.eval_floor
    if floor is None and model is not None and model.eval is not None:
        floor = model.eval.min_score
    quality = spec.observability.quality
    return TriggerSpec(
        job=job.name,
        model=trig.model,
        revision=model.revision if model is not None else None,
        schedule=trig.schedule,
        drift_threshold=quality.input_drift_threshold if quality is not None else None,
        drift_days=trig.drift_days,
        window_days=trig.window_days,
        eval_floor=floor if model is not None else None,
        action=trig.action,
        series_namespace=spec.namespace,
        prometheus_url=spec.observability.prometheus.url,
        pushgateway_url=service_url(spec.namespace),
    )


def name(job: str) -> str:
    """`retrain-<job>`, cut to a CronJob's 52 characters with 8 hex of its SHA-256."""
    full = f"{PREFIX}{job}"
    if len(full) <= MAX_CRONJOB_NAME:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{full[:MAX_CRONJOB_NAME - 9].rstrip('-')}-{digest}"


def trigger_args(t: TriggerSpec) -> list[str]:
    """The CLI's arguments (components/training/trigger.py parser()). A rule the stack has
    no figure for (no quality monitor, no eval gate) is left out, and the trigger skips it."""
    argv = [
        "--training-job", t.job,
        "--model", t.model,
        "--namespace", t.series_namespace,
        "--prometheus", t.prometheus_url,
        "--pushgateway", t.pushgateway_url,
        "--drift-days", str(t.drift_days),
        "--window-days", str(t.window_days),
        "--action", t.action,
    ]  # fmt: skip
    if t.drift_threshold is not None:
        argv += ["--drift-threshold", repr(t.drift_threshold)]
    if t.eval_floor is not None and t.revision is not None:
        argv += ["--eval-floor", repr(t.eval_floor), "--revision", t.revision]
    if t.action == "train":
        argv += ["--cronjob", f"{TRAINER_PREFIX}{t.job}"]
    return argv


def container(t: TriggerSpec, image: str) -> core.ContainerArgs:
    return core.ContainerArgs(
        name="trigger",
        image=image,
        image_pull_policy="Always",
        command=["python", "-m", "components.training.trigger"],
        args=trigger_args(t),
        env=[
            core.EnvVarArgs(name="PYTHONDONTWRITEBYTECODE", value="1"),
            core.EnvVarArgs(name="HOME", value=TMP),
        ],
        # A few HTTP calls and a comparison: far under the smallest CPU node.
        resources=core.ResourceRequirementsArgs(
            requests={"cpu": "50m", "memory": "64Mi"}, limits={"cpu": "500m", "memory": "256Mi"}
        ),
        security_context=pods.container_security(),
        volume_mounts=[core.VolumeMountArgs(name="tmp", mount_path=TMP)],
    )


def pod_spec(t: TriggerSpec, image: str) -> core.PodSpecArgs:
    """Restricted. Only `train` needs the Kubernetes API, so only it gets a token."""
    return core.PodSpecArgs(
        service_account_name=name(t.job),
        automount_service_account_token=t.action == "train",
        enable_service_links=False,
        restart_policy="Never",
        security_context=pods.pod_security(),
        containers=[container(t, image)],
        volumes=[
            core.VolumeArgs(name="tmp", empty_dir=core.EmptyDirVolumeSourceArgs(size_limit="64Mi"))
        ],
    )


def cronjob_spec(
    t: TriggerSpec, labels: dict[str, str], image: str
) -> k8s.batch.v1.CronJobSpecArgs:
    return k8s.batch.v1.CronJobSpecArgs(
        schedule=t.schedule,
        # The policy's days are UTC days (trigger.schedule's default: 06:00 UTC).
        time_zone="Etc/UTC",
        # Two runs at once could both act before either writes its state.
        concurrency_policy="Forbid",
        starting_deadline_seconds=3600,
        successful_jobs_history_limit=3,
        failed_jobs_history_limit=3,
        job_template=k8s.batch.v1.JobTemplateSpecArgs(
            spec=k8s.batch.v1.JobSpecArgs(
                # A retry for a Prometheus or Pushgateway blip; the state makes it safe.
                backoff_limit=2,
                active_deadline_seconds=600,
                ttl_seconds_after_finished=7 * 86400,
                template=core.PodTemplateSpecArgs(
                    metadata=meta.ObjectMetaArgs(labels=labels), spec=pod_spec(t, image)
                ),
            )
        ),
    )


def role_rules(t: TriggerSpec) -> list[k8s.rbac.v1.PolicyRuleArgs]:
    """Read the one CronJob it starts, and create Jobs (`create` cannot be narrowed by
    resourceNames: the API server knows no name before the object exists)."""
    return [
        k8s.rbac.v1.PolicyRuleArgs(
            api_groups=["batch"], resources=["cronjobs"], verbs=["get"],
            resource_names=[f"{TRAINER_PREFIX}{t.job}"],
        ),
        k8s.rbac.v1.PolicyRuleArgs(api_groups=["batch"], resources=["jobs"], verbs=["create"]),
    ]  # fmt: skip


def token_skip(t: TriggerSpec) -> dict[str, str]:
    """Checkov's CKV_K8S_38 wants no token mounted where none is needed: `train` needs one."""
    if t.action != "train":
        return {}
    return {
        f"{conventions.CHECKOV_SKIP}2": (
            "CKV_K8S_38=the train action creates a Job through the Kubernetes API; its Role "
            "grants get on one CronJob and create on Jobs, nothing else"
        )
    }


@dataclass(frozen=True)
class TriggerObjects:
    """What to register, in order: (resource name suffix, resource class, its Args)."""

    resources: tuple[tuple[str, type, object], ...]


def trigger_objects(
    namespace: str, t: TriggerSpec, labels: dict[str, str], image: str = TOOLS_IMAGE
) -> TriggerObjects:
    """The ServiceAccount, the CronJob and, for `train`, the Role and its binding, all in
    `namespace` (where the CronJob `train-<job>` is)."""
    own = {**labels, conventions.APP_NAME: name(t.job), conventions.APP_COMPONENT: COMPONENT}

    def obj_meta(**extra) -> meta.ObjectMetaArgs:
        return meta.ObjectMetaArgs(name=name(t.job), namespace=namespace, labels=own, **extra)

    out: list[tuple[str, type, object]] = [(
        "trigger-sa", core.ServiceAccount,
        core.ServiceAccountInitArgs(
            metadata=obj_meta(), automount_service_account_token=t.action == "train"
        ),
    )]  # fmt: skip
    if t.action == "train":
        role_ref = k8s.rbac.v1.RoleRefArgs(
            api_group="rbac.authorization.k8s.io", kind="Role", name=name(t.job)
        )
        subject = k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=name(t.job),
                                          namespace=namespace)
        out += [
            ("trigger-role", k8s.rbac.v1.Role,
             k8s.rbac.v1.RoleInitArgs(metadata=obj_meta(), rules=role_rules(t))),
            ("trigger-binding", k8s.rbac.v1.RoleBinding,
             k8s.rbac.v1.RoleBindingInitArgs(metadata=obj_meta(), role_ref=role_ref,
                                         subjects=[subject])),
        ]  # fmt: skip
    out.append((
        "trigger-cronjob", k8s.batch.v1.CronJob,
        k8s.batch.v1.CronJobInitArgs(
            metadata=obj_meta(annotations={**pods.digest_skip(image), **token_skip(t)}),
            spec=cronjob_spec(t, own, image),
        ),
    ))  # fmt: skip
    return TriggerObjects(tuple(out))
