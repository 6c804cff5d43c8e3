"""The weights sync Job's CLI against S3 (moto 5.2.5 in server mode, real HTTP from s3fs in
the lifecycle venv) with a local source directory: it copies a revision once, signature last,
never overwrites what a revision's path already holds, and the verify CLI on a copy of what
it wrote pushes llm_model_artifact_invalid to a real Pushgateway (Debian's
prometheus-pushgateway, installed by `make test`)."""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from lifecycle_run import keypair, run, small_model
from moto.server import ThreadedMotoServer

MODEL = "tiny"
REVISION = hashlib.sha1(b"tiny revision one").hexdigest()
NEXT = hashlib.sha1(b"tiny revision two").hexdigest()
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": REGION}
BUCKETS = itertools.count()


@pytest.fixture(scope="module")
def endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return keypair(tmp_path_factory.mktemp("keys"), "ours")


@pytest.fixture
def store(endpoint, tmp_path):
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


def test_a_revision_is_copied_once_with_its_signature_last(store, keys, caplog):
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


def test_the_next_revision_leaves_the_serving_one_untouched(store, keys):
    assert sync(store, keys).returncode == 0
    serving = versions(store)
    changed = store["source"].parent / "next"
    shutil.copytree(store["source"], changed)
    (changed / "model.safetensors").write_bytes(b"\1" * 4096)
    done = sync(store, keys, revision=NEXT, source=changed)
    assert done.returncode == 0, done.stderr
    after = versions(store)
    assert {k: v for k, v in after.items() if f"/{REVISION}/" in k} == serving
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


def test_another_revisions_signed_copy_is_never_overwritten(store, keys):
    assert sync(store, keys).returncode == 0
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


# exporter-toolkit logs the listener's address (see tests/test_quality.py), so port 0 works.
LISTENING = re.compile(r'msg="Listening on" address=(\S+)')


@pytest.fixture
def pushgateway(tmp_path):
    binary = shutil.which("prometheus-pushgateway")
    assert binary, "prometheus-pushgateway not installed: `make test` installs it (Debian package prometheus-pushgateway)"
    log = tmp_path / "pushgateway.log"
    with log.open("w") as err:
        proc = subprocess.Popen([binary, "--web.listen-address=127.0.0.1:0"],
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 30
        while not (found := LISTENING.search(log.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        url = f"http://{found.group(1)}"
        urllib.request.urlopen(f"{url}/-/ready", timeout=10)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def pushed(url: str) -> dict[tuple[str, str, str], float]:
    """(job, model, revision) -> value of every llm_model_artifact_invalid series."""
    text = urllib.request.urlopen(f"{url}/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("llm_model_artifact_invalid{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            out[(labels["job"], labels["model"], labels["revision"])] = float(line.rsplit(" ", 1)[1])
    return out


def test_verify_on_the_synced_copy_pushes_the_artifact_series(store, keys, pushgateway, tmp_path):
    assert sync(store, keys).returncode == 0
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
