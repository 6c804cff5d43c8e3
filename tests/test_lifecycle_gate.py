"""The eval gate and the canary's refusal comparison as the Rollout runs them: the CLIs in the
lifecycle venv (LIFECYCLE_PYTHON, default .venv-lifecycle, as in the `model-tools` image)
against stub OpenAI-compatible servers on 127.0.0.1 (tests/gateway_stub.py) and a real
Pushgateway (Debian's prometheus-pushgateway, installed by `make test`). Every expected score
is worked out here from the stubs' scripted answers."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from gateway_servers import ROOT, missing
from gateway_stub import LOOPBACK, Stub, serve_stub
from prometheus_client.parser import text_string_to_metric_families
from pushgateway import running

from components.lifecycle.evalgate import verdict
from components.lifecycle.scorers import mean

MODEL = "support-bot"
CANDIDATE, INCUMBENT = "c0ffee" * 6 + "c0ff", "decade" * 6 + "deca"
RUN_TIMEOUT = 60


def lifecycle_python() -> Path:
    path = Path(os.environ.get("LIFECYCLE_PYTHON") or ROOT / ".venv-lifecycle" / "bin" / "python")
    if not path.exists():
        missing(f"no lifecycle venv at {path}", "`make install` builds it from locks/lifecycle.txt (.venv-lifecycle)")
    return path


def run(module: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    # A HOME with nothing in it: no ~/.aws or fsspec config of this machine's user reaches the CLI.
    env = {"PYTHONPATH": str(ROOT), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent",
           **(env or {})}
    return subprocess.run([str(lifecycle_python()), "-m", f"components.lifecycle.{module}", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False, env=env)


@dataclass
class Scripted(Stub):
    """The gateway tests' stub with answers scripted per prompt (`script`, default a refusal-free
    echo) and, as a judge, one fixed reply (`reply`)."""

    script: dict[str, str] = field(default_factory=dict)
    reply: str | None = None

    def answer(self, body: dict) -> tuple[int, dict]:
        status, payload = super().answer(body)
        if status == 200:
            prompt = str(body["messages"][-1]["content"])
            text = self.reply if self.reply is not None else self.script.get(prompt, "I do not know.")
            payload["choices"][0]["message"]["content"] = text
        return status, payload


# The golden set: one case per deterministic scorer. RIGHT answers score 1 each, WRONG 0.
CASES = [
    {"id": "capital", "prompt": "Capital of France?", "scorer": "exact", "expected": "Paris"},
    {"id": "cancel", "prompt": "How do I cancel?", "scorer": "contains", "expected": "Settings > Billing"},
    {"id": "order", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Order number?"}],
     "scorer": "regex", "pattern": r"\b[0-9]{5}\b"},
    {"id": "intent", "prompt": "Classify: I want my money back", "scorer": "json_schema",
     "schema": {"type": "object", "required": ["intent"], "properties": {"intent": {"enum": ["refund", "cancel"]}}}},
]
RIGHT = {"Capital of France?": " paris ", "How do I cancel?": "Open settings >  billing, then Cancel.",
         "Order number?": "It is 12345.", "Classify: I want my money back": '```json\n{"intent": "refund"}\n```'}
WRONG = {"Capital of France?": "Lyon", "How do I cancel?": "Call us.",
         "Order number?": "It is 1234.", "Classify: I want my money back": "refund"}


def answers(*wrong: str) -> dict[str, str]:
    """RIGHT for every prompt except those named (by case id), which get WRONG."""
    prompts = {c["id"]: c.get("prompt") or c["messages"][-1]["content"] for c in CASES}
    return {p: (WRONG if cid in wrong else RIGHT)[p] for cid, p in prompts.items()}


def write_golden(path: Path, cases: list[dict]) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    return path




@pytest.fixture(scope="module")
def pushgateway_url(tmp_path_factory) -> Iterator[str]:
    """One Pushgateway for the module: each gate replaces its model's group, and each test that
    reads it runs a gate first."""
    with running(tmp_path_factory.mktemp("pushgateway")) as url:
        yield url




def pushed(url: str) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as r:
        text = r.read().decode()
    return {(s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("job", "instance")))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name.startswith("llm_eval_")}


@dataclass
class Gate:
    tmp: Path
    candidate: Scripted
    incumbent: Scripted
    pushgateway: str
    golden: Path

    def run(self, *extra: str, min_score: str = "0.8", max_regression: str = "0.03",
            report: str | None = None, golden: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return run("evalgate", "--model", MODEL, "--revision", CANDIDATE, "--incumbent-revision", INCUMBENT,
                   "--candidate-url", self.candidate.url, "--incumbent-url", self.incumbent.url,
                   "--golden", golden or self.golden.as_uri(), "--min-score", min_score, "--max-regression", max_regression,
                   "--report", report or (self.tmp / "report.json").as_uri(), "--pushgateway", self.pushgateway,
                   "--timeout", "5", "--retries", "1", *extra, env=env)

    def report(self) -> dict:
        return json.loads((self.tmp / "report.json").read_text())


@pytest.fixture(scope="module")
def stubs() -> Iterator[tuple[Scripted, Scripted]]:
    """The candidate's and the incumbent's servers, started once (stopping one takes half a
    second of serve_forever's poll) and reset by `gate` for each test."""
    with ExitStack() as stack:
        yield (stack.enter_context(serve_stub(Scripted("candidate"))),
               stack.enter_context(serve_stub(Scripted("incumbent"))))


@pytest.fixture
def gate(tmp_path, pushgateway_url, stubs) -> Gate:
    lifecycle_python()
    for stub in stubs:
        stub.script, stub.reply = {}, None
        stub.modes.clear()
        stub.seen.clear()
    return Gate(tmp_path, *stubs, pushgateway_url, write_golden(tmp_path / "golden.jsonl", CASES))


def test_a_better_candidate_passes_and_the_report_and_pushgateway_hold_the_figures(gate):
    gate.candidate.script = answers()  # 4 of 4: mean 1.0
    gate.incumbent.script = answers("order")  # 3 of 4: mean 0.75
    done = gate.run()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "candidate 1.000, incumbent 0.750 on 4 cases" in done.stdout and "eval gate PASSED" in done.stdout
    report = gate.report()
    assert (report["verdict"], report["passed"], report["reasons"]) == ("pass", True, [])
    assert report["means"] == {"candidate": 1.0, "incumbent": 0.75}
    assert report["thresholds"] == {"min_score": 0.8, "max_regression": 0.03}
    assert report["golden"] == {"url": gate.golden.as_uri(), "cases": 4,
                                "sha256": hashlib.sha256(gate.golden.read_bytes()).hexdigest()}
    assert [(c["id"], c["candidate"]["score"], c["incumbent"]["score"]) for c in report["cases"]] == [
        ("capital", 1.0, 1.0), ("cancel", 1.0, 1.0), ("order", 1.0, 0.0), ("intent", 1.0, 1.0)]
    assert report["seconds"] >= 0 and all(c["candidate"]["seconds"] >= 0 for c in report["cases"])
    # The case's system message reached the model, at temperature 0, under the served name.
    order = next(b for b in gate.candidate.seen if b["messages"][-1]["content"] == "Order number?")
    assert (order["messages"][0], order["temperature"], order["model"]) == (
        {"role": "system", "content": "Be brief."}, 0, MODEL)
    assert pushed(gate.pushgateway) == {
        ("llm_eval_score", (("model", MODEL), ("revision", CANDIDATE), ("role", "candidate"))): 1.0,
        ("llm_eval_score", (("model", MODEL), ("revision", INCUMBENT), ("role", "incumbent"))): 0.75,
        ("llm_eval_gate_passed", (("model", MODEL), ("revision", CANDIDATE))): 1.0,
    }


def test_a_worse_candidate_fails_on_both_rules_and_pushes_the_failure(gate):
    gate.candidate.script = answers("capital", "cancel", "order", "intent")  # 0 of 4: 0.0
    gate.incumbent.script = answers("order")  # 0.75
    done = gate.run()
    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("eval gate FAILED")]
    assert "candidate mean 0.000 is below min_score 0.800" in line
    assert "0.750 below the incumbent's 0.750 (max_regression 0.030)" in line
    assert gate.report()["means"] == {"candidate": 0.0, "incumbent": 0.75}
    # A zero is a score, and is pushed as one.
    assert pushed(gate.pushgateway) == {
        ("llm_eval_score", (("model", MODEL), ("revision", CANDIDATE), ("role", "candidate"))): 0.0,
        ("llm_eval_score", (("model", MODEL), ("revision", INCUMBENT), ("role", "incumbent"))): 0.75,
        ("llm_eval_gate_passed", (("model", MODEL), ("revision", CANDIDATE))): 0.0,
    }


def test_a_regression_beyond_max_regression_fails_even_above_min_score(gate):
    gate.candidate.script = answers("intent")  # 0.75
    gate.incumbent.script = answers()  # 1.0
    done = gate.run(min_score="0.5", max_regression="0.2")
    assert done.returncode == 1
    assert gate.report()["reasons"] == [
        "candidate mean 0.750 is 0.250 below the incumbent's 1.000 (max_regression 0.200)"]
    # Exactly at the allowed regression (1.0 - 0.25 = 0.75) it passes: "not worse by more than".
    assert gate.run(min_score="0.5", max_regression="0.25").returncode == 0


def test_a_judge_that_answers_garbage_fails_the_gate_closed_with_the_reason(gate, tmp_path):
    judged = [{"id": "tone", "prompt": "Apologise for the delay.", "scorer": "judge", "expected": "We are sorry."}]
    gate.golden = write_golden(tmp_path / "judged.jsonl", judged)
    rubric = tmp_path / "rubric.txt"
    rubric.write_text("Score 1 if the answer apologises politely, 0 otherwise.\n")
    key = tmp_path / "key"
    key.write_text("sk-judge\n")
    with serve_stub(Scripted("judge", api_key="sk-judge", reply="Looks great to me!")) as judge:
        args = ("--judge-url", judge.url, "--judge-model", "analyst", "--judge-key-file", str(key),
                "--rubric-file", str(rubric))
        done = gate.run(*args)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "the judge's reply is not `SCORE: <number from 0 to 1>`: 'Looks great to me!'" in done.stdout
        assert gate.report()["means"] == {"candidate": None, "incumbent": None}
        # The same judge answering in the stated format grades both: 0.5 each passes 0.5.
        judge.reply = "SCORE: 0.5"
        assert gate.run(*args, min_score="0.5").returncode == 0
        assert gate.report()["means"] == {"candidate": 0.5, "incumbent": 0.5}
        request = judge.seen[-1]
        assert request["model"] == "analyst" and request["temperature"] == 0
        assert "apologises politely" in request["messages"][0]["content"]
        assert "## Reference answer\nWe are sorry." in request["messages"][1]["content"]
    # A judge case with no judge to ask is refused before any request.
    done = gate.run("--rubric-file", str(rubric))
    assert done.returncode == 2 and "case tone is scored by a judge: give --judge-url" in done.stderr


def test_a_candidate_that_does_not_answer_fails_closed_and_at_once(gate):
    gate.incumbent.script = answers()
    gate.candidate.modes[MODEL] = "503"
    done = gate.run("--concurrency", "1")
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1] == (
        f"eval gate FAILED: case capital: the candidate did not answer: {gate.candidate.url}: HTTP 503 (after 2 attempts)")
    # One case's two attempts, then nothing more: the rest of the set is not run.
    assert (len(gate.candidate.seen), len(gate.incumbent.seen)) == (2, 0)
    assert [c["incumbent"]["error"] for c in gate.report()["cases"]] == ["not run: the gate had already failed"] * 4


@pytest.mark.parametrize(("content", "problems"), [
    ("", ["no cases (an empty set would pass any model)"]),
    ("\n  \n", ["no cases (an empty set would pass any model)"]),
    ('{"prompt": "a", "scorer": "exact", "expected": "b"}\nnot json\n\n{"prompt": "c", "scorer": "regex"}\n'
     '{"prompt": "a", "scorer": "exact", "expected": "b", "id": "line-1"}\n',
     [":2: not JSON: Expecting value (column 1)", ":4: scorer regex needs `pattern`", ":5: id 'line-1' repeats line 1"]),
])
def test_an_empty_or_malformed_golden_set_is_refused_line_by_line(gate, content, problems):
    gate.golden.write_text(content)
    done = gate.run()
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == len(problems) and all(p in line for p, line in zip(problems, lines, strict=True)), lines
    assert gate.candidate.seen == [] and not (gate.tmp / "report.json").exists()


def test_bad_arguments_exit_2_with_one_line(gate, tmp_path):
    done = gate.run(min_score="1.2")
    assert done.returncode == 2 and "argument --min-score: 1.2 is outside [0, 1]" in done.stderr
    gate.golden = tmp_path / "absent.jsonl"
    done = gate.run()
    assert done.returncode == 2 and done.stderr.strip().endswith("absent.jsonl: not found")


def test_a_report_url_ending_in_a_slash_gets_the_revision_and_time(gate, tmp_path):
    gate.candidate.script = gate.incumbent.script = answers()
    reports = tmp_path / "evals" / MODEL / "reports"
    done = gate.run(report=reports.as_uri() + "/")
    assert done.returncode == 0, done.stderr
    (written,) = reports.iterdir()
    assert re.fullmatch(rf"{CANDIDATE}-[0-9]{{8}}T[0-9]{{6}}Z\.json", written.name)
    assert f"report: {reports.as_uri()}/{written.name}" in done.stdout
    assert json.loads(written.read_text())["verdict"] == "pass"


def test_the_golden_set_and_the_report_live_in_a_bucket(gate):
    """The store's fsspec URL as the pods get it (s3:// through s3fs, in the lifecycle venv)
    against moto's S3 server on loopback."""
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint, creds = f"http://{host}:{port}", {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **creds)
        s3.create_bucket(Bucket="artifacts")
        s3.put_object(Bucket="artifacts", Key=f"evals/{MODEL}/golden.jsonl", Body=gate.golden.read_bytes())
        gate.candidate.script = gate.incumbent.script = answers("order")
        # fsspec reads FSSPEC_<PROTOCOL> as the filesystem's keyword arguments (fsspec/config.py).
        env = {"FSSPEC_S3": json.dumps({"endpoint_url": endpoint, "key": "test", "secret": "test"}),
               "AWS_DEFAULT_REGION": "us-east-1"}
        done = gate.run(golden=f"s3://artifacts/evals/{MODEL}/golden.jsonl",
                        report=f"s3://artifacts/evals/{MODEL}/reports/", min_score="0.75", env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        (key,) = [o["Key"] for o in s3.list_objects_v2(Bucket="artifacts", Prefix=f"evals/{MODEL}/reports/")["Contents"]]
        report = json.loads(s3.get_object(Bucket="artifacts", Key=key)["Body"].read())
        assert report["means"] == {"candidate": 0.75, "incumbent": 0.75}
        assert report["golden"]["sha256"] == hashlib.sha256(gate.golden.read_bytes()).hexdigest()
    finally:
        server.stop()


# compare: 40 prompts; stable refuses the 4 that end in 0 (0.100).
PROMPTS = [f"question {i}" for i in range(40)]
REFUSAL = "I'm sorry, but I can't help with that."


def refusing(*indices: int) -> dict[str, str]:
    return {p: REFUSAL if i in indices else f"Here is how: {p}" for i, p in enumerate(PROMPTS)}


@pytest.mark.parametrize(("canary_refuses", "extra", "code", "rates"), [
    # 6 of 40 = 0.150: up 0.050 > 0.03.
    ((0, 10, 20, 30, 5, 15), (), 1, "canary 0.150 (6 of 40), stable 0.100 (4 of 40); increase +0.050"),
    # Near miss: 5 of 40 = 0.125, up 0.025.
    ((0, 10, 20, 30, 5), (), 0, "canary 0.125 (5 of 40), stable 0.100 (4 of 40); increase +0.025"),
    # Exactly at the threshold, 4 of 10 against 1 of 10 (0.4 - 0.1 is 0.30000000000000004 in
    # floats): not "more than".
    ((0, 1, 2, 3), ("--sample", "10", "--max-increase", "0.3"), 0,
     "canary 0.400 (4 of 10), stable 0.100 (1 of 10); increase +0.300, max 0.300"),
    # The first 10 prompts only: the canary's extra refusals come later, 1 of 10 each.
    ((0, 10, 20, 30, 15, 25, 35), ("--sample", "10"), 0, "canary 0.100 (1 of 10), stable 0.100 (1 of 10)"),
])
def test_compare_fires_on_a_canary_that_refuses_more_and_not_on_a_near_miss(tmp_path, canary_refuses, extra, code, rates):
    lifecycle_python()
    golden = write_golden(tmp_path / "golden.jsonl", [{"prompt": p, "scorer": "exact", "expected": "x"} for p in PROMPTS])
    with serve_stub(Scripted("canary", script=refusing(*canary_refuses))) as canary, \
            serve_stub(Scripted("stable", script=refusing(0, 10, 20, 30))) as stable:
        done = run("compare", "--model", MODEL, "--canary-url", canary.url, "--stable-url", stable.url,
                   "--golden", str(golden), "--max-increase", "0.03", "--timeout", "5", *extra)
        assert len(canary.seen) == len(stable.seen) == (10 if "--sample" in extra else 40)
    assert done.returncode == code, done.stdout + done.stderr
    assert rates in done.stdout
    assert ("refusal comparison FAILED: the canary refuses 0.050 more often" in done.stdout) == (code == 1)


def test_compare_refuses_an_empty_golden_set(tmp_path):
    lifecycle_python()
    golden = write_golden(tmp_path / "golden.jsonl", [])
    done = run("compare", "--model", MODEL, "--canary-url", "http://127.0.0.1:9/v1", "--stable-url",
               "http://127.0.0.1:9/v1", "--golden", golden.as_uri())
    assert done.returncode == 2 and "no cases" in done.stderr



def test_the_rule_holds_at_its_boundaries_despite_float_rounding():
    # 3 of 5 against 4 of 5 with max_regression 0.2: 0.8 - 0.2 is 0.6000000000000001 in floats,
    # yet the candidate is exactly 0.2 worse, which the rule allows.
    candidate, incumbent = mean([1.0, 1.0, 1.0, 0.0, 0.0]), mean([1.0, 1.0, 1.0, 1.0, 0.0])
    assert verdict({"candidate": candidate, "incumbent": incumbent}, [], 0.6, 0.2) == (True, [])
    passed, reasons = verdict({"candidate": candidate, "incumbent": incumbent}, [], 0.61, 0.19)
    assert not passed and len(reasons) == 2
    assert verdict({"candidate": 1.0, "incumbent": 1.0}, ["case x: the judge did not answer"], 0.0, 1.0) == (
        False, ["case x: the judge did not answer"])
