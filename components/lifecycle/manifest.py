"""`manifest.json` of a model revision: every file's path, size and SHA-256, with the model's
name and revision, so a reviewer (and `verify`) can see what a revision holds without the
signature's tooling. model.sig signs the directory with this file in it (signing.py), so the
manifest is as trustworthy as the signature.

Hashing is streamed (1 MiB at a time): a revision's files are gigabytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "manifest.json"
SIGNATURE = "model.sig"
# Neither is part of the revision's content: the manifest describes the files and the
# signature signs them both. Only the copies at the top of the directory are ours.
OURS = frozenset({MANIFEST, SIGNATURE})
CHUNK = 1 << 20
# Long work (hashing, uploading gigabytes) says where it is at least this often.
PROGRESS_SECONDS = 10.0


class ManifestError(Exception):
    """One line naming the file and what is wrong with it."""


@dataclass(frozen=True)
class Entry:
    path: str  # relative, with `/`, as in the store
    size: int
    sha256: str


class Progress:
    """Prints `<what>: <done>/<total> files, <MiB> MiB` at most every PROGRESS_SECONDS, and
    once at the end, so a log shows a long copy moving without a line per file."""

    def __init__(self, what: str, files: int, say: Callable[[str], None] = print):
        self.what, self.files, self.say = what, files, say
        self.done, self.bytes = 0, 0
        self.last = time.monotonic()

    def add(self, size: int, files: int = 0) -> None:
        self.bytes += size
        self.done += files
        if time.monotonic() - self.last >= PROGRESS_SECONDS:
            self.report()

    def report(self) -> None:
        self.last = time.monotonic()
        self.say(f"{self.what}: {self.done}/{self.files} files, {self.bytes / (1 << 20):.1f} MiB")


def files_of(root: Path) -> list[str]:
    """Every regular file under `root` but the manifest and signature at its top, sorted,
    as `/`-separated relative paths. A symbolic link is refused: model_signing refuses it too
    (model_signing==1.1.1 _serialization/serialization.py:45), and a link could point out of
    the revision."""
    found = []
    for directory, dirs, names in os.walk(root):
        dirs.sort()
        for name in [*names, *dirs]:
            path = Path(directory) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                raise ManifestError(f"{rel}: a symbolic link; a revision holds regular files only")
            if name in names and rel not in OURS:
                found.append(rel)
    return sorted(found)


def sha256_of(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if progress:
                progress.add(len(chunk))
    return digest.hexdigest()


def build(root: Path, say: Callable[[str], None] = print) -> list[Entry]:
    paths = files_of(root)
    progress = Progress("hashing", len(paths), say)
    entries = []
    for rel in paths:
        path = root / rel
        entries.append(Entry(rel, path.stat().st_size, sha256_of(path, progress)))
        progress.add(0, files=1)
    progress.report()
    return entries


def render(model: str, revision: str, entries: list[Entry]) -> str:
    body = {
        "model": model,
        "revision": revision,
        "files": [{"path": e.path, "size": e.size, "sha256": e.sha256} for e in entries],
    }
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def write(root: Path, model: str, revision: str, say: Callable[[str], None] = print) -> Path:
    """Hash every file of `root` and write `root/manifest.json`."""
    target = root / MANIFEST
    target.write_text(render(model, revision, build(root, say)))
    return target


def read(root: Path) -> tuple[str, str, list[Entry]]:
    """(model, revision, entries) of `root/manifest.json`."""
    try:
        body = json.loads((root / MANIFEST).read_text())
        entries = [Entry(f["path"], int(f["size"]), f["sha256"]) for f in body["files"]]
        return body["model"], body["revision"], entries
    except FileNotFoundError:
        raise ManifestError(f"{MANIFEST}: missing") from None
    except (ValueError, KeyError, TypeError) as err:
        raise ManifestError(f"{MANIFEST}: not a manifest this tool wrote ({err})") from None


def check_layout(root: Path, model: str, revision: str) -> None:
    """The files on disk are exactly the manifest's, with its sizes, and the manifest names
    this model and revision: a validly signed revision copied to another model's or revision's
    path must not pass. Cheap (no hashing): the signature's check hashes every byte."""
    named_model, named_revision, entries = read(root)
    if (named_model, named_revision) != (model, revision):
        raise ManifestError(
            f"{MANIFEST}: names model {named_model} revision {named_revision}, "
            f"not {model} {revision}"
        )
    listed = {e.path: e for e in entries}
    present = set(files_of(root))
    missing, extra = sorted(set(listed) - present), sorted(present - set(listed))
    if missing:
        raise ManifestError(f"{', '.join(missing)}: missing")
    if extra:
        raise ManifestError(f"{', '.join(extra)}: not in the manifest")
    for rel, entry in sorted(listed.items()):
        size = (root / rel).stat().st_size
        if size != entry.size:
            raise ManifestError(f"{rel}: {size} bytes, the manifest says {entry.size}")
