"""What a training Job's pod and the harness inside it agree on: the store layout, the
trainer's environment, the exit codes the Job's podFailurePolicy reads, and the harness's
arguments. Pure stdlib: the Kubernetes builders, the plan and the harness all import it."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field, fields
from typing import Any, NoReturn

# The store layout, under the artifact store's root (ArtifactStore.fsspec_uri):
#   checkpoints/<job>/<run>/step-<n>/...        one checkpoint's files
#   checkpoints/<job>/<run>/step-<n>/manifest.json   written last: only then is it complete
#   checkpoints/<job>/<run>/state.json          the preemptions survived, and the seed
#   models/<model>/<revision>/                  the output model, manifest, signature,
#   models/<model>/<revision>/run.json          and the run record beside it
# A job's cloud identity may write only checkpoints/<job>/ and models/<model>/.
CHECKPOINTS_PREFIX = "checkpoints"
STEP_DIR_PREFIX = "step-"
CHECKPOINT_MANIFEST = "manifest.json"
RUN_STATE = "state.json"
RUN_RECORD = "run.json"

# The trainer's environment, set by the harness (the job's command runs under it):
# CHECKPOINT_DIR: a local dir; a checkpoint is step-<n>/, renamed into place when complete
CHECKPOINT_DIR_ENV = "CHECKPOINT_DIR"
RESUME_STEP_ENV = "RESUME_STEP"  # the step of the restored checkpoint, "0" for a fresh run
CHECKPOINT_INTERVAL_ENV = "CHECKPOINT_INTERVAL_SECONDS"
OUTPUT_DIR_ENV = "OUTPUT_DIR"  # the final model's files, published when the trainer exits 0
SEED_ENV = "SEED"
HYPERPARAMETERS_ENV = "HYPERPARAMETERS"  # a JSON object

# Exit codes (sysexits.h), read by the Job's podFailurePolicy:
# - PREEMPTED: the harness stopped on SIGTERM with its checkpoint uploaded -> Ignore (does not
#   count against backoffLimit), like the DisruptionTarget pod condition;
# - PREEMPTIONS_EXHAUSTED: the run survived max_preemptions already -> FailJob;
# - CONFIG_ERROR: the harness's arguments or the store are wrong, retrying cannot help -> FailJob.
PREEMPTED_EXIT_CODE = 75  # EX_TEMPFAIL
PREEMPTIONS_EXHAUSTED_EXIT_CODE = 76  # EX_PROTOCOL
CONFIG_ERROR_EXIT_CODE = 78  # EX_CONFIG

# Labels and annotations on a training Job, JobSet or CronJob and its pods.
JOB_LABEL = "llm-platform.dev/training-job"
RUN_LABEL = "llm-platform.dev/run"
# A training workload on an on-demand GPU pool carries the spec's on_demand_reason here; the
# pack's spot rule accepts nothing else.
ON_DEMAND_REASON_ANNOTATION = "llm-platform.dev/on-demand-reason"

# Where the harness (a relocatable Python with our code, copied from the model-tools image by
# an init container) is mounted in the trainer container.
HARNESS_MOUNT = "/opt/llm-platform"


@dataclass(frozen=True)
class RunConfig:
    """Everything that makes a run reproducible: the same RunConfig is the same run (the same
    run id, so a restart resumes it), and the run record stores it whole."""

    job: str
    image: str  # pinned by digest
    command: tuple[str, ...]
    base_hf_id: str
    base_revision: str
    dataset_uri: str
    dataset_version: str
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    def run_id(self) -> str:
        """12 hex of the SHA-256 of the canonical JSON: stable across processes and hosts."""
        doc = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(doc.encode()).hexdigest()[:12]

    def output_revision(self) -> str:
        """The output model's revision (a fine-tune version the spec's Revision accepts)."""
        return f"ft-{self.run_id()}"


@dataclass(frozen=True)
class HarnessConfig:
    """The harness's arguments: `python -m components.training.harness <argv> -- <command>`."""

    run: RunConfig
    store: str  # the store root's fsspec URL (ArtifactStore.fsspec_uri)
    model: str  # models/<model>/ receives the output
    pool: str
    checkpoint_interval_s: int
    keep_checkpoints: int
    max_preemptions: int
    grace_s: int  # the pod's terminationGracePeriodSeconds: the final checkpoint's budget
    pushgateway: str | None = None  # base URL; None: nothing pushed
    signing_key: str | None = None  # path of the private key PEM; None: the output is not signed

    def to_argv(self) -> list[str]:
        """The flags the pod's container args carry (before `--` and the job's command)."""
        argv = [
            "--run-config", json.dumps(asdict(self.run), sort_keys=True),
            "--store", self.store,
            "--model", self.model,
            "--pool", self.pool,
            "--checkpoint-interval", str(self.checkpoint_interval_s),
            "--keep", str(self.keep_checkpoints),
            "--max-preemptions", str(self.max_preemptions),
            "--grace", str(self.grace_s),
        ]
        if self.pushgateway is not None:
            argv += ["--pushgateway", self.pushgateway]
        if self.signing_key is not None:
            argv += ["--signing-key", self.signing_key]
        return argv

    @classmethod
    def from_argv(cls, argv: list[str]) -> HarnessConfig:
        """The inverse of to_argv (the flags before `--`). A bad argument prints one line to
        stderr and exits CONFIG_ERROR_EXIT_CODE: the Job's podFailurePolicy fails the Job at
        once, since a restart would read the same arguments."""
        args = _HarnessParser().parse_args(argv)
        return cls(
            run=_run_config(args.run_config), store=args.store, model=args.model,
            pool=args.pool, checkpoint_interval_s=args.checkpoint_interval,
            keep_checkpoints=args.keep, max_preemptions=args.max_preemptions,
            grace_s=args.grace, pushgateway=args.pushgateway, signing_key=args.signing_key,
        )


def config_error(line: str) -> NoReturn:
    """One line on stderr, exit CONFIG_ERROR_EXIT_CODE: no traceback, no usage text."""
    print(line, file=sys.stderr, flush=True)
    raise SystemExit(CONFIG_ERROR_EXIT_CODE)


class _HarnessParser(argparse.ArgumentParser):
    """argparse with one-line errors: its own prints the whole usage, and exits 2, which the
    podFailurePolicy would count against backoffLimit instead of failing the Job."""

    def __init__(self) -> None:
        super().__init__(prog="harness", allow_abbrev=False, add_help=False)
        self.add_argument("--run-config", required=True)
        for flag in ("--store", "--model", "--pool"):
            self.add_argument(flag, required=True, type=_non_empty)
        # The least each count may be: a checkpoint needs a second, the store one checkpoint.
        for flag, low in (("--checkpoint-interval", 1), ("--keep", 1),
                          ("--max-preemptions", 0), ("--grace", 1)):
            self.add_argument(flag, required=True, type=_at_least(low))
        self.add_argument("--pushgateway", type=_non_empty)
        self.add_argument("--signing-key", type=_non_empty)

    def error(self, message: str) -> NoReturn:
        config_error(f"{self.prog}: {message}")


def _non_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("empty")
    return text


def _at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is under {low}")
        return value
    return parse


# RunConfig's fields and the JSON types each must have (json.loads gives lists, not tuples).
_RUN_TYPES: dict[str, type] = {
    "job": str, "image": str, "command": list, "base_hf_id": str, "base_revision": str,
    "dataset_uri": str, "dataset_version": str, "hyperparameters": dict, "seed": int,
}


def _run_config(text: str) -> RunConfig:
    """--run-config's JSON as a RunConfig, or one line saying which field is wrong."""
    try:
        doc = json.loads(text)
    except ValueError as err:
        config_error(f"harness: --run-config is not JSON ({err})")
    if not isinstance(doc, dict):
        config_error("harness: --run-config is not a JSON object")
    names = {f.name for f in fields(RunConfig)}
    unknown, missing = sorted(set(doc) - names), sorted(names - set(doc))
    if unknown or missing:
        wrong = [f"{what} {', '.join(names)}" for what, names in
                 (("unknown fields", unknown), ("missing fields", missing)) if names]
        config_error(f"harness: --run-config: {'; '.join(wrong)}")
    for name, kind in _RUN_TYPES.items():
        value = doc[name]
        # bool is an int to isinstance; a seed of `true` is still a mistake.
        if not isinstance(value, kind) or isinstance(value, bool):
            config_error(f"harness: --run-config: {name} is {json.dumps(value)}, "
                         f"not a {kind.__name__}")
    if not doc["command"] or not all(isinstance(a, str) for a in doc["command"]):
        config_error("harness: --run-config: command must be a non-empty list of strings")
    return RunConfig(**{**doc, "command": tuple(doc["command"])})
