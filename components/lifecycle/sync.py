"""`python -m components.lifecycle.sync --model M --revision R --source hf://<id> | <fsspec URL>
--dest <fsspec URL of models/M/R> --signing-key <PEM> [--hf-token-file F] [--scratch DIR]`:
the weights sync Job.

Copies one revision, once, into the artifact store:
1. the destination is looked at first. Empty: go on. Holding a model.sig that verifies (the
   whole revision downloaded and checked, as a model server would): exit 0 "already synced".
   Holding anything else (an interrupted copy, another revision's files, a bad signature):
   exit 1 with one line, and nothing there is touched; the platform's identity cannot delete,
   so an operator removes it by hand.
2. the source into a scratch directory: the Hub's snapshot at that commit
   (huggingface_hub.snapshot_download), or every object under another fsspec URL;
3. manifest.json (manifest.py), then model.sig over the directory (signing.py);
4. upload: the files, then manifest.json, then model.sig LAST, so a copy cut off halfway has
   no signature and never passes for a complete one (neither here nor in verify-weights).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import fsspec
from cryptography.hazmat.primitives import serialization
from fsspec import AbstractFileSystem

from components.lifecycle import cli, manifest, signing
from components.lifecycle.manifest import MANIFEST, SIGNATURE, Progress

HUB = "hf://"
# The store's layout (components/kubernetes/facts.py MODELS_PREFIX, which this image cannot
# import): a revision lives at models/<name>/<revision>/ and nowhere else.
MODELS = "models"


def parser() -> cli.Parser:
    p = cli.Parser(prog="sync", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--revision", required=True)
    p.add_argument("--source", required=True, help="hf://<repo id>, or an fsspec URL")
    p.add_argument("--dest", required=True, help="fsspec URL of <store>/models/<M>/<R>")
    p.add_argument("--signing-key", required=True, type=Path, help="PEM of the EC private key")
    p.add_argument("--hf-token-file", type=Path, help="a file holding a Hub token")
    p.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()),
                   help="where the revision is put together (needs its whole size)")
    return p


class SyncError(Exception):
    """One line: what is wrong, with the path or URL it concerns."""


def _filesystem(url: str) -> tuple[AbstractFileSystem, str]:
    # A local store (the on-prem claim) makes the revision's directories as it writes
    # (fsspec==2026.9.0 implementations/local.py:133-137); an object store has none to make.
    local = fsspec.utils.get_protocol(url) in ("file", "local")
    try:
        # fsspec==2026.9.0 core.py:390 (url_to_fs); a backend's options also come from
        # FSSPEC_<PROTOCOL>_<OPTION> variables (config.py:14-61), e.g. the S3 endpoint.
        return fsspec.url_to_fs(url, **({"auto_mkdir": True} if local else {}))
    except (ValueError, ImportError) as err:
        raise SyncError(f"{url}: {err}") from None


def _objects(fs: AbstractFileSystem, root: str) -> dict[str, str]:
    """relative path -> full path of every object under `root` (none if nothing is there)."""
    try:
        found = fs.find(root)
    except FileNotFoundError:
        return {}
    prefix = root.rstrip("/") + "/"
    return {path.removeprefix(prefix): path for path in sorted(found) if path.startswith(prefix)}


def _download(fs: AbstractFileSystem, objects: dict[str, str], local: Path, what: str) -> None:
    progress = Progress(f"downloading {what}", len(objects))
    for rel, remote in objects.items():
        target = local / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(remote, str(target))
        progress.add(target.stat().st_size, files=1)
    progress.report()


def fetch_hub(repo_id: str, revision: str, local: Path, token: str | None) -> None:
    """The Hub's snapshot of `repo_id` at `revision` into `local`, without the download
    bookkeeping huggingface_hub keeps beside the files (.cache/huggingface in local_dir:
    huggingface-hub==2.4.0 _local_folder.py:446-448), which is no part of the revision."""
    # Imported here: only a Hub source needs it, and it costs a busy pod half a second.
    from huggingface_hub import snapshot_download

    print(f"downloading hf://{repo_id} at {revision}", flush=True)
    try:
        # huggingface-hub==2.4.0 _snapshot_download.py:47-68 (keyword-only after repo_id)
        snapshot_download(repo_id, revision=revision, local_dir=local, token=token)
    except Exception as err:  # noqa: BLE001 - the Hub's errors are many; each gets one line
        raise SyncError(f"hf://{repo_id}@{revision}: {type(err).__name__}: "
                        f"{cli.first_line(err)}") from None
    bookkeeping = local / ".cache"
    shutil.rmtree(bookkeeping / "huggingface", ignore_errors=True)
    if bookkeeping.is_dir() and not any(bookkeeping.iterdir()):
        bookkeeping.rmdir()


def fetch_fsspec(url: str, local: Path) -> None:
    fs, root = _filesystem(url)
    objects = _objects(fs, root)
    if not objects:
        raise SyncError(f"{url}: nothing there to copy")
    _download(fs, objects, local, url)


# Each object store's create-only write, so that a writer racing this one fails instead of
# replacing an object: S3's If-None-Match (s3fs==2026.9.0 core.py:1478,1494-1497), GCS's
# ifGenerationMatch=0 (gcsfs==2026.10.1 core.py:1853,3023,3083), Azure's overwrite=False
# (adlfs==2026.8.0 spec.py:1739). A local store (the on-prem claim) has none: the check of
# the destination before the copy is its only guard.
CREATE_ONLY = {
    **dict.fromkeys(("s3", "s3a", "gs", "gcs"), {"mode": "create"}),
    **dict.fromkeys(("az", "abfs", "abfss"), {"overwrite": False}),
}


def _create_only(fs: AbstractFileSystem) -> dict[str, Any]:
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else fs.protocol
    return next((CREATE_ONLY[p] for p in protocols if p in CREATE_ONLY), {})


def upload(local: Path, fs: AbstractFileSystem, root: str) -> int:
    """Every file, then manifest.json, then model.sig; the number of bytes sent."""
    files = [*manifest.files_of(local), MANIFEST, SIGNATURE]
    progress = Progress(f"uploading to {root}", len(files))
    options = _create_only(fs)
    for rel in files:
        fs.put_file(str(local / rel), f"{root.rstrip('/')}/{rel}", **options)
        progress.add((local / rel).stat().st_size, files=1)
    progress.report()
    return progress.bytes


def public_key_of(private_key: Path, scratch: Path) -> Path:
    """The public half of the signing key, to check what is already in the store with."""
    key = serialization.load_pem_private_key(private_key.read_bytes(), password=None)
    path = scratch / "public.pem"
    path.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def existing(args: argparse.Namespace, fs: AbstractFileSystem, present: dict[str, str],
             scratch: Path) -> str:
    """Why the destination's content is not a valid signed copy of this revision, or ""."""
    if SIGNATURE not in present:
        return (f"holds {len(present)} objects but no {SIGNATURE}: an interrupted or foreign "
                "copy")
    local = scratch / "existing"
    _download(fs, present, local, args.dest)
    try:
        signing.verify(local, public_key_of(args.signing_key, scratch))
        manifest.check_layout(local, args.model, args.revision)
    except (signing.VerificationError, manifest.ManifestError) as err:
        return str(err)
    return ""


def sync(args: argparse.Namespace, scratch: Path) -> str:
    fs, root = _filesystem(args.dest)
    present = _objects(fs, root)
    if present:
        problem = existing(args, fs, present, scratch)
        if problem:
            raise SyncError(f"{args.dest}: {problem}; it is never overwritten (remove it by "
                            "hand to sync again)")
        return f"{args.dest}: already synced ({len(present)} objects, signature valid)"
    local = scratch / "revision"
    local.mkdir()
    if args.source.startswith(HUB):
        token = args.hf_token_file.read_text().strip() if args.hf_token_file else None
        fetch_hub(args.source.removeprefix(HUB), args.revision, local, token)
    else:
        fetch_fsspec(args.source, local)
    manifest.write(local, args.model, args.revision)
    # model_signing hashes every file again itself (its public API takes a directory, not
    # digests): on a big revision this is the second long step, so the log says so.
    print("signing: model_signing hashes every file again", flush=True)
    signing.sign(local, args.signing_key)
    sent = upload(local, fs, root)
    count = len(manifest.files_of(local))
    return f"{args.dest}: synced {count} files and the signed manifest ({sent / (1 << 20):.1f} MiB)"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    layout = f"/{MODELS}/{args.model}/{args.revision}"
    if not args.dest.rstrip("/").endswith(layout):
        cli.fail(f"sync: --dest {args.dest} must end with {layout}", cli.BAD_ARGS)
    try:
        signing.signer(args.signing_key)
        args.scratch.mkdir(parents=True, exist_ok=True)
    except (signing.KeyFileError, OSError) as err:
        cli.fail(f"sync: {err}", cli.BAD_ARGS)
    if args.hf_token_file and not args.hf_token_file.is_file():
        cli.fail(f"sync: --hf-token-file {args.hf_token_file}: no such file", cli.BAD_ARGS)
    with tempfile.TemporaryDirectory(dir=args.scratch, prefix="sync-") as scratch:
        try:
            print(sync(args, Path(scratch)), flush=True)
        except (SyncError, manifest.ManifestError) as err:
            cli.fail(f"model {args.model} revision {args.revision}: {err}")
        except OSError as err:  # the store's or the network's, with the path it concerns
            cli.fail(f"model {args.model} revision {args.revision}: {type(err).__name__}: "
                     f"{cli.first_line(err)}")
    return cli.OK


if __name__ == "__main__":
    sys.exit(main())
