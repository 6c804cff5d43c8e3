"""`python -m components.training.harness <HarnessConfig.to_argv()> -- <command>`: a training
Job's entrypoint wrapper (docs/architecture.md, Model lifecycle; contract.py for the layout,
the trainer's environment and the exit codes).

1. Reads the run's state.json (checkpoints/<job>/<run>/): a run preempted more than
   --max-preemptions times already exits PREEMPTIONS_EXHAUSTED at once.
2. Restores the latest complete checkpoint into CHECKPOINT_DIR/step-<n>/ (checkpoints.py:
   never one cut off mid-upload) and starts the trainer with RESUME_STEP=<n>.
3. Uploads each step-<n>/ the trainer renames into place, and keeps the last --keep in the
   store (never the one restored: the trainer may not have written a newer one yet).
4. On SIGTERM (the node's preemption notice, through the kubelet): forwards it to the trainer,
   waits for its final checkpoint within --grace less the time its upload needs, uploads it,
   counts the preemption in state.json, pushes llm_training_spot_interruptions_total and
   exits PREEMPTED, which the podFailurePolicy ignores.
5. On the trainer's exit 0: publishes OUTPUT_DIR as models/<model>/<output revision>/ with
   its manifest, signature and run record (publish.py). Any other exit is passed on, but the
   codes the Job reserves, which become 1.

CHECKPOINT_DIR and OUTPUT_DIR are local directories the harness owns: the pod may name them
(an emptyDir with room for a checkpoint and the model), else they go under the temp dir. The
harness empties both on start: the store, not a restarted container's leftovers, is what a
run resumes from.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from components.lifecycle.manifest import ManifestError
from components.training import checkpoints, publish
from components.training.contract import (
    CHECKPOINT_DIR_ENV,
    CHECKPOINT_INTERVAL_ENV,
    CONFIG_ERROR_EXIT_CODE,
    HYPERPARAMETERS_ENV,
    OUTPUT_DIR_ENV,
    PREEMPTED_EXIT_CODE,
    PREEMPTIONS_EXHAUSTED_EXIT_CODE,
    RESUME_STEP_ENV,
    SEED_ENV,
    HarnessConfig,
    config_error,
)
from components.training.store import (
    RunState,
    Store,
    StoreConfigError,
    StoreError,
    load_state,
    run_root,
    save_state,
    utc_now,
)

# How often the harness looks for a new checkpoint and at the trainer.
POLL_SECONDS = 0.5
# The least of the grace period kept for the final checkpoint's upload; more when an upload
# of this run took longer (twice the longest), never more than half the grace period.
MIN_UPLOAD_MARGIN_SECONDS = 5.0
RESERVED = {
    PREEMPTED_EXIT_CODE: "PREEMPTED (a preemption: ignored)",
    PREEMPTIONS_EXHAUSTED_EXIT_CODE: "PREEMPTIONS_EXHAUSTED (fails the Job)",
    CONFIG_ERROR_EXIT_CODE: "CONFIG_ERROR (fails the Job)",
}


def say(line: str) -> None:
    print(f"harness: {line}", flush=True)


def fail(line: str, code: int = 1) -> NoReturn:
    print(f"harness: {line}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" not in argv:
        config_error("harness: no `-- <command>` after the flags: nothing to run")
    at = argv.index("--")
    if not argv[at + 1:]:
        config_error("harness: the command after `--` is empty")
    return argv[:at], argv[at + 1:]


def _owned_dir(env: str, default: str) -> Path:
    path = Path(os.environ.get(env) or Path(tempfile.gettempdir()) / "llm-platform" / default)
    path = path.resolve()
    if path == Path(path.anchor) or path == Path.home().resolve():
        config_error(f"harness: {env}={path} would empty a directory the harness does not own")
    try:
        path.mkdir(parents=True, exist_ok=True)
        # Its contents, not the directory: the pod may mount a volume right there.
        for entry in path.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    except OSError as err:
        config_error(f"harness: {env}={path}: {err.strerror or err}")
    return path


@dataclass
class Supervisor:
    """The trainer's process and the checkpoints it writes, until it exits."""

    config: HarnessConfig
    store: Store
    root: str
    checkpoint_dir: Path
    restored: int
    proc: subprocess.Popen | None = None
    term_at: float | None = None
    uploaded: set[int] = field(default_factory=set)
    longest_upload: float = 0.0

    def on_sigterm(self, signum: int, frame: object) -> None:
        # Only what is safe in a handler: the main loop logs and uploads.
        if self.term_at is None:
            self.term_at = time.monotonic()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def margin(self) -> float:
        wanted = max(MIN_UPLOAD_MARGIN_SECONDS, 2 * self.longest_upload)
        return min(wanted, self.config.grace_s / 2)

    def upload_new(self) -> None:
        ids = (self.config.run.job, self.config.run.run_id())
        for step, directory in checkpoints.local_steps(self.checkpoint_dir).items():
            if step in self.uploaded or step == self.restored:
                continue
            done = checkpoints.upload(self.store, self.root, directory, step, ids, say)
            self.uploaded.add(step)
            self.longest_upload = max(self.longest_upload, done.seconds)
            say(f"uploaded {checkpoints.step_name(step)} ({done.files} files, "
                f"{done.bytes / (1 << 20):.1f} MiB in {done.seconds:.1f} s)")
            checkpoints.prune(self.store, self.root, self.config.keep_checkpoints,
                              self.restored, say)
            # The trainer resumes from the newest only: older local copies only fill the disk.
            for older, path in checkpoints.local_steps(self.checkpoint_dir).items():
                if older < step:
                    shutil.rmtree(path, ignore_errors=True)

    def start(self, command: list[str], env: dict[str, str]) -> None:
        try:
            self.proc = subprocess.Popen(command, env=env)
        except OSError as err:
            config_error(f"harness: cannot start the trainer {command[0]}: "
                         f"{err.strerror or err}")
        if self.term_at is not None:  # the notice came while the checkpoint was restored
            self.proc.send_signal(signal.SIGTERM)

    def supervise(self) -> int:
        """The trainer's exit code, its checkpoints uploaded; after a SIGTERM, the trainer
        is killed once the grace period less the upload margin has run out."""
        assert self.proc is not None
        noticed = False
        while True:
            code = self.proc.poll()
            if self.term_at is not None and not noticed:
                noticed = True
                say(f"SIGTERM: forwarded to the trainer; waiting up to "
                    f"{self.config.grace_s - self.margin():.0f} s for its final checkpoint "
                    f"(grace {self.config.grace_s} s, {self.margin():.0f} s kept for the upload)")
            if code is not None:
                break
            self.upload_new()
            if self.term_at is not None and \
                    time.monotonic() > self.term_at + self.config.grace_s - self.margin():
                say("the trainer wrote no final checkpoint in time: killed")
                self.proc.kill()
                code = self.proc.wait()
                break
            time.sleep(POLL_SECONDS)
        self.upload_new()
        return code


def trainer_env(config: HarnessConfig, checkpoint_dir: Path, output_dir: Path,
                resume_step: int) -> dict[str, str]:
    return {
        **os.environ,
        CHECKPOINT_DIR_ENV: str(checkpoint_dir),
        RESUME_STEP_ENV: str(resume_step),
        CHECKPOINT_INTERVAL_ENV: str(config.checkpoint_interval_s),
        OUTPUT_DIR_ENV: str(output_dir),
        SEED_ENV: str(config.run.seed),
        HYPERPARAMETERS_ENV: json.dumps(config.run.hyperparameters, sort_keys=True),
    }


def push_interruptions(config: HarnessConfig, count: int) -> None:
    """The run's preemption count, as the counter runbooks/operations.md names, grouped by
    {job, pool}. A Pushgateway that is down costs a warning, never the run."""
    if config.pushgateway is None:
        return
    from components.training.metrics import push_spot_interruptions

    problem = push_spot_interruptions(config.pushgateway, config.run.job, config.pool, count)
    if problem:
        print(f"harness: warning: {problem}", file=sys.stderr, flush=True)


def preempted(sup: Supervisor, state: RunState) -> int:
    state.preemptions += 1
    save_state(sup.store, sup.root, state)
    push_interruptions(sup.config, state.preemptions)
    newest = max(sup.uploaded | {sup.restored})
    latest = f"{checkpoints.step_name(newest)} is" if newest else "no checkpoint is"
    say(f"preempted: {latest} the latest in the store; preemption {state.preemptions} of "
        f"at most {sup.config.max_preemptions}; exiting {PREEMPTED_EXIT_CODE}")
    return PREEMPTED_EXIT_CODE


def finished(sup: Supervisor, state: RunState, code: int, output_dir: Path) -> int:
    if code == 0:
        record = publish.run_record(sup.config, state, utc_now())
        publish.publish(sup.store, sup.config, output_dir, record, say)
        return 0
    if code < 0:  # killed by a signal: as a shell reports it
        code = 128 - code
    if code in RESERVED:
        print(f"harness: the trainer exited {code}, which the Job reserves for "
              f"{RESERVED[code]}: exiting 1 instead", file=sys.stderr, flush=True)
        return 1
    say(f"the trainer exited {code}")
    return code


def run(config: HarnessConfig, command: list[str]) -> int:
    checkpoint_dir = _owned_dir(CHECKPOINT_DIR_ENV, "checkpoints")
    output_dir = _owned_dir(OUTPUT_DIR_ENV, "output")
    problem = publish.check_signing_key(config.signing_key)
    if problem:
        config_error(f"harness: --signing-key: {problem}")
    store = Store.open(config.store)
    root = run_root(store, config.run.job, config.run.run_id())
    sup = Supervisor(config, store, root, checkpoint_dir, restored=0)
    signal.signal(signal.SIGTERM, sup.on_sigterm)
    state = load_state(store, root, config.run.seed)
    if state.preemptions > config.max_preemptions:
        fail(f"run {config.run.run_id()} of job {config.run.job} was preempted "
             f"{state.preemptions} times, more than --max-preemptions {config.max_preemptions}: "
             "giving up", PREEMPTIONS_EXHAUSTED_EXIT_CODE)
    say(f"run {config.run.run_id()} of job {config.run.job}: {state.preemptions} preemptions "
        f"so far (at most {config.max_preemptions})")
    push_interruptions(config, state.preemptions)
    sup.restored = checkpoints.restore_latest(store, root, checkpoint_dir, say)
    sup.start(command, trainer_env(config, checkpoint_dir, output_dir, sup.restored))
    code = sup.supervise()
    if sup.term_at is not None:
        return preempted(sup, state)
    return finished(sup, state, code, output_dir)


def main(argv: list[str] | None = None) -> int:
    flags, command = split_argv(sys.argv[1:] if argv is None else argv)
    config = HarnessConfig.from_argv(flags)
    if tuple(command) != config.run.command:
        config_error(f"harness: the command after `--` {command} is not the run config's "
                     f"{list(config.run.command)}: the run record would not say what ran")
    try:
        return run(config, command)
    except StoreConfigError as err:
        fail(str(err), CONFIG_ERROR_EXIT_CODE)
    except (StoreError, ManifestError) as err:
        fail(str(err))
    except OSError as err:  # the pod's own disk: full, or not writable
        fail(f"{type(err).__name__}: {err}")


if __name__ == "__main__":
    sys.exit(main())
