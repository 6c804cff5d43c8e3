"""`llm-platform retrain --record run.json [--stack s]`: the printed spec change, applied to
a stack, gives back the recorded run (the same run id), and a bad record is one error line
with exit 2. The console script runs as a process once; the other cases call its `main` in
the test process (a process each cost a second apiece)."""

from __future__ import annotations

import copy
import json
from dataclasses import asdict
from typing import NamedTuple

import pytest
import yaml
from conftest import run_cli, stack_spec, write_stack

from components import cli
from components.spec import load_spec
from components.training.contract import RunConfig

DIGEST = "ghcr.io/acme/trainer@sha256:" + "b" * 64
RUN = RunConfig(
    job="support-ft",
    image=DIGEST,
    command=("python", "-m", "trainer.finetune", "--epochs", "2"),
    base_hf_id="meta-llama/Llama-3.1-8B-Instruct",
    base_revision="0e9e39f249a16976918f6564b8830bc894c89659",
    dataset_uri="s3://acme-datasets/support",
    dataset_version="2026-11-30",
    hyperparameters={"learning_rate": 0.0002, "epochs": 2, "lora": True},
    seed=1234,
)


class Done(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def retrain(capsys):
    """`llm-platform retrain <args>` through cli.main in this process: exit code and output."""
    def run(*args: str) -> Done:
        with pytest.raises(SystemExit) as done:
            cli.main(["retrain", *args])
        out = capsys.readouterr()
        return Done(done.value.code or 0, out.out, out.err)

    return run


def record(tmp_path, doc, name="run.json"):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def full_record(run: RunConfig = RUN) -> dict:
    """A record as the harness writes it: the RunConfig whole, with the run's own facts."""
    return {"run": asdict(run), "run_id": run.run_id(), "started": "2026-12-01T02:00:00Z",
            "ended": "2026-12-01T08:10:00Z", "preemptions": 3}


def stack_job(run: RunConfig) -> dict:
    return {
        "name": run.job, "image": run.image, "command": list(run.command), "model": "assistant",
        "base": {"hf_id": run.base_hf_id, "revision": run.base_revision},
        "dataset": {"uri": run.dataset_uri, "version": run.dataset_version},
        "hyperparameters": dict(run.hyperparameters), "seed": run.seed, "pool": "train",
        "expected_hours": 6.0,
    }


def run_of(job) -> RunConfig:
    """The RunConfig a stack's job runs (as the Job builder makes it from the spec)."""
    return RunConfig(job=job.name, image=job.image, command=tuple(job.command),
                     base_hf_id=job.base.hf_id, base_revision=job.base.revision,
                     dataset_uri=job.dataset.uri, dataset_version=job.dataset.version,
                     hyperparameters=dict(job.hyperparameters), seed=job.seed)


def body(stdout: str) -> dict:
    return yaml.safe_load("\n".join(x for x in stdout.splitlines() if not x.startswith("#")))


def test_prints_the_whole_job_that_reruns_the_record(tmp_path):
    done = run_cli("retrain", "--record", str(record(tmp_path, full_record())))
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first == (f"# run {RUN.run_id()} of job support-ft "
                     f"(output revision ft-{RUN.run_id()})")
    (job,) = body(done.stdout)["training"]["jobs"]
    assert job == {
        "name": "support-ft", "image": DIGEST,
        "command": ["python", "-m", "trainer.finetune", "--epochs", "2"],
        "base": {"hf_id": "meta-llama/Llama-3.1-8B-Instruct",
                 "revision": "0e9e39f249a16976918f6564b8830bc894c89659"},
        "dataset": {"uri": "s3://acme-datasets/support", "version": "2026-11-30"},
        "hyperparameters": {"learning_rate": 0.0002, "epochs": 2, "lora": True},
        "seed": 1234,
    }


@pytest.mark.parametrize("doc", [
    asdict(RUN),
    {"run": RUN.run_id(), "config": asdict(RUN), "preemptions": 1},
], ids=["flat", "under another key"])
def test_the_config_is_found_flat_or_in_an_object_of_the_record(retrain, tmp_path, doc):
    done = retrain("--record", str(record(tmp_path, doc)))
    assert done.returncode == 0, done.stderr
    assert body(done.stdout)["training"]["jobs"][0]["seed"] == 1234
    assert done.stdout.startswith(f"# run {RUN.run_id()} ")


def test_stack_diff_prints_only_what_differs_and_applying_it_reruns_the_run(retrain,
        tmp_path, scratch_project):
    # The stack moved on: a newer dataset, another seed and another learning rate.
    moved = RunConfig(**{**asdict(RUN), "command": RUN.command, "dataset_version": "2026-12-01",
                         "seed": 7, "hyperparameters": {**RUN.hyperparameters,
                                                         "learning_rate": 0.001}})
    raw = copy.deepcopy(stack_spec("aws"))
    raw["training"] = {"jobs": [stack_job(moved)]}
    write_stack(scratch_project, "t", raw)
    done = retrain("--record", str(record(tmp_path, full_record())), "--stack", "t",
                   "--project", str(scratch_project))
    assert done.returncode == 0, done.stderr
    assert "training.jobs[0] (support-ft), set:" in done.stdout
    edit = body(done.stdout)
    assert edit == {
        "dataset": {"uri": "s3://acme-datasets/support", "version": "2026-11-30"},
        "hyperparameters": {"learning_rate": 0.0002, "epochs": 2, "lora": True},
        "seed": 1234,
    }
    before = load_spec(raw).spec.training.jobs[0]
    assert run_of(before).run_id() != RUN.run_id()
    raw["training"]["jobs"][0].update(edit)
    after = load_spec(raw).spec.training.jobs[0]
    assert run_of(after).run_id() == RUN.run_id()


def test_a_stack_already_running_the_record_needs_no_change(retrain, tmp_path, scratch_project):
    raw = copy.deepcopy(stack_spec("aws"))
    raw["training"] = {"jobs": [stack_job(RUN)]}
    write_stack(scratch_project, "t", raw)
    done = retrain("--record", str(record(tmp_path, full_record())), "--stack", "t",
                   "--project", str(scratch_project))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].endswith("training.jobs[0] (support-ft) already runs "
                                                 "it: no change")


def test_an_int_hyperparameter_is_not_the_same_run_as_a_float(retrain, tmp_path, scratch_project):
    raw = copy.deepcopy(stack_spec("aws"))
    raw["training"] = {"jobs": [stack_job(RUN)]}
    raw["training"]["jobs"][0]["hyperparameters"]["epochs"] = 2.0
    write_stack(scratch_project, "t", raw)
    done = retrain("--record", str(record(tmp_path, full_record())), "--stack", "t",
                   "--project", str(scratch_project))
    assert body(done.stdout) == {"hyperparameters": RUN.hyperparameters}


def bad(**over) -> dict:
    doc = full_record()
    doc["run"] = {**doc["run"], **over}
    doc.pop("run_id")
    return doc


@pytest.mark.parametrize("doc, expected", [
    ("{not json", "not valid JSON (Expecting property name"),
    ([1, 2], "a run record is a JSON object"),
    ({"run": {"job": "x"}}, "missing 'image': not a run record"),
    (bad(seed="1"), "'seed' must be a int"),
    (bad(seed=True), "'seed' must be a int"),
    (bad(command="python train.py"), "'command' must be a list"),
    (bad(image="ghcr.io/acme/trainer:latest"), "'image': String should match pattern"),
    (bad(job="Support FT"), "'job': String should match pattern"),
    (bad(hyperparameters={"nested": {"a": 1}}), "'hyperparameters.nested"),
    ({**full_record(), "run_id": "0123456789ab"},
     f"run_id '0123456789ab' is not the id of its config ({RUN.run_id()})"),
])
def test_a_bad_record_is_one_error_line(retrain, tmp_path, doc, expected):
    done = retrain("--record", str(record(tmp_path, doc)))
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --record ") and expected in lines[0], \
        done.stderr


def test_a_missing_record_or_job_is_one_error_line(retrain, tmp_path, scratch_project):
    done = retrain("--record", str(tmp_path / "nope.json"))
    assert (done.returncode, done.stderr.strip()) == (
        2, f"error: --record {tmp_path / 'nope.json'}: cannot read (No such file or directory)")
    raw = copy.deepcopy(stack_spec("aws"))
    raw["training"] = {"jobs": [stack_job(RUN) | {"name": "support-fx"}]}
    write_stack(scratch_project, "t", raw)
    done = retrain("--record", str(record(tmp_path, full_record())), "--stack", "t",
                   "--project", str(scratch_project))
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: --stack t: no training job named 'support-ft' (did "
                                   "you mean 'support-fx'?); jobs: support-fx")
