"""The pull-request review (.github/scripts/review-comment.py): the golden files a change
rewrote, the `pulumi preview` read from a file and cut to fit a GitHub comment, a failed
preview's error and violations, and why a stack has no preview."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

SCRIPT = [sys.executable, str(ROOT / ".github" / "scripts" / "review-comment.py")]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})


def _write(repo: Path, files: dict[str, str | None]) -> None:
    for rel, text in files.items():
        path = repo / rel
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


def _plan_output(directory: Path) -> Path:
    """The two files the comment reads from a plan, for a stack that passed at $100/month."""
    directory.mkdir()
    (directory / "policy.json").write_text(json.dumps({
        "pack": "llm-platform", "passed": True, "policies": ["p"], "config": {},
        "counts": {"mandatory": 0, "advisory": 0}, "violations": []}))
    (directory / "cost.json").write_text(json.dumps({
        "monthly_usd": 100.0, "budget_used_pct": 10.0, "budget_monthly_usd": 1000,
        "resources": [{"name": "gpu", "basis": "1 GPU-hour", "monthly_usd": 100.0}]}))
    return directory


def _comment(repo: Path, out: Path, base: str | None) -> str:
    args = ["--base", base] if base else []
    return subprocess.run([*SCRIPT, "aws", str(out), "--reason", "no-org", *args], cwd=repo,
                          capture_output=True, text=True, check=True).stdout


def test_review_comment_lists_the_golden_files_the_change_rewrote(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _write(repo, {"tests/golden/aws/cost.json": "{}\n",
                  "tests/golden/aws/manifests/service-a.yaml": "kind: Service\n",
                  "tests/golden/gcp/cost.json": "{}\n",
                  "components/sizing.py": "X = 1\n"})
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    _git(repo, "checkout", "-q", "-b", "change")
    out = _plan_output(tmp_path / "out")

    assert "none changed under `tests/golden/aws/`" in _comment(repo, out, "main")

    # A change to aws's rendering: one file edited, one gone, one new; gcp's is not aws's news.
    _write(repo, {"tests/golden/aws/cost.json": '{"monthly_usd": 100}\n',
                  "tests/golden/aws/manifests/service-a.yaml": None,
                  "tests/golden/aws/helm/prometheus-adapter.yaml": "rules: {}\n",
                  "tests/golden/gcp/cost.json": '{"monthly_usd": 1}\n',
                  "components/sizing.py": "X = 2\n"})
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "change")
    text = _comment(repo, out, "main")
    listed = [line for line in text.splitlines() if line.startswith("- ")]
    assert listed == ["- changed `cost.json`",
                      "- added `helm/prometheus-adapter.yaml`",
                      "- removed `manifests/service-a.yaml`"]
    assert "**Golden files**: 3 changed under `tests/golden/aws/`" in text
    assert "**Estimated cost**: $100.00/month" in text  # the rest of the comment is still there

    # Run outside a pull request (no base), the comment has no golden section at all.
    assert "Golden files" not in _comment(repo, out, None)


def test_review_comment_fails_loudly_when_the_base_is_unknown(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _write(repo, {"README.md": "x\n"})
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    out = _plan_output(tmp_path / "out")
    # A shallow checkout has no such ref.
    proc = subprocess.run([*SCRIPT, "aws", str(out), "--reason", "no-org", "--base", "origin/main"],
                          cwd=repo, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "git diff against origin/main failed" in proc.stderr


# GitHub's limit on a comment body ("Body is too long (maximum is 65536 characters)").
GITHUB_LIMIT = 65_536


def _review(out: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*SCRIPT, "aws", str(out), *args], cwd=cwd, capture_output=True,
                          text=True)


def _fenced_block(text: str, opening: str) -> str:
    """The content of the first code block after the first line starting with `opening`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(opening))
    fence = next(line for line in lines[start:] if line.startswith("```"))
    first = lines.index(fence, start) + 1
    return "\n".join(lines[first:lines.index(fence, first)])


def test_a_preview_over_128_kib_comes_from_a_file_and_is_cut_to_fit(tmp_path: Path):
    out = _plan_output(tmp_path / "out")
    rows = [f"    + kubernetes:core/v1:ConfigMap cm-{i:05d} create" for i in range(5000)]
    text = "\n".join(["Previewing update (acme/aws):", *rows, "Resources:",
                      "    + 5000 to create", ""])
    assert len(text.encode()) > 128 * 1024
    preview = tmp_path / "preview.txt"
    preview.write_text(text)

    # The way of today's main: the text in an environment variable. Linux refuses one string
    # over 128 KiB in a new process's environment, so the script never starts.
    try:
        subprocess.run([*SCRIPT, "aws", str(out)], env={**os.environ, "PREVIEW": text},
                       capture_output=True)
    except OSError as exc:
        assert "Argument list too long" in str(exc)
    else:
        raise AssertionError("an environment variable over 128 KiB was accepted")

    proc = _review(out, "--preview", str(preview), "--preview-exit", "0")
    assert proc.returncode == 0, proc.stderr
    body = proc.stdout
    assert len(body.encode("utf-16-le")) // 2 < GITHUB_LIMIT
    kept = _fenced_block(body, "<details><summary>pulumi preview")
    # Cut from the front at a line start: the summary at the end stays, the first rows go.
    assert text.rstrip("\n").endswith(kept) and kept.endswith("    + 5000 to create")
    assert text[len(text.rstrip("\n")) - len(kept) - 1] == "\n"
    assert "cm-00000 create" not in body and "cm-04999 create" in body
    # The kept text ends with the file's last newline, which the code block does not show.
    assert f"<summary>pulumi preview, the last {len(kept) + 1:,} of {len(text):,} characters" \
        in body
    assert "**Estimated cost**: $100.00/month" in body  # the plan's part is all there


def test_characters_outside_the_bmp_count_twice_against_the_limit(tmp_path: Path):
    out = _plan_output(tmp_path / "out")
    preview = tmp_path / "preview.txt"
    # 40,000 characters, 80,000 UTF-16 units: under the limit by characters, over it by units.
    preview.write_text("\N{ROCKET}" * 39_999 + "\n")
    body = _review(out, "--preview", str(preview)).stdout
    assert len(body.encode("utf-16-le")) // 2 < GITHUB_LIMIT


FAILED_PREVIEW = """\
Previewing update (acme/aws):
    + pulumi:pulumi:Stack llm-platform-aws create
    + aws:eks/cluster:Cluster gpu create
Policies:
    ❌ llm-platform@v0.1.0 (local: policies)
        - [mandatory]  gpu-spot-only  (aws:eks/nodeGroup:NodeGroup: gpu-a100)
          on-demand GPU capacity over the cap: 8 x p4d.24xlarge
        - [advisory]  cost-tags  (aws:s3/bucket:Bucket: models)
          missing tag team
Diagnostics:
  pulumi:pulumi:Stack (llm-platform-aws):
    error: preview failed

Resources:
    + 2 to create
"""


def test_a_failed_preview_shows_its_error_and_violations(tmp_path: Path):
    out = _plan_output(tmp_path / "out")
    preview = tmp_path / "preview.txt"
    preview.write_text(FAILED_PREVIEW)
    body = _review(out, "--preview", str(preview), "--preview-exit", "255").stdout
    assert "no token" not in body.lower() and "PULUMI_ACCESS_TOKEN" not in body
    assert "**`pulumi preview` failed** (exit code 255):" in body
    causes = _fenced_block(body, "**`pulumi preview` failed** (exit code 255):")
    # Above the collapsed output: the Policies and Diagnostics sections, nothing else.
    lines = FAILED_PREVIEW.splitlines()
    assert causes.splitlines() == lines[3:12]
    assert "[mandatory]  gpu-spot-only" in causes and "error: preview failed" in causes
    assert body.index(causes) < body.index("<details>")
    # The whole output is still there, collapsed, uncut.
    assert "<details><summary>pulumi preview</summary>" in body
    assert FAILED_PREVIEW.rstrip("\n") in body


def test_a_preview_that_stopped_before_its_summary_shows_its_last_lines(tmp_path: Path):
    out = _plan_output(tmp_path / "out")
    preview = tmp_path / "preview.txt"
    preview.write_text("".join(f"line {i}\n" for i in range(30)) + "error: no credentials\n")
    body = _review(out, "--preview", str(preview), "--preview-exit", "1").stdout
    causes = _fenced_block(body, "**`pulumi preview` failed** (exit code 1):")
    assert causes.splitlines() == [f"line {i}" for i in range(11, 30)] + ["error: no credentials"]


def test_a_passed_preview_has_no_failure_section(tmp_path: Path):
    out = _plan_output(tmp_path / "out")
    preview = tmp_path / "preview.txt"
    preview.write_text("Resources:\n    + 2 to create\n")
    body = _review(out, "--preview", str(preview), "--preview-exit", "0").stdout
    assert "failed" not in body
    assert _fenced_block(body, "<details><summary>pulumi preview</summary>") == \
        "Resources:\n    + 2 to create"


def test_backticks_in_the_preview_cannot_close_its_code_block(tmp_path: Path):
    out = _plan_output(tmp_path / "out")
    preview = tmp_path / "preview.txt"
    preview.write_text("description: ```yaml\n    + 1 to create\n")
    body = _review(out, "--preview", str(preview)).stdout
    assert "\n````\ndescription: ```yaml\n    + 1 to create\n````\n" in body


def test_each_reason_for_no_preview_is_said(tmp_path: Path):
    out = _plan_output(tmp_path / "out")

    def said(*args: str) -> str:
        proc = _review(out, *args)
        assert proc.returncode == 0, proc.stderr
        line = proc.stdout.splitlines()[-1]
        assert line.startswith("_No `pulumi preview`: ")
        assert line.endswith(". The figures above are from the offline plan._")
        return line

    assert "`PULUMI_ORGANIZATION` is not set" in said("--reason", "no-org")
    # A fork's review goes to the job summary: the same text, which says why.
    fork = said("--reason", "fork")
    assert "comes from a fork" in fork and "no credentials" in fork
    missing = said("--reason", "no-stack", "--detail", "acme/aws")
    assert "stack `acme/aws` does not exist in the Pulumi backend yet" in missing
    assert "the deploy of the first merged change that touches `aws` creates it" in missing
    refusal = "stack aws: the EKS endpoint is private and ci.runner is empty"
    assert said("--reason", "refused", "--detail", refusal).endswith(
        f"CI cannot reach the cluster of `aws`: {refusal}. The figures above are from the "
        "offline plan._")
    assert "a step it needs failed (the Pulumi login" in said("--reason", "setup-failed")
    texts = {said("--reason", r) for r in ("no-org", "fork", "no-stack", "refused",
                                            "setup-failed")}
    assert len(texts) == 5


def test_bad_arguments_are_one_line_each(tmp_path: Path):
    out = _plan_output(tmp_path / "out")
    for args, problem in (
        (["--preview", str(tmp_path / "missing.txt")], "missing.txt: no such file"),
        ([], "give either --preview or --reason"),
        (["--reason", "no-org", "--preview", str(tmp_path / "out" / "cost.json")],
         "give either --preview or --reason"),
        (["--reason", "because"], "invalid choice: 'because'"),
    ):
        proc = _review(out, *args)
        assert proc.returncode == 2
        assert "Traceback" not in proc.stderr and problem in proc.stderr.splitlines()[-1]


def test_a_failed_plan_quotes_the_end_of_its_log_and_keeps_the_preview(tmp_path: Path):
    log = tmp_path / "plan.txt"
    log.write_text("x" * 100_000 + "\nerror: spec.models[0].gpu: unknown GPU\n")
    body = _review(tmp_path / "no-plan", "--plan-log", str(log), "--reason", "no-org").stdout
    assert body.startswith("### llm-platform: `aws`\n\nThe plan failed:")
    assert "unknown GPU" in body and len(body) < GITHUB_LIMIT
    # No figures to point at: the reason stands alone.
    assert body.endswith("does not log in to a Pulumi backend._\n")
    # A preview that ran despite the plan is still shown, and may say more.
    preview = tmp_path / "preview.txt"
    preview.write_text(FAILED_PREVIEW)
    body = _review(tmp_path / "no-plan", "--plan-log", str(log), "--preview", str(preview),
                   "--preview-exit", "255").stdout
    assert "unknown GPU" in body and "[mandatory]  gpu-spot-only" in body
    assert len(body.encode("utf-16-le")) // 2 < GITHUB_LIMIT


# --- Checkov over the cloud exports (--checkov, the counts scripts/checkov-exports writes)

def _checkov_report(path: Path, results: dict[str, tuple[int, int, int, list[tuple[str, str, str]]]]
                    ) -> Path:
    """A report as `scripts/checkov-exports --json` writes it: per export the counts and
    every failed check as (check id, resource, check name)."""
    path.write_text(json.dumps({
        key: {"passed": passed, "failed": failed, "skipped": skipped,
              "failures": [{"check": c, "resource": r, "name": n} for c, r, n in failures]}
        for key, (passed, failed, skipped, failures) in results.items()}))
    return path


LOG_GROUP = ("CKV_AWS_338", "aws_cloudwatch_log_group.aws-aws-cluster-logs",
             "Ensure CloudWatch log groups retains logs for at least 1 year")
STAR = ("CKV_AWS_355", "aws_iam_role_policy.aws-aws-cluster-autoscaler",
        "Ensure no IAM policies documents allow \"*\" as a statement's resource for restrictable "
        "actions")


def test_the_checkov_counts_and_failed_checks_are_in_the_comment(tmp_path: Path):
    out = _plan_output(tmp_path / "out")
    report = _checkov_report(tmp_path / "checkov.json",
                             {"aws/terraform-plan.json": (226, 2, 3, [LOG_GROUP, STAR])})
    proc = _review(out, "--checkov", str(report), "--reason", "no-org")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "**Checkov** over the cloud exports (with the skips they carry): **2 failed checks**." \
        in lines
    assert "| `aws/terraform-plan.json` | 226 | 2 | 3 |" in lines
    assert ("- `CKV_AWS_338` on `aws_cloudwatch_log_group.aws-aws-cluster-logs`: Ensure "
            "CloudWatch log groups retains logs for at least 1 year") in lines
    # The `*` of a check's name is text, not the start of emphasis.
    assert ("- `CKV_AWS_355` on `aws_iam_role_policy.aws-aws-cluster-autoscaler`: Ensure no IAM "
            "policies documents allow \"\\*\" as a statement's resource for restrictable actions"
            ) in lines
    # Between the plan's figures and the reason for no preview.
    body = proc.stdout
    assert body.index("**Estimated cost**") < body.index("**Checkov**") < body.index("_No `pulumi")


def test_two_exports_each_have_their_row_and_name_their_failures(tmp_path: Path):
    out = _plan_output(tmp_path / "out")
    report = _checkov_report(tmp_path / "checkov.json", {
        "hybrid/terraform-plan.json": (100, 0, 1, []),
        "hybrid/arm-template.json": (40, 1, 0, [("CKV_AZURE_1", "Microsoft.Compute/vm", "x")])})
    lines = _review(out, "--checkov", str(report), "--reason", "no-org").stdout.splitlines()
    assert "| `hybrid/terraform-plan.json` | 100 | 0 | 1 |" in lines
    assert "| `hybrid/arm-template.json` | 40 | 1 | 0 |" in lines
    assert "- `CKV_AZURE_1` on `Microsoft.Compute/vm` in `hybrid/arm-template.json`: x" in lines
    assert any(line.endswith(": **1 failed check**.") for line in lines)


def test_a_clean_scan_says_so_and_lists_nothing(tmp_path: Path):
    out = _plan_output(tmp_path / "out")
    report = _checkov_report(tmp_path / "checkov.json", {"gcp/terraform-plan.json": (90, 0, 4, [])})
    body = _review(out, "--checkov", str(report), "--reason", "no-org").stdout
    assert "(with the skips they carry): passed, no failed check." in body
    assert "| `gcp/terraform-plan.json` | 90 | 0 | 4 |" in body
    assert "- `CKV" not in body


def test_a_scan_that_did_not_run_is_not_shown_as_clean(tmp_path: Path):
    out = _plan_output(tmp_path / "out")
    # No --checkov (an on-prem stack has no export to scan): no section at all.
    assert "Checkov" not in _review(out, "--reason", "no-org").stdout
    missing = _review(out, "--checkov", str(tmp_path / "checkov.json"), "--reason", "no-org")
    assert missing.returncode == 0, missing.stderr
    assert ("**Checkov** over the cloud exports: **not run** (scripts/checkov-exports wrote no "
            "report; the scan step's log says why). The exports are unchecked, not clean."
            ) in missing.stdout.splitlines()
    for text, why in (("{", "its report is unreadable (JSONDecodeError)"),
                      ('{"aws/terraform-plan.json": {"passed": 1}}',
                       "its report is unreadable (KeyError)"),
                      ('[]', "its report is unreadable (not the counts of"),
                      ("{}", "its report names no export")):
        (tmp_path / "bad.json").write_text(text)
        body = _review(out, "--checkov", str(tmp_path / "bad.json"), "--reason", "no-org").stdout
        assert f"**not run** ({why}" in body and "passed" not in body.split("**Checkov**")[1]


def test_thousands_of_failed_checks_leave_the_preview_its_room(tmp_path: Path):
    out = _plan_output(tmp_path / "out")
    failures = [("CKV_AWS_18", f"aws_s3_bucket.bucket-{i:05d}-" + "x" * 400,
                 "Ensure the S3 bucket has access logging enabled") for i in range(3000)]
    report = _checkov_report(tmp_path / "checkov.json",
                             {"aws/terraform-plan.json": (5, 3000, 0, failures)})
    preview = tmp_path / "preview.txt"
    preview.write_text("".join(f"    + aws:s3/bucket:Bucket bucket-{i:05d} create\n"
                               for i in range(3000)) + "Resources:\n    + 3000 to create\n")
    body = _review(out, "--checkov", str(report), "--preview", str(preview)).stdout
    assert len(body.encode("utf-16-le")) // 2 < GITHUB_LIMIT
    section = body[body.index("**Checkov**"):body.index("<details>")]
    assert len(section) <= 8_000
    listed = [line for line in section.splitlines() if line.startswith("- `CKV_AWS_18`")]
    assert 0 < len(listed) < 30  # the size, not the count, stops it here
    assert f"- and {3000 - len(listed)} more failed checks (the scan step's log lists every one)" \
        in section
    # The preview keeps its end: the summary a reviewer reads first.
    assert "+ 3000 to create" in body and "**3000 failed checks**" in body
