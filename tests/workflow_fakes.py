"""Recorded fakes of the third-party actions the workflows use, for tests/workflow_harness.py.

Each takes the job, its `with:` values (strings) and the step's env, and returns (succeeded,
outputs, log). Each sets only the outputs and environment its action's action.yml and sources
document at the pinned tag (cited on each), and fails the way the action would when the job's
token cannot do what it needs: a fork's pull request gets a read-only token and no OIDC token.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from workflow_harness import HarnessError, Job, git

Fake = Callable[[Job, dict[str, str], dict[str, str]], tuple[bool, dict[str, str], str]]
# @actions/core getIDToken's error when the job has no `id-token: write`, as the login actions
# bundle it (aws-actions/configure-aws-credentials dist/index.js).
NO_OIDC = "Unable to get ACTIONS_ID_TOKEN_REQUEST_URL env variable"


def _has(job: Job, scope: str, level: str) -> bool:
    granted = job.run.permissions(job.job_id).get(scope, "none")
    return granted == "write" or (level == "read" and granted == "read")


def checkout(job: Job, given: dict[str, str], env: dict[str, str]) -> tuple[bool, dict[str, str], str]:
    """actions/checkout v7.0.1 (3d3c42e5aac5ba805825da76410c181273ba90b1), src/ref-helper.ts:
    fetch-depth 0 fetches every branch and tag plus the ref; otherwise only the ref at that
    depth (default 1). A pull_request run checks out refs/remotes/pull/<n>/merge detached."""
    if given.get("repository", "") not in ("", "${{ github.repository }}", job.run.fixture.path):
        raise HarnessError(f"checkout of another repository ({given['repository']}) is not simulated")
    ref, commit = given.get("ref") or job.run.event.ref, "" if given.get("ref") else job.run.event.sha
    dest = job.workspace / given.get("path", "")
    dest.mkdir(parents=True, exist_ok=True)
    git(dest, "init", "-q")
    git(dest, "remote", "add", "origin", f"file://{job.run.fixture.path}")
    depth = int(given.get("fetch-depth", "1") or "1")
    if depth <= 0:
        # Every branch is fetched, so every object is the fixture's: borrowing its object store
        # saves packing them again and changes nothing the job can see. A shallow fetch packs.
        (dest / ".git" / "objects" / "info" / "alternates").write_text(
            f"{job.run.fixture.path / '.git' / 'objects'}\n")
    kind, _, name = ref.removeprefix("refs/").partition("/")
    target = {"heads": f"refs/remotes/origin/{name}", "pull": f"refs/remotes/pull/{name}"}
    if depth <= 0:
        specs = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
        specs += [f"+{commit or ref}:{target['pull']}"] if kind == "pull" else []
    elif kind in target:
        specs = [f"+{commit or ref}:{target[kind]}"]
    else:
        specs = [commit or ref]
    git(dest, "-c", "protocol.version=2", "fetch", "--no-tags", "--prune", "-q",
        *([f"--depth={depth}"] if depth > 0 else []), "origin", *specs)
    if kind == "heads":
        git(dest, "checkout", "-q", "--force", "-B", name, target["heads"])
    else:
        git(dest, "checkout", "-q", "--force", target.get(kind, "FETCH_HEAD"))
    head = git(dest, "rev-parse", "HEAD")
    return True, {"ref": ref, "commit": head}, f"checked out {ref} at {head} (depth {depth})"


def setup_python(job: Job, given: dict[str, str], env: dict[str, str]) -> tuple[bool, dict[str, str], str]:
    """actions/setup-python v7.0.0: outputs python-version, cache-hit, python-path (action.yml);
    exports pythonLocation and puts the interpreter's bin directory on PATH (src/find-python.ts
    core.exportVariable, core.addPath). Here that interpreter is the one this machine's .venv
    was made from; nothing is installed."""
    real = Path(job.run.venv / "bin" / "python").resolve()
    bin_dir = job.temp / "tools" / "Python" / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in ("python", "python3"):
        if not (bin_dir / name).exists():
            (bin_dir / name).symlink_to(real)
    job.env["pythonLocation"] = str(bin_dir.parent)
    job.path.append(str(bin_dir))
    version = ".".join(map(str, sys.version_info[:3]))
    return True, {"python-version": version, "cache-hit": "false",
                  "python-path": str(bin_dir / "python")}, f"(fake) python {version}"


def cache(job: Job, given: dict[str, str], env: dict[str, str]) -> tuple[bool, dict[str, str], str]:
    """actions/cache action.yml output cache-hit: a first run, nothing restored."""
    return True, {"cache-hit": "false"}, f"(fake) cache miss for {given.get('key', '')}"


def upload_artifact(job: Job, given: dict[str, str], env: dict[str, str]) -> tuple[bool, dict[str, str], str]:
    """actions/upload-artifact v7.0.0 action.yml: outputs artifact-id, artifact-url,
    artifact-digest; if-no-files-found defaults to warn. The matched files are recorded."""
    files = sorted(str(p.relative_to(job.workspace)) for line in given.get("path", "").splitlines()
                   if line.strip() for p in job.workspace.glob(line.strip()) if p.is_file())
    job.calls[-1]["files"] = files
    if not files and given.get("if-no-files-found", "warn") == "error":
        return False, {}, f"::error::No files were found with the provided path: {given.get('path')}"
    return True, {"artifact-id": "1", "artifact-url": "https://example.invalid/artifact/1",
                  "artifact-digest": ""}, f"(fake) uploaded {len(files)} files"


def sticky_comment(job: Job, given: dict[str, str], env: dict[str, str]) -> tuple[bool, dict[str, str], str]:
    """marocchino/sticky-pull-request-comment: the comment it would post (from `message`, or
    the file at `path`) under `header`. Writing a comment needs pull-requests: write; a fork's
    token is read-only and the REST API answers 403 "Resource not accessible by integration"."""
    number = given.get("number") or str((job.run.event.payload.get("pull_request") or {}).get("number", ""))
    if not number:
        return False, {}, "::error::no pull request number"
    if not _has(job, "pull-requests", "write"):
        return False, {}, "::error::Resource not accessible by integration"
    text = given.get("message", "")
    if given.get("path"):
        text = (job.workspace / given["path"]).read_text()
    job.calls[-1].update(header=given.get("header", ""), text=text, number=number)
    return True, {"previous_comment_id": "", "created_comment_id": "1"}, "(fake) comment posted"


def oidc_login(exports: Callable[[dict[str, str]], dict[str, str]]) -> Fake:
    """A cloud login through GitHub's OIDC token: without `id-token: write` (or from a fork)
    the token request fails, as @actions/core getIDToken reports it."""
    def fake(job: Job, given: dict[str, str], env: dict[str, str]) -> tuple[bool, dict[str, str], str]:
        if job.run.event.is_fork or not _has(job, "id-token", "write"):
            return False, {}, f"::error::{NO_OIDC}"
        exported = exports(given)
        job.env.update(exported)
        return True, {}, f"(fake) logged in, exported {sorted(exported)}"
    return fake


def pulumi_auth(job: Job, given: dict[str, str], env: dict[str, str]) -> tuple[bool, dict[str, str], str]:
    """pulumi/auth-actions v2 action.yml: output pulumi-access-token; export-environment-variables
    (default 'true') exports PULUMI_ACCESS_TOKEN (src/main.ts core.exportVariable)."""
    if not given.get("organization"):
        return False, {}, "::error::Input required and not supplied: organization"
    ok, _, log = oidc_login(lambda g: {})(job, given, env)
    if ok and given.get("export-environment-variables", "true") == "true":
        job.env["PULUMI_ACCESS_TOKEN"] = "pul-fake"
    return ok, ({"pulumi-access-token": "pul-fake"} if ok else {}), log


def pulumi_actions(job: Job, given: dict[str, str], env: dict[str, str]) -> tuple[bool, dict[str, str], str]:
    """pulumi/actions without `command` only installs the CLI (its README, "Installation
    Only"); the stub `pulumi` on PATH stands for it. With a command it would run the CLI from
    JavaScript, which these tests do not simulate."""
    if given.get("command"):
        raise HarnessError("pulumi/actions with a command is not simulated: run the CLI in a run: step")
    job.calls[-1]["pulumi-version"] = given.get("pulumi-version", "")
    return True, {}, f"(fake) pulumi {given.get('pulumi-version', 'latest')} installed"


FAKES: dict[str, Fake] = {
    "actions/checkout": checkout,
    "actions/setup-python": setup_python,
    "actions/cache": cache,
    "actions/upload-artifact": upload_artifact,
    "marocchino/sticky-pull-request-comment": sticky_comment,
    "pulumi/auth-actions": pulumi_auth,
    "pulumi/actions": pulumi_actions,
    # aws-actions/configure-aws-credentials: output-env-credentials (default true) exports
    # AWS_REGION and AWS_DEFAULT_REGION among others (README's input table; src/helpers.ts).
    "aws-actions/configure-aws-credentials": oidc_login(
        lambda g: {"AWS_REGION": g.get("aws-region", ""), "AWS_DEFAULT_REGION": g.get("aws-region", "")}),
    "google-github-actions/auth": oidc_login(lambda g: {}),
    "azure/login": oidc_login(lambda g: {}),
}
