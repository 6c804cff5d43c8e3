"""Checkpoints between the trainer's local CHECKPOINT_DIR and the store's
checkpoints/<job>/<run>/step-<n>/.

- A checkpoint in the store is complete only when its manifest.json is there: the upload puts
  every file first and the manifest, with each file's size and SHA-256, last. A restore
  checks every file against it, so a checkpoint cut off mid-upload (no manifest, or a file
  missing or different) is never restored: the one before it is.
- Locally, a checkpoint is a directory `step-<n>` the trainer renamed into place when it was
  complete; anything else in CHECKPOINT_DIR (the trainer's temporary names) is not ours.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from components.lifecycle import manifest, sync
from components.lifecycle.manifest import Entry, Progress
from components.training.contract import CHECKPOINT_MANIFEST, STEP_DIR_PREFIX
from components.training.store import Store, errors

STEP_DIR = re.compile(rf"^{re.escape(STEP_DIR_PREFIX)}(\d+)$")
RESTORING = ".restoring-"  # where a download waits until every file checked out

Say = Callable[[str], None]


def step_name(step: int) -> str:
    return f"{STEP_DIR_PREFIX}{step}"


def local_steps(directory: Path) -> dict[int, Path]:
    """step -> directory of every checkpoint the trainer renamed into place."""
    found = {}
    for path in directory.iterdir() if directory.is_dir() else ():
        match = STEP_DIR.match(path.name)
        if match and path.is_dir() and not path.is_symlink():
            found[int(match.group(1))] = path
    return dict(sorted(found.items()))


def remote_steps(store: Store, root: str) -> dict[int, dict[str, int]]:
    """step -> {relative path: size} of every step-<n>/ under the run's directory."""
    steps: dict[int, dict[str, int]] = {}
    for rel, size in store.find(root).items():
        head, _, rest = rel.partition("/")
        match = STEP_DIR.match(head)
        if match and rest:
            steps.setdefault(int(match.group(1)), {})[rest] = size
    return dict(sorted(steps.items()))


def render(job: str, run: str, step: int, entries: list[Entry]) -> bytes:
    body = {"job": job, "run": run, "step": step,
            "files": [{"path": e.path, "size": e.size, "sha256": e.sha256} for e in entries]}
    return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()


def entries_of(data: bytes) -> list[Entry]:
    body = json.loads(data)
    return [Entry(str(f["path"]), int(f["size"]), str(f["sha256"])) for f in body["files"]]


def hash_dir(directory: Path, say: Say) -> list[Entry]:
    """Every file's size and SHA-256 (manifest.py's walk: regular files only, no links),
    with a progress line only when it takes long (a checkpoint is gigabytes)."""
    paths = manifest.files_of(directory)
    progress = Progress(f"hashing {directory.name}", len(paths), say)
    entries = []
    for rel in paths:
        path = directory / rel
        entries.append(Entry(rel, path.stat().st_size, manifest.sha256_of(path, progress)))
        progress.add(0, files=1)
    return entries


@dataclass(frozen=True)
class Uploaded:
    step: int
    files: int
    bytes: int
    seconds: float


def upload(store: Store, root: str, directory: Path, step: int, ids: tuple[str, str],
           say: Say) -> Uploaded:
    """step-<n>/'s files, then its manifest: only then is it complete in the store. What a
    cut-off upload of the same step left there is removed first (create-only writes, as the
    lifecycle's sync does, would refuse to replace it)."""
    started = time.monotonic()
    target = f"{root}/{step_name(step)}"
    if store.find(target):
        store.remove(target)
    entries = hash_dir(directory, say)
    options = sync._create_only(store.fs)
    for entry in entries:
        with errors(store.url_of(f"{target}/{entry.path}")):
            store.fs.put_file(str(directory / entry.path), f"{target}/{entry.path}", **options)
    with errors(store.url_of(f"{target}/{CHECKPOINT_MANIFEST}")):
        store.fs.pipe_file(f"{target}/{CHECKPOINT_MANIFEST}", render(*ids, step, entries),
                           **options)
    return Uploaded(step, len(entries), sum(e.size for e in entries),
                    time.monotonic() - started)


def _why_incomplete(listed: dict[str, int], entries: list[Entry]) -> str:
    """Why the listing of a step does not hold the manifest's files, or ""."""
    for entry in entries:
        if entry.path not in listed:
            return f"{entry.path} missing"
        if listed[entry.path] != entry.size:
            return f"{entry.path} is {listed[entry.path]} bytes, the manifest says {entry.size}"
    return ""


def _fetch(store: Store, root: str, step: int, entries: list[Entry], local: Path,
           say: Say) -> str:
    """Download the step's files into `local`; why they do not match the manifest, or ""."""
    source = f"{root}/{step_name(step)}"
    progress = Progress(f"downloading {step_name(step)}", len(entries), say)
    for entry in entries:
        target = local / entry.path
        if not target.resolve().is_relative_to(local.resolve()):
            return f"{entry.path}: outside the checkpoint"
        target.parent.mkdir(parents=True, exist_ok=True)
        with errors(store.url_of(f"{source}/{entry.path}")):
            store.fs.get_file(f"{source}/{entry.path}", str(target))
        if manifest.sha256_of(target, progress) != entry.sha256:
            return f"{entry.path}: SHA-256 differs from the manifest's"
        progress.add(0, files=1)
    return ""


def _try_restore(store: Store, root: str, step: int, listed: dict[str, int],
                 checkpoint_dir: Path, say: Say) -> str:
    """Restore one step into checkpoint_dir/step-<n>; why it cannot be, or ""."""
    if CHECKPOINT_MANIFEST not in listed:
        return f"no {CHECKPOINT_MANIFEST} (cut off mid-upload)"
    with errors(store.url_of(f"{root}/{step_name(step)}/{CHECKPOINT_MANIFEST}")):
        data = store.fs.cat_file(f"{root}/{step_name(step)}/{CHECKPOINT_MANIFEST}")
    try:
        entries = entries_of(data)
    except (ValueError, KeyError, TypeError) as err:
        return f"{CHECKPOINT_MANIFEST} unreadable ({type(err).__name__})"
    why = _why_incomplete(listed, entries)
    if why:
        return why
    staging = checkpoint_dir / f"{RESTORING}{step_name(step)}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    why = _fetch(store, root, step, entries, staging, say)
    if why:
        shutil.rmtree(staging, ignore_errors=True)
        return why
    staging.rename(checkpoint_dir / step_name(step))
    return ""


def restore_latest(store: Store, root: str, checkpoint_dir: Path, say: Say) -> int:
    """The latest complete checkpoint into checkpoint_dir/step-<n>/; n, or 0 when none is."""
    steps = remote_steps(store, root)
    for step in sorted(steps, reverse=True):
        why = _try_restore(store, root, step, steps[step], checkpoint_dir, say)
        if not why:
            size = sum(v for k, v in steps[step].items() if k != CHECKPOINT_MANIFEST)
            say(f"restored {step_name(step)} from {store.url_of(root)} "
                f"({len(steps[step]) - 1} files, {size / (1 << 20):.1f} MiB)")
            return step
        say(f"skipped {step_name(step)}: {why}; never restored")
    say(f"no complete checkpoint in {store.url_of(root)}: starting at step 0")
    return 0


def prune(store: Store, root: str, keep: int, restored: int, say: Say) -> list[int]:
    """Delete all but the last `keep` complete checkpoints and the one restored this run;
    also what cut-off uploads left under an older step than the newest complete one (the
    newer ones are replaced when the trainer writes that step again). The steps deleted."""
    steps = remote_steps(store, root)
    complete = [s for s, files in steps.items() if CHECKPOINT_MANIFEST in files]
    if not complete:
        return []
    kept = set(complete[-keep:]) | {restored}
    doomed = [s for s in steps if s not in kept and s < complete[-1]]
    for step in doomed:
        store.remove(f"{root}/{step_name(step)}")
        what = "complete" if step in complete else "cut off"
        say(f"deleted {step_name(step)} ({what}): the store keeps the last {keep}"
            + (f" and the restored {step_name(restored)}" if restored not in complete[-keep:]
               and restored in complete else ""))
    return doomed


