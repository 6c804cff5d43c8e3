"""A training job's objects, built from its TrainingJobArgs. Pure builders: they return
Pulumi Args or plain values.

The pod runs the trainer's own image (pinned by digest) under our checkpoint harness:
an init container from the model-tools image copies a relocatable Python with our code
(docker/model-tools.Dockerfile, /opt/llm-platform) into an emptyDir, which the trainer
container mounts at contract.HARNESS_MOUNT and runs as its entrypoint:
`<HARNESS_MOUNT>/bin/python -m components.training.harness <HarnessConfig.to_argv()> --
<command>`. The harness needs nothing of the trainer's image but a glibc.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import conventions, naming
from components.kubernetes import pods
from components.kubernetes.facts import PRIVATE_KEY_FILE, TRAINER_PREFIX
from components.kubernetes.model_server.weights import (
    SIGNING_DIR,
    identity_volumes,
    store_claim,
)
from components.kubernetes.training.args import TrainingJobArgs
from components.training import contract

core = k8s.core.v1
batch = k8s.batch.v1

COMPONENT = "training"
# The NetworkPolicy that admits nothing to any training pod of the namespace.
TRAINER_NETPOL = "training-jobs"
CONTAINER = "trainer"
# The emptyDir the init container fills and the trainer runs the harness from; in the init
# container it is mounted elsewhere, since the image has its own copy at HARNESS_MOUNT.
HARNESS_STAGE = "/harness"
# Node-local scratch: the trainer's CHECKPOINT_DIR and OUTPUT_DIR, HOME and TMPDIR (the root
# filesystem is read-only). A checkpoint lives here until the harness has uploaded it.
SCRATCH = "/scratch"
CHECKPOINT_DIR = f"{SCRATCH}/checkpoints"
OUTPUT_DIR = f"{SCRATCH}/output"
# A failure that is neither a preemption (Ignore) nor a configuration error (FailJob) is
# retried this often: the harness resumes from the last checkpoint, so a retry costs at most
# one checkpoint interval; a third crash of the same run is a bug to read in the logs.
BACKOFF_LIMIT = 2
# The init container only copies the harness (tens of MiB of files).
HARNESS_COPY = {"cpu": "100m", "memory": "128Mi"}
# A preemption is ignored by podFailurePolicy, a config error fails the Job at once.
IGNORED_EXIT_CODES = (contract.PREEMPTED_EXIT_CODE,)
FATAL_EXIT_CODES = (contract.PREEMPTIONS_EXHAUSTED_EXIT_CODE, contract.CONFIG_ERROR_EXIT_CODE)
# JobSet: the one replicated Job of the workers.
REPLICATED_JOB = "workers"
JOBSET_API_VERSION = "jobset.x-k8s.io/v1alpha2"
# `pulumi up` waits for a Job's Complete condition (pulumi_kubernetes batch/v1/Job.py, the
# class docstring), hours for a training run: this annotation skips the wait
# (pulumi/pulumi-kubernetes#417, "Create pulumi.com/skipAwait annotation").
SKIP_AWAIT = "pulumi.com/skipAwait"

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
# A Job's name is its pods' batch.kubernetes.io/job-name label value: at most 63.
JOB_NAME = naming.NameRule(63, _DNS_LABEL, naming.K8S_VALIDATION)
# "The name must be no longer than 52 characters": the CronJob controller appends 11
# (kubernetes.io/docs/concepts/workloads/controllers/cron-jobs, "Writing a CronJob spec").
CRONJOB_NAME = naming.NameRule(
    52, _DNS_LABEL, "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/"
)
# The JobSet webhook refuses a name whose longest pod name, <jobset>-workers-0-<index>-abcde,
# exceeds a DNS-1035 label (kubernetes-sigs/jobset v0.12.0 pkg/webhooks/jobset_webhook.go
# lines 243-254, pkg/util/placement/placement.go GenPodName): 63 - len("-workers-0-63-abcde").
JOBSET_NAME = naming.NameRule(
    63 - len(f"-{REPLICATED_JOB}-0-63-abcde"),
    r"[a-z]([-a-z0-9]*[a-z0-9])?",
    "https://github.com/kubernetes-sigs/jobset/blob/v0.12.0/pkg/webhooks/jobset_webhook.go",
)


def service_account(job: str) -> str:
    """The name foundations bind the job's cloud writer to (facts.TRAINER_PREFIX)."""
    return f"{TRAINER_PREFIX}{job}"


def run_name(args: TrainingJobArgs) -> str:
    """The Job (or JobSet) of one run: `train-<job>-<run id>`. A new run (another image,
    command, base, dataset, hyperparameters or seed) is a new object; the same run keeps its
    name, so a Job restarted by `pulumi up` resumes it."""
    name = f"{TRAINER_PREFIX}{args.name}-{args.harness.run.run_id()}"
    rule = JOBSET_NAME if args.workers > 1 else JOB_NAME
    return naming.fit(name, rule)


def cron_name(job: str) -> str:
    """A scheduled or triggered job's CronJob: `train-<job>`, stable across runs (a CronJob's
    template may change in place), so the retraining trigger finds it by the job's name."""
    return naming.fit(f"{TRAINER_PREFIX}{job}", CRONJOB_NAME)


def pod_labels(args: TrainingJobArgs) -> dict[str, str]:
    identity = args.identity.pod_labels if args.identity is not None else {}
    return {
        **args.labels,
        contract.JOB_LABEL: args.name,
        contract.RUN_LABEL: args.harness.run.run_id(),
        **identity,
    }


def annotations(args: TrainingJobArgs) -> dict[str, str]:
    """The spec's reason for an on-demand pool (the pack's spot rule reads it)."""
    if args.on_demand_reason is None:
        return {}
    return {contract.ON_DEMAND_REASON_ANNOTATION: args.on_demand_reason}


def harness_volumes(args: TrainingJobArgs) -> list[core.VolumeArgs]:
    """The harness, /dev/shm (memory-backed, counted in the pod's memory: data loaders and
    NCCL exchange tensors through it) and the scratch for checkpoints and output."""
    return [
        core.VolumeArgs(name="harness", empty_dir=core.EmptyDirVolumeSourceArgs()),
        core.VolumeArgs(
            name="shm",
            empty_dir=core.EmptyDirVolumeSourceArgs(
                medium="Memory", size_limit=f"{args.shm_mib}Mi"
            ),
        ),
        core.VolumeArgs(name="scratch", empty_dir=core.EmptyDirVolumeSourceArgs()),
    ]


def signing_key_volume(secret: str) -> tuple[core.VolumeArgs, core.VolumeMountArgs]:
    """The private key as a file readable by the pod's group only, as the sync Job mounts it
    (model_server/sync.py): the harness signs the output model with it."""
    volume = core.VolumeArgs(
        name="signing-key",
        secret=core.SecretVolumeSourceArgs(
            secret_name=secret,
            items=[core.KeyToPathArgs(key=PRIVATE_KEY_FILE, path=PRIVATE_KEY_FILE)],
            default_mode=0o440,
        ),
    )
    return volume, core.VolumeMountArgs(name="signing-key", mount_path=SIGNING_DIR, read_only=True)


def signing_key_path(secret: str | None) -> str | None:
    return None if secret is None else f"{SIGNING_DIR}/{PRIVATE_KEY_FILE}"


def store_volumes(
    args: TrainingJobArgs, files_config_map: pulumi.Input[str] | None
) -> tuple[list[core.VolumeArgs], list[core.VolumeMountArgs]]:
    """The signing key, the identity's token and files, and an on-prem store's claim
    (read-write: checkpoints and the output model go there)."""
    volumes, mounts = identity_volumes(args.identity, files_config_map)
    if args.signing_key_secret is not None:
        volume, mount = signing_key_volume(args.signing_key_secret)
        volumes.append(volume)
        mounts.append(mount)
    if args.store.claim is not None:
        volume, mount = store_claim(args.store.claim, read_only=False)
        volumes.append(volume)
        mounts.append(mount)
    return volumes, mounts


def harness_init(tools_image: str) -> core.ContainerArgs:
    """Copies the harness (/opt/llm-platform of the model-tools image) into the emptyDir."""
    return core.ContainerArgs(
        name="harness",
        image=tools_image,
        image_pull_policy="Always",
        command=["cp", "-a", f"{contract.HARNESS_MOUNT}/.", HARNESS_STAGE],
        resources=core.ResourceRequirementsArgs(
            requests=dict(HARNESS_COPY), limits=dict(HARNESS_COPY)
        ),
        volume_mounts=[core.VolumeMountArgs(name="harness", mount_path=HARNESS_STAGE)],
        security_context=pods.container_security(),
    )


def trainer_command(args: TrainingJobArgs) -> list[pulumi.Input[str]]:
    return [
        f"{contract.HARNESS_MOUNT}/bin/python", "-m", "components.training.harness",
        *args.harness.to_argv(),
        "--",
        *args.command,
    ]  # fmt: skip


def trainer_env(args: TrainingJobArgs) -> list[core.EnvVarArgs]:
    """The store's fsspec variables and the identity's, and where the trainer may write:
    the harness sets the rest of the contract's environment (RESUME_STEP, SEED, ...)."""
    identity = args.identity.env if args.identity is not None else {}
    env: dict[str, pulumi.Input[str]] = {
        **args.store.fsspec_env,
        **identity,
        contract.CHECKPOINT_DIR_ENV: CHECKPOINT_DIR,
        contract.OUTPUT_DIR_ENV: OUTPUT_DIR,
        "HOME": SCRATCH,
        "TMPDIR": SCRATCH,
        # Our code's bytecode is compiled in the image; nothing is written beside it.
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return [core.EnvVarArgs(name=k, value=v) for k, v in sorted(env.items())]


def trainer_container(
    args: TrainingJobArgs, mounts: list[core.VolumeMountArgs]
) -> core.ContainerArgs:
    gpus = {args.pool.gpu_resource: str(args.gpus_per_worker)}
    return core.ContainerArgs(
        name=CONTAINER,
        image=args.image,
        image_pull_policy="Always",
        command=trainer_command(args),
        env=trainer_env(args),
        resources=core.ResourceRequirementsArgs(
            requests={**args.resources.requests.quantities(), **gpus},
            limits={**args.resources.limits.quantities(), **gpus},
        ),
        volume_mounts=[
            core.VolumeMountArgs(name="harness", mount_path=contract.HARNESS_MOUNT, read_only=True),
            core.VolumeMountArgs(name="shm", mount_path="/dev/shm"),
            core.VolumeMountArgs(name="scratch", mount_path=SCRATCH),
            *mounts,
        ],
        security_context=pods.container_security(),
    )


def pod_template(
    args: TrainingJobArgs, tools_image: str, files_config_map: pulumi.Input[str] | None = None
) -> core.PodTemplateSpecArgs:
    """A restricted pod on the job's pool: its node labels, a toleration for every taint its
    nodes carry (the platform's GPU taint and the ones the cloud adds to spot nodes), and the
    grace the harness has to write and upload the final checkpoint on SIGTERM."""
    volumes, mounts = store_volumes(args, files_config_map)
    template = pods.job_pod(
        pod_labels(args),
        service_account(args.name),
        trainer_container(args, mounts),
        [*harness_volumes(args), *volumes],
    )
    spec = template.spec
    return core.PodTemplateSpecArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(
            labels=pod_labels(args), annotations=annotations(args) or None
        ),
        spec=core.PodSpecArgs(
            service_account_name=spec.service_account_name,
            automount_service_account_token=spec.automount_service_account_token,
            enable_service_links=spec.enable_service_links,
            restart_policy=spec.restart_policy,
            security_context=spec.security_context,
            init_containers=[harness_init(tools_image)],
            containers=spec.containers,
            volumes=spec.volumes,
            node_selector=dict(args.pool.node_selector),
            tolerations=args.pool.tolerations,
            termination_grace_period_seconds=args.harness.grace_s,
        ),
    )


def pod_failure_policy() -> batch.PodFailurePolicyArgs:
    """A preemption, seen by Kubernetes (the DisruptionTarget condition of an evicted or
    preempted pod) or by the harness (PREEMPTED_EXIT_CODE), does not count against
    backoffLimit; a run out of preemptions or a configuration error fails the Job at once.
    Anything else counts (kubernetes.io/docs/tasks/job/pod-failure-policy; the field needs
    restartPolicy Never, which pods.job_pod sets)."""
    return batch.PodFailurePolicyArgs(
        rules=[
            batch.PodFailurePolicyRuleArgs(
                action="Ignore",
                on_pod_conditions=[
                    batch.PodFailurePolicyOnPodConditionsPatternArgs(
                        type="DisruptionTarget", status="True"
                    )
                ],
            ),
            batch.PodFailurePolicyRuleArgs(
                action="Ignore",
                on_exit_codes=batch.PodFailurePolicyOnExitCodesRequirementArgs(
                    container_name=CONTAINER, operator="In", values=list(IGNORED_EXIT_CODES)
                ),
            ),
            batch.PodFailurePolicyRuleArgs(
                action="FailJob",
                on_exit_codes=batch.PodFailurePolicyOnExitCodesRequirementArgs(
                    container_name=CONTAINER, operator="In", values=list(FATAL_EXIT_CODES)
                ),
            ),
        ]
    )


def job_spec(
    args: TrainingJobArgs,
    tools_image: str,
    files_config_map: pulumi.Input[str] | None = None,
    backoff_limit: int = BACKOFF_LIMIT,
) -> batch.JobSpecArgs:
    """One worker, or (in a JobSet) `workers` indexed pods of the same template. No
    ttlSecondsAfterFinished: the finished Job stays, the record that this run ran, and
    `pulumi up` finds it instead of starting the run again."""
    indexed = args.workers > 1
    return batch.JobSpecArgs(
        backoff_limit=backoff_limit,
        active_deadline_seconds=args.active_deadline_s,
        pod_failure_policy=pod_failure_policy(),
        completion_mode="Indexed" if indexed else None,
        completions=args.workers if indexed else None,
        parallelism=args.workers if indexed else None,
        template=pod_template(args, tools_image, files_config_map),
    )


# The Job failure reasons after which restarting the workers cannot help: a FailJob rule of
# podFailurePolicy (out of preemptions, a configuration error) and the run's deadline
# (kubernetes-sigs/jobset v0.12.0 site/content/en/docs/tasks/failure_policy.md: "Valid
# reasons include BackoffLimitExceeded, DeadlineExceeded, and PodFailurePolicy").
FINAL_FAILURES = ("PodFailurePolicy", "DeadlineExceeded")


def job_set_spec(
    args: TrainingJobArgs, tools_image: str, files_config_map: pulumi.Input[str] | None = None
) -> dict[str, Any]:
    """JobSetSpec (jobset.x-k8s.io/v1alpha2, tests/upstream/crds/jobset-0.12.0/): one
    replicated Job of `workers` indexed pods with the Job's pod template and podFailurePolicy.

    The workers train together, so one lost worker stops them all: a preempted pod is
    replaced (Ignore), but its peers fail on the broken collective, and a peer's failure
    fails the Job at once (backoffLimit 0). The JobSet then recreates every worker, which
    resume from the last checkpoint (the default RestartJobSet action), up to once per
    preemption the run may survive plus the single job's crash retries; a FailJob rule or
    the deadline fails the JobSet outright (the pattern of the JobSet docs' example
    site/static/examples/failure-policy/host-maintenance-event-model.yaml, v0.12.0)."""
    return {
        "failurePolicy": {
            "maxRestarts": args.harness.max_preemptions + BACKOFF_LIMIT,
            "rules": [
                {
                    "name": "FailOnPolicyOrDeadline",
                    "action": "FailJobSet",
                    "onJobFailureReasons": list(FINAL_FAILURES),
                }
            ],
        },
        "replicatedJobs": [
            {
                "name": REPLICATED_JOB,
                "replicas": 1,
                "template": {
                    "metadata": {"labels": pod_labels(args)},
                    "spec": job_spec(args, tools_image, files_config_map, backoff_limit=0),
                },
            }
        ],
    }


def network_policy_spec() -> k8s.networking.v1.NetworkPolicySpecArgs:
    """Only training pods reach a training pod: a JobSet's workers meet at their rendezvous
    (the first worker, through the JobSet's headless Service) and exchange gradients. A
    training pod reaches out (the store, the dataset, the Pushgateway) as it must."""
    trainers = k8s.meta.v1.LabelSelectorArgs(match_labels={conventions.APP_COMPONENT: COMPONENT})
    return k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=trainers,
        policy_types=["Ingress"],
        ingress=[
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=trainers)]
            )
        ],
    )


def cron_job_spec(
    args: TrainingJobArgs, tools_image: str, files_config_map: pulumi.Input[str] | None = None
) -> batch.CronJobSpecArgs:
    """The job on its schedule, or (triggered, with no schedule) suspended: the retraining
    trigger creates a Job from its template. A run never overlaps itself (Forbid): two pods
    of one run would write the same checkpoints."""
    return batch.CronJobSpecArgs(
        # A suspended CronJob still needs a valid schedule; it never fires.
        schedule=args.schedule or "0 0 1 1 *",
        suspend=args.schedule is None,
        concurrency_policy="Forbid",
        successful_jobs_history_limit=3,
        failed_jobs_history_limit=3,
        job_template=batch.JobTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(
                labels=pod_labels(args), annotations=annotations(args) or None
            ),
            spec=job_spec(args, tools_image, files_config_map),
        ),
    )
