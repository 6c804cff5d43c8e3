"""Signing with the real OpenSSF model-signing library (model-signing==1.1.1, the lifecycle
venv) on a small generated model directory: the sync CLI writes manifest.json and model.sig,
the verify CLI (the model server's verify-weights init container) accepts exactly that
directory and names the file in one line when anything differs."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from lifecycle_run import keypair, run, small_model

MODEL = "tiny"
# A revision as the spec pins one: the Hub commit's 40 hex digits (made up here).
REVISION = hashlib.sha1(b"tiny revision one").hexdigest()


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> dict:
    """One revision synced from a local directory to a local store (the on-prem claim's
    layout), signed with one key; `other` is a second key pair."""
    root = tmp_path_factory.mktemp("signing")
    source = root / "source"
    files = small_model(source)
    private, public = keypair(root, "ours")
    _, other = keypair(root, "other")
    store = root / "store" / "models" / MODEL / REVISION
    done = run("sync", "--model", MODEL, "--revision", REVISION, "--source", source.as_uri(),
               "--dest", store.as_uri(), "--signing-key", private, "--scratch", root / "scratch")
    assert done.returncode == 0, done.stderr
    return {"dir": store, "files": files, "public": public, "other": other}


def verify(directory: Path, public: Path, revision: str = REVISION):
    return run("verify", "--model", MODEL, "--revision", revision, "--dir", directory,
               "--public-key", public)


def copy(signed: dict, tmp_path: Path) -> Path:
    target = tmp_path / MODEL
    shutil.copytree(signed["dir"], target)
    return target


def one_line_failure(done) -> str:
    """The verify CLI's failure: exit 1, nothing on stdout, exactly one line on stderr."""
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_the_manifest_lists_every_file_with_its_size_and_sha256(signed):
    manifest = json.loads((signed["dir"] / "manifest.json").read_text())
    assert manifest == {
        "model": MODEL,
        "revision": REVISION,
        "files": [
            {"path": rel, "size": len(content), "sha256": hashlib.sha256(content).hexdigest()}
            for rel, content in sorted(signed["files"].items())
        ],
    }
    assert sorted(p.name for p in signed["dir"].iterdir()) == sorted(
        [".gitattributes", "config.json", "manifest.json", "model.safetensors", "model.sig",
         "tokenizer"])


def test_the_signed_revision_verifies(signed):
    done = verify(signed["dir"], signed["public"])
    assert done.returncode == 0, done.stderr
    size = sum(len(c) for c in signed["files"].values()) / (1 << 20)
    assert done.stdout == (f"model {MODEL} revision {REVISION}: signature and every hash "
                           f"verified (4 files, {size:.1f} MiB)\n")


def _flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(("change", "why"), [
    (lambda d: _flip_one_byte(d / "model.safetensors"), "model.safetensors: hash mismatch"),
    (lambda d: (d / "tokenizer" / "tokenizer.json").unlink(), "tokenizer/tokenizer.json: missing"),
    (lambda d: (d / "extra.bin").write_bytes(b"\0"), "extra.bin: not signed (an extra file)"),
    # The manifest is one of the signed files: editing what it claims breaks the signature.
    (lambda d: (d / "manifest.json").write_text(
        (d / "manifest.json").read_text().replace('"size": 131072', '"size": 131073')),
     "manifest.json: hash mismatch"),
    (lambda d: (d / "model.sig").unlink(), "model.sig: missing, the revision is unsigned"),
], ids=["changed-byte", "missing-file", "extra-file", "edited-manifest",
        "unsigned"])
def test_a_changed_copy_fails_with_one_line_naming_the_file(signed, tmp_path, change, why):
    directory = copy(signed, tmp_path)
    change(directory)
    assert one_line_failure(verify(directory, signed["public"])) == (
        f"model {MODEL} revision {REVISION}: {why}")


def test_a_signature_by_another_key_fails(signed, tmp_path):
    line = one_line_failure(verify(signed["dir"], signed["other"]))
    assert line == f"model {MODEL} revision {REVISION}: model.sig: signed by another key than the one given"
    # Without the key hint the library falls back to checking the signature itself
    # (model_signing==1.1.1 _signing/sign_ec_key.py:170-202): still refused.
    directory = copy(signed, tmp_path)
    bundle = json.loads((directory / "model.sig").read_text())
    bundle["verificationMaterial"]["publicKey"]["hint"] = ""
    (directory / "model.sig").write_text(json.dumps(bundle))
    assert one_line_failure(verify(directory, signed["other"])) == (
        f"model {MODEL} revision {REVISION}: model.sig: the signature does not match its payload")


def test_a_valid_revision_under_another_revisions_name_fails(signed):
    # A signed copy of one revision put where another belongs must not serve as that one.
    other = hashlib.sha1(b"tiny revision two").hexdigest()
    line = one_line_failure(verify(signed["dir"], signed["public"], revision=other))
    assert line == (f"model {MODEL} revision {other}: manifest.json: names model {MODEL} "
                    f"revision {REVISION}, not {MODEL} {other}")


@pytest.mark.parametrize(("args", "why"), [
    (["--model", MODEL, "--dir", "/nowhere", "--public-key", "/nowhere.pem"],
     "verify: the following arguments are required: --revision"),
    (["--model", MODEL, "--revision", REVISION, "--dir", "/nowhere",
      "--public-key", "/no/such/key.pem"],
     "verify: public key /no/such/key.pem: [Errno 2] No such file or directory: '/no/such/key.pem'"),
])
def test_bad_arguments_get_one_line_and_exit_2(args, why):
    done = run("verify", *args)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", why + "\n")
