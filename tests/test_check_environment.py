""".github/scripts/check-environment: deploy.yml's check that the stack's GitHub environment gates
the deploy. The script runs as the workflow runs it, against a local HTTP server that answers
GET /repos/{owner}/{repo}/environments/{name} the way GitHub's REST API does (the response
shape of github/rest-api-description, components/schemas/environment), reached through
GITHUB_API_URL, the variable the runner sets."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from conftest import ROOT, serve_http

SCRIPT = ROOT / ".github" / "scripts" / "check-environment"
REPOSITORY = "octo-org/llm"
TOKEN = "ghs_test"

REVIEWERS = {
    "id": 3755, "node_id": "MDQ6R2F0ZTM3NTU=", "type": "required_reviewers",
    "prevent_self_review": True,
    "reviewers": [{"type": "Team", "reviewer": {"id": 1, "slug": "platform"}}],
}  # fmt: skip
BRANCH_RULE = {"id": 3516, "node_id": "MDQ6R2F0ZTM1MTY=", "type": "branch_policy"}
WAIT_TIMER = {"id": 3515, "node_id": "MDQ6R2F0ZTM1MTU=", "type": "wait_timer", "wait_timer": 30}
MAIN_ONLY = {"protected_branches": False, "custom_branch_policies": True}


def environment(name: str, rules: list[dict], branch_policy: dict | None) -> dict:
    return {
        "id": 161088068, "node_id": "MDExOkVudmlyb25tZW50MTYxMDg4MDY4", "name": name,
        "url": f"https://api.github.com/repos/{REPOSITORY}/environments/{name}",
        "html_url": f"https://github.com/{REPOSITORY}/deployments/activity_log?environments_filter={name}",
        "created_at": "2026-11-23T22:00:40Z", "updated_at": "2026-11-23T22:00:40Z",
        "protection_rules": rules, "deployment_branch_policy": branch_policy,
    }  # fmt: skip


# Path under /repos/<repository>/environments/ -> (status, body).
RESPONSES: dict[str, tuple[int, object]] = {
    "aws": (200, environment("aws", [REVIEWERS, BRANCH_RULE], MAIN_ONLY)),
    "gcp": (200, environment("gcp", [], None)),
    "azure": (200, environment("azure", [WAIT_TIMER, BRANCH_RULE], MAIN_ONLY)),
    "team%2Fprod": (200, environment("team/prod", [REVIEWERS, BRANCH_RULE], MAIN_ONLY)),
    "private": (403, {"message": "Resource not accessible by integration",
                      "documentation_url": "https://docs.github.com/rest"}),
    "flaky": (502, {"message": "Server Error"}),
    "broken": (200, "<html>not json</html>"),
}  # fmt: skip


class GitHub(BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        GitHub.seen.append((self.path, self.headers.get("Authorization")))
        prefix = f"/repos/{REPOSITORY}/environments/"
        name = self.path[len(prefix):] if self.path.startswith(prefix) else None
        status, body = RESPONSES.get(name, (404, {"message": "Not Found"}))
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    with serve_http(GitHub) as url:
        yield url


def run(name: str, api_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "GITHUB_API_URL": api_url,
            "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_TOKEN": TOKEN}  # fmt: skip
    base.update(env)
    return subprocess.run([sys.executable, str(SCRIPT), name], env={k: v for k, v in base.items() if v},
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def annotations(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("::")]


def test_a_protected_environment_passes(api):
    result = run("aws", api)
    assert result.returncode == 0, result.stdout + result.stderr
    assert annotations(result.stdout) == []
    assert "environment aws: required reviewers and a deployment branch policy are set" in result.stdout
    assert GitHub.seen[-1] == (f"/repos/{REPOSITORY}/environments/aws", f"Bearer {TOKEN}")


def test_an_unprotected_environment_fails_with_a_line_per_missing_rule(api):
    result = run("gcp", api)
    assert result.returncode == 1
    lines = annotations(result.stdout)
    assert len(lines) == 2, lines
    assert lines[0].startswith("::error::environment gcp has no required reviewers")
    assert "Settings > Environments > gcp" in lines[0]
    assert lines[1].startswith("::error::environment gcp lets every branch deploy")
    assert "main" in lines[1]
    assert "Traceback" not in result.stderr


def test_a_wait_timer_is_no_reviewer(api):
    result = run("azure", api)
    assert result.returncode == 1
    assert [line.split(",")[0] for line in annotations(result.stdout)] == [
        "::error::environment azure has no required reviewers"
    ]


def test_reviewers_can_be_made_optional_where_the_plan_has_none(api):
    result = run("azure", api, DEPLOY_REVIEWERS_OPTIONAL="true")
    assert result.returncode == 0
    (line,) = annotations(result.stdout)
    assert line.startswith("::warning::environment azure has no required reviewers")
    # The branch policy stays required.
    assert run("gcp", api, DEPLOY_REVIEWERS_OPTIONAL="true").returncode == 1


def test_the_name_is_url_encoded(api):
    result = run("team/prod", api)
    assert result.returncode == 0, result.stdout
    assert GitHub.seen[-1][0] == f"/repos/{REPOSITORY}/environments/team%2Fprod"


def test_a_token_that_cannot_read_the_environment_warns_and_goes_on(api):
    result = run("private", api)
    assert result.returncode == 0
    (line,) = annotations(result.stdout)
    assert line.startswith("::warning::")
    assert "HTTP 403: Resource not accessible by integration" in line
    assert "actions: read" in line


@pytest.mark.parametrize(
    "name, expected",
    [
        ("missing", f"::error::environment missing does not exist in {REPOSITORY}"),
        ("flaky", "::error::cannot read environment flaky: HTTP 502 Server Error"),
        ("broken", "::error::cannot read environment broken:"),
    ],
)
def test_anything_else_fails_with_one_line(api, name, expected):
    result = run(name, api)
    assert result.returncode == 1
    (line,) = annotations(result.stdout)
    assert line.startswith(expected), line
    assert "Traceback" not in result.stderr


def test_an_unreachable_api_fails_with_one_line():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run("aws", f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    (line,) = annotations(result.stdout)
    assert line.startswith("::error::cannot read environment aws:")
    assert "Traceback" not in result.stderr


def test_without_a_token_it_says_what_is_missing(api):
    result = run("aws", api, GITHUB_TOKEN="")
    assert result.returncode == 2
    assert annotations(result.stdout) == ["::error::check-environment needs GITHUB_TOKEN set"]
