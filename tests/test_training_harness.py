"""The training harness (components/training/harness.py) as a training Job's pod runs it: on
the lifecycle venv's python (LIFECYCLE_PYTHON, the model-tools image's runtime), against an
S3 bucket on moto 5.2.5's server (real HTTP from s3fs) and a real Pushgateway (Debian's
prometheus-pushgateway), around a real PyTorch training loop on CPU (tests/training_loop.py,
on this venv's python, which has torch) or, where only the harness's side is under test, a
few lines of Python that print what the harness gave them.

A preempted run is made once per module (the `preempted` fixture) and copied into a fresh
bucket by each test that starts from it."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import boto3
import pytest
import torch
from conftest import ROOT
from lifecycle_run import keypair, lifecycle_python, moto_s3
from lifecycle_run import run as lifecycle_run
from pushgateway import running

from components.observability import metrics
from components.training.contract import HarnessConfig, RunConfig

JOB, MODEL, POOL = "tiny-ft", "tiny", "spot-a100"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": REGION}
# 80 steps of 50 ms: four seconds of training (room for a SIGTERM midway on a busy machine),
# a checkpoint every 10 steps.
HYPERPARAMETERS = {"steps": 80, "checkpoint_every": 10, "lr": 0.05, "step_seconds": 0.05}
SEED = 7
GRACE = 20
KEEP = 2
MAX_PREEMPTIONS = 2
IMAGE = "registry.example/trainer@sha256:" + "ab" * 32
TRAINER = (sys.executable, str(ROOT / "tests" / "training_loop.py"))
# Stands in for a trainer where only the harness's side is under test: prints the step and
# the files it was given, writes QUICK_WRITES checkpoints after it, exits QUICK_EXIT; or with
# QUICK_STUBBORN=<file>, touches the file and sleeps through SIGTERM.
QUICK = (sys.executable, "-c", """
import os, pathlib, signal, sys, time
d, n = pathlib.Path(os.environ["CHECKPOINT_DIR"]), int(os.environ["RESUME_STEP"])
files = sorted(p.name for p in (d / f"step-{n}").iterdir()) if n else []
interval = os.environ["CHECKPOINT_INTERVAL_SECONDS"]
print(f"quick: RESUME_STEP={n} files={files} interval={interval}", flush=True)
if os.environ.get("QUICK_STUBBORN"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    pathlib.Path(os.environ["QUICK_STUBBORN"]).touch()
    time.sleep(60)
for step in range(n + 1, n + 1 + int(os.environ.get("QUICK_WRITES", "0"))):
    tmp = d / f".tmp-{step}"
    tmp.mkdir()
    (tmp / "w.bin").write_bytes(bytes([step % 256]) * 100)
    tmp.rename(d / f"step-{step}")
sys.exit(int(os.environ.get("QUICK_EXIT", "3")))
""")
BUCKETS = itertools.count()
TIMEOUT = 120


def run_config(command: tuple[str, ...] = TRAINER) -> RunConfig:
    return RunConfig(job=JOB, image=IMAGE, command=command, base_hf_id="acme/tiny-base",
                     base_revision="c" * 40, dataset_uri="s3://datasets/tiny.jsonl",
                     dataset_version="2026-11-30", hyperparameters=HYPERPARAMETERS, seed=SEED)


def harness_config(bucket: str, run: RunConfig, **changes) -> HarnessConfig:
    config = HarnessConfig(run=run, store=f"s3://{bucket}", model=MODEL, pool=POOL,
                           checkpoint_interval_s=60, keep_checkpoints=KEEP,
                           max_preemptions=MAX_PREEMPTIONS, grace_s=GRACE)
    return replace(config, **changes)


@pytest.fixture(scope="module")
def endpoint():
    with moto_s3() as url:
        yield url


@pytest.fixture(scope="module")
def s3(endpoint):
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory):
    with running(tmp_path_factory.mktemp("pushgateway")) as url:
        yield url


def new_bucket(s3) -> str:
    bucket = f"artifacts-{next(BUCKETS)}"
    s3.create_bucket(Bucket=bucket)
    return bucket


def harness_env(endpoint: str, tmp: Path, **extra: str) -> dict[str, str]:
    """The pod's environment: s3fs pointed at moto (fsspec reads FSSPEC_<PROTOCOL>_<KWARG>,
    fsspec==2026.9.0 config.py:14-61), the two local directories the harness owns, our
    code on the path as the image's PYTHONPATH puts it."""
    return {**os.environ, **CREDENTIALS, "FSSPEC_S3_ENDPOINT_URL": endpoint,
            "PYTHONPATH": str(ROOT), "CHECKPOINT_DIR": str(tmp / "checkpoints"),
            "OUTPUT_DIR": str(tmp / "output"), **extra}


def argv(config: HarnessConfig) -> list[str]:
    return [str(lifecycle_python()), "-m", "components.training.harness", *config.to_argv(),
            "--", *config.run.command]


def harness(config: HarnessConfig, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv(config), capture_output=True, text=True, timeout=TIMEOUT,
                          env=env, cwd=ROOT)


def keys_under(s3, bucket: str, prefix: str) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"].removeprefix(prefix): s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            for o in listed}


def steps_in(s3, bucket: str, prefix: str) -> dict[int, dict[str, bytes]]:
    steps: dict[int, dict[str, bytes]] = {}
    for rel, body in keys_under(s3, bucket, prefix).items():
        if found := re.match(r"step-(\d+)/(.+)$", rel):
            steps.setdefault(int(found.group(1)), {})[found.group(2)] = body
    return steps


def pushed(url: str) -> dict[tuple[str, str], float]:
    """(job, pool) -> value of every llm_training_spot_interruptions_total series."""
    text = urllib.request.urlopen(f"{url}/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith(f"{metrics.SPOT_INTERRUPTIONS}{{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            out[(labels["job"], labels["pool"])] = float(line.rsplit(" ", 1)[1])
    return out


def wait_for(check, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.1)


class Requests(logging.Handler):
    """The requests moto's server (werkzeug, in this process) logs, in the order it took them."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def preempted(endpoint, s3, pushgateway, tmp_path_factory):
    """A run SIGTERMed once its step-10 checkpoint is in the store."""
    tmp = tmp_path_factory.mktemp("preempted")
    bucket = new_bucket(s3)
    run = run_config()
    config = harness_config(bucket, run, pushgateway=pushgateway)
    prefix = f"checkpoints/{JOB}/{run.run_id()}/"
    requests, werkzeug = Requests(), logging.getLogger("werkzeug")
    werkzeug.addHandler(requests)
    werkzeug.setLevel(logging.INFO)
    started = time.time()
    proc = subprocess.Popen(argv(config), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=harness_env(endpoint, tmp), cwd=ROOT)
    try:
        wait_for(lambda: "manifest.json" in steps_in(s3, bucket, prefix).get(10, {}),
                 what="complete step-10 in the store")
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        stdout, stderr = proc.communicate(timeout=GRACE + 30)
        elapsed = time.monotonic() - sent
    finally:
        proc.kill()
        werkzeug.removeHandler(requests)
    stopped = re.search(r"training_loop: SIGTERM, stopped after step (\d+)", stdout)
    return {"bucket": bucket, "prefix": prefix, "run": run, "code": proc.returncode,
            "stdout": stdout, "stderr": stderr, "elapsed": elapsed, "started": started,
            "stopped": int(stopped.group(1)) if stopped else None, "pushed": pushed(pushgateway),
            "puts": [found.groups() for line in requests.lines if (found := re.search(
                rf'"PUT /{bucket}/{prefix}step-(\d+)/(\S+) HTTP', line))],
            "steps": steps_in(s3, bucket, prefix),
            "state": json.loads(keys_under(s3, bucket, prefix)["state.json"])}


def test_a_sigterm_midway_ends_within_the_grace_period_with_a_complete_checkpoint(preempted):
    assert preempted["code"] == 75, (preempted["stdout"], preempted["stderr"])
    assert preempted["elapsed"] < GRACE
    assert preempted["stderr"] == ""
    last = preempted["stopped"]
    assert last is not None and 10 < last < HYPERPARAMETERS["steps"], preempted["stdout"]
    lines = [line for line in preempted["stdout"].splitlines() if line.startswith("harness: ")]
    assert f"harness: uploaded step-{last} (" in preempted["stdout"]
    assert lines[-1] == (f"harness: preempted: step-{last} is the latest in the store; "
                         "preemption 1 of at most 2; exiting 75")
    # The final checkpoint is complete: its manifest lists every file with its size and
    # SHA-256, and the store keeps the last KEEP complete ones.
    steps = preempted["steps"]
    final = steps[last]
    manifest = json.loads(final["manifest.json"])
    assert (manifest["job"], manifest["run"], manifest["step"]) == (
        JOB, preempted["run"].run_id(), last)
    assert {f["path"]: (f["size"], f["sha256"]) for f in manifest["files"]} == {
        rel: (len(body), hashlib.sha256(body).hexdigest())
        for rel, body in final.items() if rel != "manifest.json"}
    assert sorted(final) == ["manifest.json", "model.pt", "optimizer.pt", "trainer.json"]
    written = sorted({10 * (s // 10) for s in range(10, last + 1) if s % 10 == 0} | {last})
    assert sorted(steps) == written[-KEEP:]
    assert all("manifest.json" in files for files in steps.values())
    # Each step's manifest was the last object of it the store received.
    for step in {int(n) for n, _ in preempted["puts"]}:
        names = [name for n, name in preempted["puts"] if int(n) == step]
        assert names[-1] == "manifest.json" and names.count("manifest.json") == 1, names
        assert sorted(names[:-1]) == ["model.pt", "optimizer.pt", "trainer.json"], names
    assert preempted["state"]["preemptions"] == 1
    assert preempted["pushed"] == {(JOB, POOL): 1.0}


def copy_run(s3, source: dict, prefix: str) -> str:
    """A new bucket holding the preempted run's checkpoints and state under `prefix`."""
    bucket = new_bucket(s3)
    for rel, body in keys_under(s3, source["bucket"], source["prefix"]).items():
        s3.put_object(Bucket=bucket, Key=prefix + rel, Body=body)
    return bucket


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The weights of the same run uninterrupted: the trainer alone, from step 0, without the
    sleep that stands in for a step's time (it touches no tensor)."""
    tmp = tmp_path_factory.mktemp("reference")
    hyperparameters = {**HYPERPARAMETERS, "step_seconds": 0}
    env = {**os.environ, "SEED": str(SEED), "HYPERPARAMETERS": json.dumps(hyperparameters),
           "RESUME_STEP": "0", "CHECKPOINT_DIR": str(tmp / "c"), "OUTPUT_DIR": str(tmp / "o")}
    done = subprocess.run(TRAINER, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    return (tmp / "o" / "model.pt").read_bytes()


def test_the_next_run_resumes_and_publishes_the_uninterrupted_weights_signed_with_its_record(
        preempted, reference, endpoint, s3, pushgateway, tmp_path):
    run = preempted["run"]
    bucket = copy_run(s3, preempted, preempted["prefix"])
    private, public = keypair(tmp_path, "trainer")
    config = harness_config(bucket, run, pushgateway=pushgateway, signing_key=str(private))
    before = time.time()
    done = harness(config, harness_env(endpoint, tmp_path))
    after = time.time()
    assert done.returncode == 0, (done.stdout, done.stderr)
    last = preempted["stopped"]
    assert f"harness: restored step-{last} from s3://{bucket}/{preempted['prefix'].rstrip('/')} " \
        in done.stdout
    assert f"training_loop: RESUME_STEP={last} SEED={SEED}" in done.stdout
    revision = f"ft-{run.run_id()}"
    prefix = f"models/{MODEL}/{revision}/"
    published = keys_under(s3, bucket, prefix)
    assert sorted(published) == ["manifest.json", "model.pt", "model.sig", "run.json"]
    # Bit for bit: the same steps on the same batches from the same state, on one CPU thread.
    assert hashlib.sha256(published["model.pt"]).hexdigest() == \
        hashlib.sha256(reference).hexdigest()
    assert torch.equal(torch.load(tmp_path / "output" / "model.pt")["0.weight"],
                       torch.load(__import__("io").BytesIO(reference))["0.weight"])
    # The lifecycle's verify-weights accepts it as it accepts a synced revision.
    local = tmp_path / "copy"
    for rel, body in published.items():
        (local / rel).parent.mkdir(parents=True, exist_ok=True)
        (local / rel).write_bytes(body)
    verified = lifecycle_run("verify", "--model", MODEL, "--revision", revision, "--dir", local,
                             "--public-key", public)
    assert verified.returncode == 0, verified.stderr
    record = json.loads(published["run.json"])
    started, ended = record.pop("started_at"), record.pop("ended_at")
    assert preempted["started"] - 1 <= _epoch(started) <= before
    assert before - 1 <= _epoch(ended) <= after + 1
    assert record == {
        "job": JOB, "image": IMAGE, "image_digest": "sha256:" + "ab" * 32,
        "command": list(TRAINER), "base_hf_id": "acme/tiny-base", "base_revision": "c" * 40,
        "dataset_uri": "s3://datasets/tiny.jsonl", "dataset_version": "2026-11-30",
        "hyperparameters": HYPERPARAMETERS, "seed": SEED, "run_id": run.run_id(),
        "model": MODEL, "revision": revision, "preemptions": 1,
    }
    assert pushed(pushgateway)[(JOB, POOL)] == 1.0


def _epoch(stamp: str) -> float:
    import calendar

    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


def quick_bucket(s3, preempted) -> tuple[str, RunConfig, str]:
    """The preempted run's checkpoints, under the quick trainer's run."""
    run = run_config(QUICK)
    prefix = f"checkpoints/{JOB}/{run.run_id()}/"
    return copy_run(s3, preempted, prefix), run, prefix


def test_a_trainer_deaf_to_sigterm_is_killed_in_time_and_the_run_counts_as_preempted(
        preempted, endpoint, s3, pushgateway, tmp_path):
    bucket, run, prefix = quick_bucket(s3, preempted)
    ready = tmp_path / "ready"
    # Grace 8 s: half of it is kept for the upload (the least margin, 5 s, is more than half).
    config = harness_config(bucket, run, grace_s=8, pool="spot-b", pushgateway=pushgateway)
    proc = subprocess.Popen(argv(config), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=harness_env(endpoint, tmp_path, QUICK_STUBBORN=str(ready)),
                            cwd=ROOT)
    try:
        wait_for(ready.exists, what="trainer running")
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        stdout, stderr = proc.communicate(timeout=30)
        elapsed = time.monotonic() - sent
    finally:
        proc.kill()
    assert (proc.returncode, stderr) == (75, ""), stdout
    assert 4 <= elapsed < 8
    assert ("harness: SIGTERM: forwarded to the trainer; waiting up to 4 s for its final "
            "checkpoint (grace 8 s, 4 s kept for the upload)") in stdout
    assert "harness: the trainer wrote no final checkpoint in time: killed" in stdout
    assert stdout.splitlines()[-1] == (
        f"harness: preempted: step-{preempted['stopped']} is the latest in the store; "
        "preemption 2 of at most 2; exiting 75")
    assert json.loads(keys_under(s3, bucket, prefix)["state.json"])["preemptions"] == 2
    assert pushed(pushgateway)[(JOB, "spot-b")] == 2.0


@pytest.mark.parametrize("cut", ["manifest.json", "optimizer.pt", "a changed byte"])
def test_a_checkpoint_cut_off_mid_upload_is_never_restored(
        cut, preempted, endpoint, s3, tmp_path):
    bucket, run, prefix = quick_bucket(s3, preempted)
    last = preempted["stopped"]
    previous = sorted(preempted["steps"])[-2]
    key = f"{prefix}step-{last}/"
    if cut == "a changed byte":
        body = bytearray(preempted["steps"][last]["model.pt"])
        body[-1] ^= 1
        s3.put_object(Bucket=bucket, Key=key + "model.pt", Body=bytes(body))
        why = "model.pt: SHA-256 differs from the manifest's"
    else:
        s3.delete_object(Bucket=bucket, Key=key + cut)
        why = "no manifest.json (cut off mid-upload)" if cut == "manifest.json" \
            else "optimizer.pt missing"
    done = harness(harness_config(bucket, run), harness_env(endpoint, tmp_path))
    assert done.returncode == 3, (done.stdout, done.stderr)  # the trainer's own exit
    assert f"harness: skipped step-{last}: {why}; never restored" in done.stdout
    assert f"harness: restored step-{previous} from " in done.stdout
    assert (f"quick: RESUME_STEP={previous} files=['model.pt', 'optimizer.pt', "
            "'trainer.json'] interval=60") in done.stdout
    assert done.stderr == ""


def test_the_store_keeps_the_last_checkpoints_and_the_restored_one(
        preempted, endpoint, s3, tmp_path):
    bucket, run, prefix = quick_bucket(s3, preempted)
    restored = preempted["stopped"]
    done = harness(harness_config(bucket, run),
                   harness_env(endpoint, tmp_path, QUICK_WRITES="4"))
    assert done.returncode == 3, (done.stdout, done.stderr)
    new = [restored + i for i in range(1, 5)]
    for step in new:
        assert f"harness: uploaded step-{step} (1 files, 0.0 MiB" in done.stdout
    steps = steps_in(s3, bucket, prefix)
    # The last KEEP of the new ones, and the one this run restored (the trainer may not have
    # written a newer one yet when the store would drop it).
    assert sorted(steps) == [restored, *new[-KEEP:]]
    assert steps[new[-1]]["w.bin"] == bytes([new[-1] % 256]) * 100
    assert (f"harness: deleted step-{new[0]} (complete): the store keeps the last {KEEP} and "
            f"the restored step-{restored}") in done.stdout


@pytest.mark.parametrize(("preemptions", "code"), [(MAX_PREEMPTIONS, 3), (MAX_PREEMPTIONS + 1, 76)])
def test_a_run_preempted_more_than_its_maximum_gives_up_before_training(
        preemptions, code, preempted, endpoint, s3, tmp_path):
    bucket, run, prefix = quick_bucket(s3, preempted)
    state = {"preemptions": preemptions, "seed": SEED, "started_at": "2026-12-02T10:00:00Z"}
    s3.put_object(Bucket=bucket, Key=prefix + "state.json", Body=json.dumps(state).encode())
    done = harness(harness_config(bucket, run), harness_env(endpoint, tmp_path))
    assert done.returncode == code, (done.stdout, done.stderr)
    if code == 76:
        assert done.stderr == (
            f"harness: run {run.run_id()} of job {JOB} was preempted 3 times, more than "
            "--max-preemptions 2: giving up\n")
        assert "quick:" not in done.stdout
    else:
        assert "quick: RESUME_STEP=" in done.stdout


def test_a_trainer_exit_the_job_reserves_becomes_1(preempted, endpoint, s3, tmp_path):
    bucket, run, _ = quick_bucket(s3, preempted)
    done = harness(harness_config(bucket, run), harness_env(endpoint, tmp_path, QUICK_EXIT="75"))
    assert (done.returncode, done.stderr) == (1, (
        "harness: the trainer exited 75, which the Job reserves for PREEMPTED (a preemption: "
        "ignored): exiting 1 instead\n"))


GOOD = harness_config("bucket", run_config(QUICK)).to_argv()


def _with(flag: str, value: str) -> list[str]:
    out = list(GOOD)
    out[out.index(flag) + 1] = value
    return out


@pytest.mark.parametrize(("flags", "command", "line"), [
    (_with("--keep", "0"), QUICK, "harness: argument --keep: 0 is under 1"),
    (_with("--grace", "soon"), QUICK, "harness: argument --grace: 'soon' is not a whole number"),
    (GOOD[2:], QUICK, "harness: the following arguments are required: --run-config"),
    (_with("--run-config", "{"), QUICK,
     "harness: --run-config is not JSON (Expecting property name enclosed in double quotes: "
     "line 1 column 2 (char 1))"),
    (_with("--run-config", json.dumps({**json.loads(GOOD[1]), "seed": "7"})), QUICK,
     'harness: --run-config: seed is "7", not a int'),
    (GOOD, ("python", "other.py"), "harness: the command after `--` ['python', 'other.py'] is "
     f"not the run config's {list(QUICK)}: the run record would not say what ran"),
    (_with("--store", "nosuch://bucket"), QUICK, "harness: --store nosuch://bucket: Protocol "
     "not known: nosuch"),
])
def test_a_bad_argument_exits_78_with_one_line(flags, command, line, endpoint, tmp_path):
    done = subprocess.run([str(lifecycle_python()), "-m", "components.training.harness",
                           *flags, "--", *command], capture_output=True, text=True,
                          timeout=TIMEOUT, env=harness_env(endpoint, tmp_path), cwd=ROOT)
    assert (done.returncode, done.stdout, done.stderr) == (78, "", line + "\n")


def test_a_missing_bucket_or_no_credentials_is_a_configuration_error(endpoint, s3, tmp_path):
    config = harness_config("no-such-bucket", run_config(QUICK))
    done = harness(config, harness_env(endpoint, tmp_path))
    where = f"harness: s3://no-such-bucket/checkpoints/{JOB}/{config.run.run_id()}"
    assert (done.returncode, done.stderr) == (
        78, f"{where}: FileNotFoundError: The specified bucket does not exist\n"), done.stdout
    # No credentials anywhere botocore looks: the environment, its files, the instance's
    # metadata service (AWS_EC2_METADATA_DISABLED).
    env = {k: v for k, v in harness_env(endpoint, tmp_path).items()
           if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_CONFIG_FILE=str(
        tmp_path / "none"), AWS_EC2_METADATA_DISABLED="true", AWS_DEFAULT_REGION=REGION)
    config = harness_config(new_bucket(s3), run_config(QUICK))
    done = harness(config, env)
    assert (done.returncode, done.stderr) == (78, (
        f"harness: s3://{config.store.removeprefix('s3://')}/checkpoints/{JOB}/"
        f"{config.run.run_id()}: NoCredentialsError: Unable to locate credentials\n"))


def test_from_argv_is_the_inverse_of_to_argv():
    config = harness_config("bucket", run_config(), pushgateway="http://pg:9091",
                            signing_key="/keys/private.pem")
    assert HarnessConfig.from_argv(config.to_argv()) == config
    assert HarnessConfig.from_argv(config.to_argv()).run.run_id() == config.run.run_id()


def test_the_harness_pushes_the_series_the_alert_reads():
    # The image ships no observability package: the harness names the series itself.
    source = (ROOT / "components" / "training" / "metrics.py").read_text()
    assert f'SPOT_INTERRUPTIONS = "{metrics.SPOT_INTERRUPTIONS}"' in source
