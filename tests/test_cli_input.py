"""Hostile input to the CLI: messages print as text (never Rich markup), echoed values are
cut and secrets never echoed, files we cannot read or write are one `error:` line, and fuzzed
`size` arguments and policy config files never reach a traceback.

LLM_PLATFORM_FUZZ=slow runs the fuzz tests with many more examples.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import CLI, ROOT, run_cli, stack_spec, write_stack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components import catalog
from components.cli import main
from components.plan.policy import Analyzer, PolicyConfigError, read_config

SLOW = os.environ.get("LLM_PLATFORM_FUZZ") == "slow"
LOCAL_TEXT = (ROOT / "stacks" / "Pulumi.local.yaml").read_text()
MARKUP = ["[/red]", "[bold]x[/bold]", "[link=http://x]y", ":smile:", "\x1b[31mred", "a\nb", "[/]"]


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """The console script in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as done:
        main(list(args))
    captured = capsys.readouterr()
    return done.value.code, captured.out, captured.err


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def only_error_lines(code: int, stderr: str) -> list[str]:
    """Exit 2 with nothing on stderr but `error:` lines, at least one."""
    assert code == 2, stderr
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert lines and lines == errors(stderr), stderr
    return lines


def plan(capsys, project: Path, stack: str, *extra: str) -> tuple[int, str, str]:
    return cli(capsys, "plan", "--stack", stack, "--project", str(project), *extra)


# --- 1. messages are text, never markup ---


def test_dns_label_pattern_prints_with_its_brackets(capsys, scratch_project):
    raw = stack_spec("local")
    raw["gpu_pools"][0]["name"] = "Bad_Name"
    write_stack(scratch_project, "s", raw)
    code, _, stderr = plan(capsys, scratch_project, "s", "--no-policy")
    assert only_error_lines(code, stderr) == [
        "error: llm-platform:spec.gpu_pools[0].name: String should match pattern "
        "'^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$' (got 'Bad_Name')"
    ]


def test_hint_keeps_the_bracketed_address(capsys, scratch_project):
    raw = stack_spec("aws")
    del raw["budget"]["notify_emails"]
    write_stack(scratch_project, "s", raw)
    code, _, stderr = plan(capsys, scratch_project, "s", "--no-policy")
    assert "for example [finops@example.com]" in "\n".join(only_error_lines(code, stderr))


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("tag", "llm-platform:spec.tags.team: String should match pattern"),
        ("key", "llm-platform:spec.tags['[/red]']: unknown field; allowed here: cost_center"),
    ],
)
def test_markup_in_a_tag_or_a_key_is_printed_literally(capsys, scratch_project, where, expected):
    raw = stack_spec("local")
    if where == "tag":
        raw["tags"]["team"] = "[/red]"
    else:
        raw["tags"]["[/red]"] = "x"
    write_stack(scratch_project, "s", raw)
    code, _, stderr = plan(capsys, scratch_project, "s", "--no-policy")
    (line,) = only_error_lines(code, stderr)
    assert expected in line and "[/red]" in line


def test_markup_in_stack_and_size_model_is_printed_literally(capsys, scratch_project):
    write_stack(scratch_project, "local", stack_spec("local"))
    code, _, stderr = plan(capsys, scratch_project, "[/red]")
    assert only_error_lines(code, stderr) == [
        "error: stack '[/red]': no file stacks/Pulumi.[/red].yaml; stacks: local"
    ]
    code, _, stderr = cli(capsys, "size", "--model", "[/red]", "--gpu", "L40S")
    assert only_error_lines(code, stderr) == ["error: --model: unknown model '[/red]'"]


def test_markup_in_a_free_text_field_prints_literally_in_the_plan(scratch_project, tmp_path):
    raw = stack_spec("local")
    raw["models"][0]["hosted_api"]["name"] = "[/red] :smile: [bold]x\x1b[2J"
    write_stack(scratch_project, "s", raw)
    proc = subprocess.run(
        [*CLI, "plan", "--stack", "s", "--project", str(scratch_project), "--no-policy",
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "COLUMNS": "220"},  # Rich's width: the table cell stays on one line
    )  # fmt: skip
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    # The escape sequence that would clear the screen is shown, not sent.
    assert "([/red] :smile: [bold]x\\x1b[2J)" in proc.stdout, proc.stdout[-1500:]
    assert "\x1b" not in proc.stdout


def test_a_five_megabyte_value_is_cut(capsys, scratch_project):
    # Written as text: PyYAML's pure-Python dumper takes seconds over 10 MB.
    text = LOCAL_TEXT.replace("team: ml-platform", f"team: {'x' * 5_000_000}")
    text = text.replace("gpu: L40S", f"gpu: {'y' * 5_000_000}")
    (scratch_project / "stacks" / "Pulumi.s.yaml").write_text(text)
    code, _, stderr = plan(capsys, scratch_project, "s", "--no-policy")
    lines = only_error_lines(code, stderr)
    assert len(lines) == 2 and all(len(line) < 400 for line in lines), [len(x) for x in lines]
    # The repr's first 80 characters: the quote and 79 x's.
    assert f"(got '{'x' * 79}... (5000000 characters))" in lines[1] + lines[0]
    assert f"unknown GPU '{'y' * 79}... (5000000 characters)" in lines[0] + lines[1]


def test_a_long_gcp_zone_is_cut(capsys, scratch_project):
    raw = stack_spec("gcp")
    raw["gcp"]["zones"] = ["z" * 1_000_000]
    write_stack(scratch_project, "s", raw)
    code, _, stderr = plan(capsys, scratch_project, "s", "--no-policy")
    lines = only_error_lines(code, stderr)
    assert all(len(line) < 200 for line in lines), [len(x) for x in lines]
    assert any("zzzz... (1000000 characters)" in line for line in lines), lines


def test_a_credential_pasted_into_a_secret_field_is_not_echoed(capsys, scratch_project):
    token = "xoxb-1234567890-ABCDEFghijkl/mnop+qrst"
    raw = stack_spec("local")
    raw["observability"]["alerting"]["ticket"]["secret"] = token
    raw["models"][0]["hf_token_secret"]["key"] = "hf_AbCdEf0123456789/=="
    write_stack(scratch_project, "s", raw)
    code, stdout, stderr = plan(capsys, scratch_project, "s", "--no-policy")
    lines = only_error_lines(code, stderr)
    assert token not in stdout + stderr and "hf_AbCdEf" not in stdout + stderr
    assert any(
        line.startswith("error: llm-platform:spec.observability.alerting.ticket.secret: ")
        and "value not shown" in line
        for line in lines
    ), lines


def test_a_bad_option_is_one_error_line(capsys):
    code, _, stderr = cli(capsys, "size", "--model", "[/red]", "--gpu", "L4", "--tensor-parallel", "0")
    assert only_error_lines(code, stderr) == [
        "error: Invalid value for '--tensor-parallel': Input should be greater than or equal to 1"
    ]


def test_markup_never_reaches_a_traceback_in_a_subprocess(scratch_project):
    raw = stack_spec("local")
    raw["tags"]["[/red]"] = "[/red]"
    write_stack(scratch_project, "s", raw)
    proc = run_cli("plan", "--stack", "s", "--project", str(scratch_project))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "tags['[/red]']: unknown field" in proc.stderr
    proc = run_cli("size", "--model", "[/red]", "--gpu", "[bold]")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert errors(proc.stderr)[1].startswith("error: --gpu: unknown GPU '[bold]'; allowed: ")


# --- 2. files we cannot read or write ---


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "latin1",
            LOCAL_TEXT.replace("ml-platform", "ml-plätform").encode("latin-1"),
            r"stacks/Pulumi\.s\.yaml: not UTF-8 text \(byte \d+\)",
        ),
        (
            "deep",
            ("config:\n  llm-platform:spec: " + "[" * 5000 + "]" * 5000 + "\n").encode(),
            r"stacks/Pulumi\.s\.yaml(:\d+: not valid YAML \(.*nesting depth| nests deeper).*",
        ),
        (
            "deep-40",
            ("config:\n  llm-platform:spec: " + "[" * 40 + "]" * 40 + "\n").encode(),
            r"stacks/Pulumi\.s\.yaml: nests deeper than 32 levels",
        ),
        (
            "binary",
            LOCAL_TEXT.replace("team: ml-platform", "team: !!binary aGVsbG8=").encode(),
            r"stacks/Pulumi\.s\.yaml:9: not valid YAML \(tagged value !!binary is not plain data",
        ),
        (
            "set",
            LOCAL_TEXT.replace("team: ml-platform", "team: !!set {a: null}").encode(),
            r"stacks/Pulumi\.s\.yaml:9: not valid YAML \(tagged value !!set is not plain data",
        ),
        (
            "duplicate",
            LOCAL_TEXT.replace("owner: platform-oncall\n", "owner: a\n      owner: b\n").encode(),
            r"stacks/Pulumi\.s\.yaml:13: not valid YAML \(duplicate key 'owner' "
            r"\(first on line 12, again on line 13\)\)",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 12 else "",
)
def test_stack_file_we_cannot_read_is_one_error_line(
    capsys, scratch_project, name, content, expected
):
    (scratch_project / "stacks" / "Pulumi.s.yaml").write_bytes(content)
    code, _, stderr = plan(capsys, scratch_project, "s", "--no-policy")
    (line,) = only_error_lines(code, stderr)
    assert re.fullmatch(f"error: {expected}.*", line), line
    assert not (scratch_project / "out").exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"gpu-allowlist": {"allowedGpus": ["L4ä"]}}'.encode("latin-1"), "not UTF-8 text (byte 38)"),
        (('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}").encode(), "nests deeper than 32 levels"),
        # Parsed by json, then too deep for protobuf's Struct on the way to the pack.
        (
            ('{"monthly-cost-cap": {"maxMonthlyUsd": ' + "[" * 900 + "]" * 900 + "}}").encode(),
            "nests deeper than 32 levels",
        ),
        (b'{"monthly-cost-cap": {"maxMonthlyUsd": NaN}}', "not valid JSON (NaN is not a JSON number)"),
        (b'{"monthly-cost-cap": {"maxMonthlyUsd": -Infinity}}', "(-Infinity is not a JSON number)"),
        (b'{"monthly-cost-cap": {"maxMonthlyUsd": 1e400}}', "(1e400 is out of range for a double)"),
        (
            b'{"monthly-cost-cap": {"maxMonthlyUsd": 1' + b"0" * 5000 + b"}}",
            "(10000000000000000000... (5001 digits) is out of range (integers up to 2^53))",
        ),
        (b'{"bounded-scaling": {"maxReplicas": 9007199254740993}}', "is out of range"),
        (
            b'{"gpu-allowlist": "mandatory", "gpu-allowlist": "disabled"}',
            "not valid JSON (duplicate key 'gpu-allowlist' in one object)",
        ),
    ],
    ids=[
        "latin1", "deep-recursion", "deep-900", "nan", "infinity", "1e400", "5000-digits",
        "2^53+1", "duplicate",
    ],  # fmt: skip
)
def test_policy_config_we_cannot_read_is_one_error_line(capsys, tmp_path, content, expected):
    config = tmp_path / "config.json"
    config.write_bytes(content)
    code, _, stderr = cli(
        capsys, "plan", "--stack", "local", "--project", str(ROOT),
        "--policy-config", str(config), "--out", str(tmp_path / "o"),
    )  # fmt: skip
    (line,) = only_error_lines(code, stderr)
    assert line.startswith(f"error: {config}: ") and expected in line, line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("level", [None, ["mandatory"], 3], ids=["null", "list", "number"])
def test_policy_config_level_of_the_wrong_type_is_one_error_line(capsys, tmp_path, level):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"gpu-allowlist": {"enforcementLevel": level}}))
    code, _, stderr = cli(
        capsys, "plan", "--stack", "local", "--project", str(ROOT),
        "--policy-config", str(config), "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert only_error_lines(code, stderr) == [
        f"error: {config}: gpu-allowlist.enforcementLevel: must be one of advisory, mandatory, "
        f"disabled, remediate (got {level!r})"
    ]


def test_an_unquoted_date_in_a_stack_file_stays_the_string_written(tmp_path):
    from components.input_files import read_yaml
    from components.spec import load_spec

    path = tmp_path / "Pulumi.azure.yaml"
    text = (ROOT / "stacks" / "Pulumi.azure.yaml").read_text()
    path.write_text(text.replace('budget_start: "2026-12-01"', "budget_start: 2026-12-01"))
    raw = read_yaml(path, "azure")["config"]["llm-platform:spec"]
    assert raw["azure"]["budget_start"] == "2026-12-01"
    assert load_spec(raw).spec.azure.budget_start == "2026-12-01"


def test_plain_policy_config_still_reads(tmp_path):
    config = tmp_path / "c.json"
    config.write_text('{"monthly-cost-cap": {"maxMonthlyUsd": 2500.5}, "all": "advisory"}')
    assert read_config(config) == {"monthly-cost-cap": {"maxMonthlyUsd": 2500.5}, "all": "advisory"}


@pytest.mark.parametrize("kind", ["file", "under-a-file", "read-only"])
def test_out_we_cannot_write_is_one_error_line_before_anything_runs(capsys, tmp_path, kind):
    (tmp_path / "afile").write_text("keep")
    target = {
        "file": tmp_path / "afile",
        "under-a-file": tmp_path / "afile" / "sub",
        # sysfs refuses new entries even to root, for whom permission bits do not apply.
        "read-only": Path("/sys/llm-platform-out"),
    }[kind]
    code, _, stderr = cli(
        capsys, "plan", "--stack", "local", "--project", str(ROOT), "--out", str(target)
    )
    (line,) = only_error_lines(code, stderr)
    assert line.startswith(f"error: --out {target}: "), line
    assert {
        "file": "is a file, not a directory",
        "under-a-file": f"is under the file {tmp_path / 'afile'}, not a directory",
        "read-only": "cannot write in /sys (",
    }[kind] in line
    assert (tmp_path / "afile").read_text() == "keep"


def test_unreadable_files_never_reach_a_traceback_in_a_subprocess(scratch_project, tmp_path):
    (scratch_project / "stacks" / "Pulumi.s.yaml").write_text(
        LOCAL_TEXT.replace("owner: platform-oncall\n", "owner: a\n      owner: b\n")
    )
    proc = run_cli("plan", "--stack", "s", "--project", str(scratch_project))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(errors(proc.stderr)) == 1 and "duplicate key 'owner'" in proc.stderr
    config = tmp_path / "c.json"
    config.write_text('{"monthly-cost-cap": {"maxMonthlyUsd": NaN}}')
    proc = run_cli("plan", "--stack", "local", "--policy-config", str(config),
                   "--out", str(tmp_path / "o"))  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert errors(proc.stderr) == [f"error: {config}: not valid JSON (NaN is not a JSON number)"]
    proc = run_cli("plan", "--stack", "local", "--out", str(config))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert errors(proc.stderr) == [f"error: --out {config}: is a file, not a directory"]


# --- 6. fuzz: `size` arguments and policy config files ---

# Text a user or a script could pass, with markup and control characters mixed in.
hostile_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=24
) | st.sampled_from(MARKUP)
numbers = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "0x10", "1_000", " 8", ""]),
)


@st.composite
def size_args(draw) -> list[str]:
    models = sorted(catalog.models())
    gpus = sorted(catalog.gpus())
    args = [
        "size",
        "--model",
        draw(st.sampled_from(models) | hostile_text),
        "--gpu",
        draw(st.sampled_from(gpus) | hostile_text),
    ]
    options = {
        "--tensor-parallel": st.integers(-2, 80).map(str) | numbers,
        "--gpu-memory-utilization": st.floats(0, 1.2).map(str) | numbers,
        "--max-model-len": st.integers(0, 2**40).map(str) | numbers,
        "--kv-cache-dtype": st.sampled_from(["auto", "fp8"]) | hostile_text,
        "--quantization": st.sampled_from(["fp8", "awq", "gptq"]) | hostile_text,
        "--max-num-seqs": st.integers(-1, 10**6).map(str) | numbers,
        "--max-num-batched-tokens": st.integers(-1, 10**7).map(str) | numbers,
    }
    for flag in draw(st.lists(st.sampled_from(sorted(options)), unique=True, max_size=4)):
        args += [flag, draw(options[flag])]
    return args + draw(st.sampled_from([[], ["--json"]]))


def check_size_outcome(code: int, stdout: str, stderr: str) -> None:
    assert "Traceback" not in stdout + stderr
    assert code in (0, 1, 2), (code, stderr)
    lines = stderr.splitlines()
    if code == 0:
        assert not lines, stderr
    elif code == 1:
        assert len(lines) == 1 and lines[0].startswith("does not fit: "), stderr
    else:
        assert lines and lines == errors(stderr), stderr


@settings(
    max_examples=1000 if SLOW else 60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(args=size_args())
def test_fuzzed_size_arguments(capsys, args):
    check_size_outcome(*cli(capsys, *args))


def test_fuzzed_size_arguments_in_a_subprocess():
    """The same contract with a real interpreter, so nothing escapes to stderr unseen."""
    for args in (
        ["size", "--model", "\x1b[31m[/red]", "--gpu", "L4", "--tensor-parallel", "nan"],
        ["size", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "L4",
         "--gpu-memory-utilization", "nan"],
        ["size", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "L4",
         "--max-model-len", str(10**30), "--json"],
    ):  # fmt: skip
        proc = run_cli(*args)
        check_size_outcome(proc.returncode, proc.stdout, proc.stderr)


json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
)
json_docs = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["all", "monthly-cost-cap", "bounded-scaling",
                                       "gpu-allowlist", "enforcementLevel", "maxMonthlyUsd",
                                       "maxReplicas", "allowedGpus"]) | hostile_text,
                      inner, max_size=3),
    max_leaves=8,
)  # fmt: skip


def config_bytes(doc, depth: int, garbage: bytes) -> bytes:
    text = json.dumps(doc, allow_nan=True)  # writes NaN and Infinity as Python does
    return ("[" * depth + text + "]" * depth).encode() + garbage


@pytest.fixture(scope="module")
def pack():
    with Analyzer(ROOT / "policies") as analyzer:
        yield analyzer


@settings(
    max_examples=800 if SLOW else 60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    doc=st.dictionaries(st.sampled_from(["monthly-cost-cap", "bounded-scaling", "all"])
                        | hostile_text, json_docs, max_size=3) | json_docs,
    depth=st.sampled_from([0, 0, 0, 31, 40, 3000]),
    garbage=st.sampled_from([b"", b"", b"\xff\xfe", b" // x"]),
)  # fmt: skip
def test_fuzzed_policy_config_file(tmp_path_factory, pack, doc, depth, garbage):
    """Reading the file and configuring the real pack with it, as the plan does: either a
    config the pack accepts, or problems that each name the file or the policy config."""
    path = tmp_path_factory.mktemp("cfg") / "config.json"
    path.write_bytes(config_bytes(doc, depth, garbage))
    try:
        pack.configure(read_config(path))
    except PolicyConfigError as exc:
        assert exc.problems
        for line in exc.problems:
            assert line.startswith((f"{path}:", "policy config: ")), line
            assert "\n" not in line and len(line) < 2000, line


def test_fuzzed_policy_config_in_a_subprocess(tmp_path):
    config = tmp_path / "c.json"
    config.write_bytes(config_bytes({"[/red]": {"x": float("inf")}}, 0, b""))
    proc = run_cli("plan", "--stack", "local", "--policy-config", str(config),
                   "--out", str(tmp_path / "o"))  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert errors(proc.stderr) == [
        f"error: {config}: not valid JSON (Infinity is not a JSON number)"
    ]


def test_markup_in_policy_config_names_prints_literally(capsys, tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"[/red]": "mandatory", "monthly-cost-cap": "[bold]"}))
    code, _, stderr = cli(
        capsys, "plan", "--stack", "local", "--project", str(ROOT),
        "--policy-config", str(config), "--out", str(tmp_path / "o"),
    )  # fmt: skip
    (line,) = only_error_lines(code, stderr)
    assert line == (
        f"error: {config}: monthly-cost-cap.enforcementLevel: must be one of advisory, "
        "mandatory, disabled, remediate (got '[bold]')"
    )

