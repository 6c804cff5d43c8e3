"""The weights sync Job's CLI against S3 (moto 5.2.5 in server mode, real HTTP from s3fs in
the lifecycle venv) with a local source directory: it copies a revision once, signature last,
never overwrites what a revision's path already holds, and the verify CLI on a copy of what
it wrote pushes llm_model_artifact_invalid to a real Pushgateway (Debian's
prometheus-pushgateway, installed by `make test`)."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import shutil
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from lifecycle_run import keypair, moto_s3, run, small_model
from pushgateway import running

MODEL = "tiny"
REVISION = hashlib.sha1(b"tiny revision one").hexdigest()
NEXT = hashlib.sha1(b"tiny revision two").hexdigest()
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": REGION}
BUCKETS = itertools.count()


@pytest.fixture(scope="module")
def endpoint():
    with moto_s3() as url:
        yield url


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return keypair(tmp_path_factory.mktemp("keys"), "ours")


def new_store(endpoint: str, tmp_path: Path) -> dict:
    """A fresh versioned bucket (so a test can tell whether an object was written again),
    a source directory, and the environment that points s3fs at moto: fsspec reads
    FSSPEC_<PROTOCOL>_<KWARG> variables as filesystem options (fsspec==2026.9.0
    config.py:14-61), and s3fs takes endpoint_url (s3fs==2026.9.0 core.py:276-278)."""
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    bucket = f"artifacts-{next(BUCKETS)}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    source = tmp_path / "source"
    files = small_model(source)
    env = {**CREDENTIALS, "FSSPEC_S3_ENDPOINT_URL": endpoint}
    return {"s3": s3, "bucket": bucket, "source": source, "files": files, "env": env,
            "scratch": tmp_path / "scratch"}


@pytest.fixture
def store(endpoint, tmp_path):
    return new_store(endpoint, tmp_path)


@pytest.fixture(scope="module")
def synced(endpoint, keys, tmp_path_factory):
    """A store that already holds REVISION, synced by the CLI once for the tests that only
    read it or write elsewhere."""
    store = new_store(endpoint, tmp_path_factory.mktemp("synced"))
    done = sync(store, keys)
    assert done.returncode == 0, done.stderr
    return store


def sync(store: dict, keys, revision: str = REVISION, source: Path | None = None):
    return run("sync", "--model", MODEL, "--revision", revision,
               "--source", (source or store["source"]).as_uri(),
               "--dest", f"s3://{store['bucket']}/models/{MODEL}/{revision}",
               "--signing-key", keys[0], "--scratch", store["scratch"], env=store["env"])


def versions(store: dict) -> dict[str, list[tuple[str, str]]]:
    """key -> [(version id, ETag)] of every object version in the bucket."""
    listed = store["s3"].list_object_versions(Bucket=store["bucket"]).get("Versions", [])
    out: dict[str, list[tuple[str, str]]] = {}
    for v in listed:
        out.setdefault(v["Key"], []).append((v["VersionId"], v["ETag"]))
    return out


def objects(store: dict, prefix: str) -> dict[str, dict]:
    listed = store["s3"].list_objects_v2(Bucket=store["bucket"], Prefix=prefix).get("Contents", [])
    return {o["Key"].removeprefix(prefix): o for o in listed}


def body(store: dict, key: str) -> bytes:
    return store["s3"].get_object(Bucket=store["bucket"], Key=key)["Body"].read()


def test_a_revision_is_copied_once_signature_last_and_kept_when_the_next_comes(
        store, keys, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    prefix = f"models/{MODEL}/{REVISION}/"
    first = sync(store, keys)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == (
        f"s3://{store['bucket']}/models/{MODEL}/{REVISION}: synced 4 files and the signed "
        "manifest (0.1 MiB)")
    assert "hashing: 4/4 files" in first.stdout  # the progress a long copy prints
    stored = objects(store, prefix)
    assert sorted(stored) == sorted([*store["files"], "manifest.json", "model.sig"])
    for rel, content in store["files"].items():
        assert body(store, prefix + rel) == content, rel
    # Uploaded in order, as moto's server (werkzeug, in this process) logged the requests: a
    # copy cut off before the end has no model.sig to pass for complete.
    puts = [found.group(1) for r in caplog.records
            if (found := re.search(rf'"PUT /{store["bucket"]}/{prefix}(\S+) HTTP', r.getMessage()))]
    assert sorted(puts[:-2]) == sorted(store["files"])
    assert puts[-2:] == ["manifest.json", "model.sig"]

    before = versions(store)
    again = sync(store, keys)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == (
        f"s3://{store['bucket']}/models/{MODEL}/{REVISION}: already synced (6 objects, "
        "signature valid)")
    assert versions(store) == before
    assert all(len(v) == 1 for v in before.values())

    # The next revision goes beside it and leaves the serving one as it was.
    changed = store["source"].parent / "next"
    shutil.copytree(store["source"], changed)
    (changed / "model.safetensors").write_bytes(b"\1" * 4096)
    done = sync(store, keys, revision=NEXT, source=changed)
    assert done.returncode == 0, done.stderr
    after = versions(store)
    assert {k: v for k, v in after.items() if f"/{REVISION}/" in k} == before
    assert body(store, f"models/{MODEL}/{NEXT}/model.safetensors") == b"\1" * 4096


def _one_line(done) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_an_interrupted_copy_is_never_overwritten(store, keys):
    # What a sync cut off after its files leaves: everything but the signature.
    prefix = f"models/{MODEL}/{REVISION}/"
    for rel, content in store["files"].items():
        store["s3"].put_object(Bucket=store["bucket"], Key=prefix + rel, Body=content)
    before = versions(store)
    line = _one_line(sync(store, keys))
    assert line == (
        f"model {MODEL} revision {REVISION}: s3://{store['bucket']}/models/{MODEL}/{REVISION}: "
        "holds 4 objects but no model.sig: an interrupted or foreign copy; it is never "
        "overwritten (remove it by hand to sync again)")
    assert versions(store) == before


def test_another_revisions_signed_copy_is_never_overwritten(synced, keys):
    store = synced
    # A validly signed revision copied (by hand, by mistake) to the next revision's path.
    for rel in objects(store, f"models/{MODEL}/{REVISION}/"):
        store["s3"].copy_object(Bucket=store["bucket"], Key=f"models/{MODEL}/{NEXT}/{rel}",
                                CopySource={"Bucket": store["bucket"],
                                            "Key": f"models/{MODEL}/{REVISION}/{rel}"})
    before = versions(store)
    line = _one_line(sync(store, keys, revision=NEXT))
    assert line == (
        f"model {MODEL} revision {NEXT}: s3://{store['bucket']}/models/{MODEL}/{NEXT}: "
        f"manifest.json: names model {MODEL} revision {REVISION}, not {MODEL} {NEXT}; it is "
        "never overwritten (remove it by hand to sync again)")
    assert versions(store) == before


@pytest.fixture
def pushgateway(tmp_path):
    with running(tmp_path) as url:
        yield url


def pushed(url: str) -> dict[tuple[str, str, str], float]:
    """(job, model, revision) -> value of every llm_model_artifact_invalid series."""
    text = urllib.request.urlopen(f"{url}/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("llm_model_artifact_invalid{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            out[(labels["job"], labels["model"], labels["revision"])] = float(line.rsplit(" ", 1)[1])
    return out


def test_verify_on_the_synced_copy_pushes_the_artifact_series(synced, keys, pushgateway, tmp_path):
    store = synced
    # What the init container's rclone copy leaves on the pod's volume.
    local = tmp_path / "models" / MODEL
    prefix = f"models/{MODEL}/{REVISION}/"
    for rel in objects(store, prefix):
        (local / rel).parent.mkdir(parents=True, exist_ok=True)
        (local / rel).write_bytes(body(store, prefix + rel))
    args = ["--model", MODEL, "--revision", REVISION, "--dir", local, "--public-key", keys[1],
            "--pushgateway", pushgateway]
    good = run("verify", *args)
    assert good.returncode == 0, good.stderr
    assert pushed(pushgateway) == {("model-verify", MODEL, REVISION): 0.0}

    weights = local / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[1000] ^= 0x01
    weights.write_bytes(bytes(data))
    bad = run("verify", *args)
    assert _one_line(bad) == f"model {MODEL} revision {REVISION}: model.safetensors: hash mismatch"
    assert pushed(pushgateway) == {("model-verify", MODEL, REVISION): 1.0}


# --- the Hub as a source ------------------------------------------------------------------

HUB_REPO = "acme/tiny"


class HubStub(BaseHTTPRequestHandler):
    """The three Hub calls snapshot_download makes for a commit (huggingface-hub==2.4.0): the
    tree listing (hf_api.py:4023, list_repo_tree; a commit needs no repo_info,
    _snapshot_download.py:262-270), then per file a HEAD for its metadata (file_download.py
    get_hf_file_metadata: X-Repo-Commit, ETag, Content-Length) and a GET. An unknown commit
    answers 404 with X-Error-Code RevisionNotFound (utils/_http.py:871-882)."""

    files: dict[str, bytes] = {}
    commit = ""
    asked: list[str] = []

    def log_message(self, *args) -> None:
        pass

    def _missing(self) -> None:
        self.send_response(404)
        self.send_header("X-Error-Code", "RevisionNotFound")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, body: bytes, head: bool = False, **headers: str) -> None:
        self.send_response(200)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _resolve(self, head: bool) -> None:
        path = self.path.split("?")[0]
        prefix = f"/{HUB_REPO}/resolve/{self.commit}/"
        if not path.startswith(prefix) or path.removeprefix(prefix) not in self.files:
            return self._missing()
        body = self.files[path.removeprefix(prefix)]
        self._send(body, head, **{"X-Repo-Commit": self.commit,
                                  "ETag": f'"{hashlib.sha256(body).hexdigest()}"'})

    def do_HEAD(self) -> None:
        self.asked.append(self.path)
        self._resolve(head=True)

    def do_GET(self) -> None:
        self.asked.append(self.path)
        tree = f"/api/models/{HUB_REPO}/tree/"
        if not self.path.startswith(tree):
            return self._resolve(head=False)
        if self.path.removeprefix(tree).split("?")[0] != self.commit:
            return self._missing()
        listing = [{"type": "file", "path": rel, "size": len(body),
                    "oid": hashlib.sha1(body).hexdigest()} for rel, body in self.files.items()]
        self._send(json.dumps(listing).encode(), **{"Content-Type": "application/json"})


@pytest.fixture
def hub(store, tmp_path):
    HubStub.files, HubStub.commit, HubStub.asked = store["files"], REVISION, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), HubStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # HF_ENDPOINT moves every Hub call (huggingface-hub==2.4.0 constants.py:69); HF_HOME keeps
    # its cache out of the user's.
    store["env"].update({"HF_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}",
                         "HF_HOME": str(tmp_path / "hf-home")})
    yield HubStub
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def hub_sync(store: dict, keys, revision: str):
    return run("sync", "--model", MODEL, "--revision", revision, "--source", f"hf://{HUB_REPO}",
               "--dest", f"s3://{store['bucket']}/models/{MODEL}/{revision}",
               "--signing-key", keys[0], "--scratch", store["scratch"], env=store["env"])


def test_a_hub_revision_is_fetched_at_its_commit_and_stored_without_the_hubs_bookkeeping(
        store, keys, hub):
    done = hub_sync(store, keys, REVISION)
    assert done.returncode == 0, done.stderr
    prefix = f"models/{MODEL}/{REVISION}/"
    stored = objects(store, prefix)
    # No .cache/huggingface/: the download's bookkeeping is no part of the revision.
    assert sorted(stored) == sorted([*store["files"], "manifest.json", "model.sig"])
    for rel, content in store["files"].items():
        assert body(store, prefix + rel) == content, rel
    files = [p for p in hub.asked if "/resolve/" in p or "/tree/" in p]
    assert files and all(f"/{REVISION}" in p for p in files)


def test_a_commit_the_hub_does_not_have_fails_in_one_line_and_stores_nothing(store, keys, hub):
    done = hub_sync(store, keys, NEXT)
    assert _one_line(done) == (
        f"model {MODEL} revision {NEXT}: hf://{HUB_REPO}@{NEXT}: RevisionNotFoundError: "
        "404 Client Error.")
    assert versions(store) == {}


@pytest.mark.parametrize(("args", "why"), [
    (["--dest", f"s3://bucket/models/{MODEL}/{NEXT}", "--signing-key", "/no/key.pem"],
     f"sync: --dest s3://bucket/models/{MODEL}/{NEXT} must end with /models/{MODEL}/{REVISION}"),
    (["--dest", f"s3://bucket/models/{MODEL}/{REVISION}", "--signing-key", "/no/key.pem"],
     "sync: signing key /no/key.pem: [Errno 2] No such file or directory: '/no/key.pem'"),
])
def test_bad_arguments_get_one_line_and_exit_2_before_any_copy(args, why):
    done = run("sync", "--model", MODEL, "--revision", REVISION, "--source", "file:///nowhere",
               *args)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", why + "\n")
