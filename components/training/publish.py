"""The output model of a finished run, published as the lifecycle's sync publishes a revision:
models/<model>/<output revision>/ with manifest.json (components/lifecycle/manifest.py) and,
given a signing key, model.sig (components/lifecycle/signing.py), uploaded files first,
manifest next and signature last, with create-only writes. So the revision can go straight
to the eval gate and the canary, and `verify-weights` checks it as it checks a synced one.

The run record run.json is one of the revision's files: the manifest lists it and the
signature covers it (verify's layout check accepts no file outside the manifest), so what
the record says about the run is as trustworthy as the weights.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from components.lifecycle import manifest, sync
from components.lifecycle.manifest import MANIFEST, SIGNATURE
from components.training.checkpoints import Say, hash_dir
from components.training.contract import RUN_RECORD, HarnessConfig
from components.training.store import RunState, Store, StoreError, errors

MODELS = sync.MODELS


def image_digest(image: str) -> str | None:
    """`sha256:<hex>` of an image pinned by digest (`repo@sha256:<hex>`), else None."""
    return image.split("@", 1)[1] if "@" in image else None


def run_record(config: HarnessConfig, state: RunState, ended_at: str) -> dict[str, Any]:
    """RunConfig's fields as they are (so `RunConfig(**{f: record[f] ...})` is the same run,
    with the same run id), and what this run adds: its id and output, the image's digest on
    its own, the times of its first start and of the trainer's successful exit, and the
    preemptions it survived."""
    run = config.run
    return {
        **asdict(run),
        "command": list(run.command),
        "run_id": run.run_id(),
        "model": config.model,
        "revision": run.output_revision(),
        "image_digest": image_digest(run.image),
        "started_at": state.started_at,
        "ended_at": ended_at,
        "preemptions": state.preemptions,
    }


def _check_output(output_dir: Path) -> list[str]:
    ours = [name for name in (MANIFEST, SIGNATURE, RUN_RECORD) if (output_dir / name).exists()]
    if ours:
        raise StoreError(f"OUTPUT_DIR {output_dir} holds {', '.join(ours)}, which the harness "
                         "writes: the trainer must not")
    files = manifest.files_of(output_dir) if output_dir.is_dir() else []
    if not files:
        raise StoreError(f"the trainer exited 0 but wrote nothing to OUTPUT_DIR {output_dir}")
    return files


def publish(store: Store, config: HarnessConfig, output_dir: Path, record: dict[str, Any],
            say: Say) -> None:
    revision = config.run.output_revision()
    dest = store.path(MODELS, config.model, revision)
    _check_output(output_dir)
    final = SIGNATURE if config.signing_key else MANIFEST
    present = store.find(dest)
    if final in present:
        # The harness published it and was stopped before it exited: the revision is whole.
        say(f"{store.url_of(dest)} already published ({final} present): left as it is")
        return
    if present:
        # Only this run writes its revision's path (the run id is in it): what is there is
        # its own publish cut off before the last file.
        say(f"{store.url_of(dest)}: removing {len(present)} objects of a cut-off publish")
        store.remove(dest)
    (output_dir / RUN_RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    entries = hash_dir(output_dir, say)
    (output_dir / MANIFEST).write_text(manifest.render(config.model, revision, entries))
    if config.signing_key:
        # model_signing's import is seconds of CPU: only a signed publish pays it.
        from components.lifecycle import signing

        signing.sign(output_dir, Path(config.signing_key))
    files = [*manifest.files_of(output_dir), MANIFEST, *([SIGNATURE] if config.signing_key else [])]
    options = sync._create_only(store.fs)
    for rel in files:
        with errors(store.url_of(f"{dest}/{rel}")):
            store.fs.put_file(str(output_dir / rel), f"{dest}/{rel}", **options)
    size = sum((output_dir / rel).stat().st_size for rel in files)
    say(f"published {store.url_of(dest)} ({len(files)} files, {size / (1 << 20):.1f} MiB, "
        + ("signed)" if config.signing_key else "unsigned: no --signing-key)"))


def check_signing_key(key: str | None) -> str | None:
    """Why the signing key cannot sign, or None: checked before any training, not after."""
    if key is None:
        return None
    from components.lifecycle import signing

    try:
        signing.signer(Path(key))
    except signing.KeyFileError as err:
        return str(err)
    return None
