"""The spec's gateway block and models[].fallback: each check's exact line (config path and
what is allowed), the ceiling's default, the secret keys the gateway names, and how a
problem or a missing secret reaches the user (exit 2 from the CLI, one error line per
missing secret under the engine).

The local stack's gateway, which most cases edit: budget 6000 USD at the default hard cap
of 100%, so a ceiling of 6000; teams support-bot (key support-prod, secret supportBotKey,
budget 1500) and internal-tools (keys tools-ci/toolsCiKey and tools-dev/toolsDevKey, budget
500); the quality monitor reads the claim request-logs."""

from __future__ import annotations

import json
import logging
import runpy

import pulumi
import pytest
from conftest import ROOT, run_cli, stack_spec, write_stack
from pulumi.runtime import settings
from test_spec_checks import DAY, DELETE, S, edited, problems

from components.spec import CONFIG_KEY, PROJECT, load_spec

FALLBACK = {"api_base": "https://api.openai.com/v1", "api_key_secret": "openaiApiKey"}
NOT_OPENAI = ("model 'analyst' is served by tensorrt-llm, whose API is not the OpenAI API "
              "the gateway routes to")
DEFAULT_CEILING = "the default, budget.monthly_usd x hard_cap_pct / 100"

PROBLEMS = [
    ("local", [], None),
    # a team's model must exist; a close name is suggested, as for a pool
    ("local", [("gateway.teams.0.models", ["asistant"])],
     [f"{S}.gateway.teams[0].models[0]: no model named 'asistant' (did you mean "
      "'assistant'?); models: assistant"]),
    ("local", [("gateway.teams.1.models", ["assistant", "summarizer"])],
     [f"{S}.gateway.teams[1].models[1]: no model named 'summarizer'; models: assistant"]),
    # Triton speaks KServe v2: no route, so no team may name it
    ("onprem-mixed", [("gateway.teams.0.models", ["support-bot", "analyst"])],
     [f"{S}.gateway.teams[0].models[1]: {NOT_OPENAI}"]),
    # names and aliases are unique; a key's secret holds one key
    ("local", [("gateway.teams.1.name", "support-bot")],
     [f"{S}.gateway.teams[1].name: duplicate team name 'support-bot'"]),
    ("local", [("gateway.teams.1.keys.1.alias", "support-prod")],
     [f"{S}.gateway.teams[1].keys[1].alias: duplicate key alias 'support-prod' (also in team "
      "'support-bot'); aliases are unique across teams"]),
    ("local", [("gateway.teams.1.keys.1.alias", "tools-ci")],
     [f"{S}.gateway.teams[1].keys[1].alias: duplicate key alias 'tools-ci' (also in team "
      "'internal-tools'); aliases are unique across teams"]),
    ("local", [("gateway.teams.1.keys.1.secret", "toolsCiKey")],
     [f"{S}.gateway.teams[1].keys[1].secret: Pulumi secret 'toolsCiKey' is already used by "
      f"{S}.gateway.teams[1].keys[0].secret; each key needs a secret of its own"]),
    ("local", [("gateway.teams.0.keys.0.secret", "gatewayMasterKey")],
     [f"{S}.gateway.teams[0].keys[0].secret: Pulumi secret 'gatewayMasterKey' is already "
      f"used by {S}.gateway.master_key_secret; each key needs a secret of its own"]),
    # a team's budget over the ceiling: 6000 x 100 / 100 = 6000 by default
    ("local", [("gateway.teams.0.monthly_budget_usd", 6000)], None),
    ("local", [("gateway.teams.0.monthly_budget_usd", 6000.5)],
     [f"{S}.gateway.teams[0].monthly_budget_usd: must be at most the environment's ceiling "
      f"of 6000 USD ({DEFAULT_CEILING}) (got 6000.5)"]),
    # hard cap 50%: 6000 x 50 / 100 = 3000; the 1500 of support-bot still fits
    ("local", [("budget.hard_cap_pct", 50), ("gateway.teams.1.monthly_budget_usd", 3001)],
     [f"{S}.gateway.teams[1].monthly_budget_usd: must be at most the environment's ceiling "
      f"of 3000 USD ({DEFAULT_CEILING}) (got 3001)"]),
    # no hard cap: the budget itself, 6000
    ("local", [("budget.hard_cap_pct", None), ("gateway.teams.1.monthly_budget_usd", 6001)],
     [f"{S}.gateway.teams[1].monthly_budget_usd: must be at most the environment's ceiling "
      f"of 6000 USD ({DEFAULT_CEILING}) (got 6001)"]),
    # a ceiling of its own: both teams (1500 and 500) over 400
    ("local", [("gateway.ceiling_usd", 400)],
     [f"{S}.gateway.teams[0].monthly_budget_usd: must be at most the environment's ceiling "
      "of 400 USD (gateway.ceiling_usd) (got 1500)",
      f"{S}.gateway.teams[1].monthly_budget_usd: must be at most the environment's ceiling "
      "of 400 USD (gateway.ceiling_usd) (got 500)"]),
    # a fallback needs the gateway, hosted_api and an OpenAI-speaking engine
    ("local", [("models.0.fallback", FALLBACK)], None),
    ("local", [("gateway", DELETE), ("models.0.fallback", FALLBACK)],
     [f"{S}.models[0].fallback: needs a gateway block: the gateway is what falls back; add "
      "gateway (README: Gateway) or remove fallback"]),
    ("aws", [("models.0.hosted_api", DELETE)],
     [f"{S}.models[0].fallback: needs models[0].hosted_api: its name is the model asked of "
      "the hosted API and its prices price the fallback"]),
    ("onprem-mixed", [("models.1.fallback", FALLBACK)],
     [f"{S}.models[1].fallback: {NOT_OPENAI}; remove fallback"]),
    # the log the quality monitor reads is the one the gateway writes
    ("local", [("gateway.request_log.claim", "gateway-logs")],
     [f"{S}.gateway.request_log.claim: must equal observability.quality.log_volume_claim "
      "'request-logs', the claim the quality monitor reads (got 'gateway-logs')"]),
    ("aws", [("gateway.request_log.claim", "gateway-logs")], None),  # no quality monitor
    ("local", [("gateway.replicas", {"min": 5, "max": 4})],
     [f"{S}.gateway.replicas.min: must be <= replicas.max (4) (got 5)"]),
    ("local", [("gateway.replicas", {"min": 4, "max": 4})], None),
    # a token is priced at GPU $/h over planned tokens/h
    ("local", [("models.0.traffic.conversations_per_day", 0)],
     [f"{S}.models[0].traffic.conversations_per_day: must be over 0 with a gateway, which "
      "prices model 'assistant''s tokens at its GPU cost over its planned tokens an hour "
      "(got 0)"]),
    ("local", [("gateway", DELETE), ("models.0.traffic.conversations_per_day", 0)], None),
    # several problems at once, each on its own line
    ("local", [("gateway.teams.1.name", "support-bot"),
               ("gateway.teams.1.models", ["asistant"]),
               ("gateway.replicas", {"min": 3, "max": 2})],
     [f"{S}.gateway.teams[1].name: duplicate team name 'support-bot'",
      f"{S}.gateway.teams[1].models[0]: no model named 'asistant' (did you mean "
      "'assistant'?); models: assistant",
      f"{S}.gateway.replicas.min: must be <= replicas.max (2) (got 3)"]),
]


def _case_id(case: tuple) -> str:
    return f"{case[0]}:{','.join(path for path, _ in case[1]) or 'as-is'}"


@pytest.mark.parametrize(("stack", "edits", "expected"), PROBLEMS, ids=map(_case_id, PROBLEMS))
def test_one_gateway_edit_gives_exactly_these_problems(stack, edits, expected):
    raw = edited(stack, *edits)
    if expected is None:
        assert load_spec(raw, plan_date=DAY).spec.environment == raw["environment"]
    else:
        assert problems(raw) == expected


SHAPE = [
    ("local", [("gateway.database", {"kind": "existing", "instances": 2})],
     [f"{S}.gateway.database.instances: unknown field; allowed here: kind, url_secret"]),
    ("local", [("gateway.database", {"kind": "mysql"})],
     [f"{S}.gateway.database.kind: must be one of 'cloudnative-pg', 'existing' (got 'mysql')"]),
    ("local", [("gateway.database", {"kind": "cloudnative-pg", "instances": 6})],
     [f"{S}.gateway.database.instances: Input should be less than or equal to 5 (got 6)"]),
    ("local", [("gateway.replicas.max", 51)],
     [f"{S}.gateway.replicas.max: Input should be less than or equal to 50 (got 51)"]),
    ("local", [("gateway.teams.0.rpm", 0)],
     [f"{S}.gateway.teams[0].rpm: Input should be greater than or equal to 1 (got 0)"]),
    ("local", [("gateway.teams.0.rpm", "600")],
     [f"{S}.gateway.teams[0].rpm: Input should be a valid integer (got '600')"]),
    ("local", [("gateway.teams.0.keys", [])],
     [f"{S}.gateway.teams[0].keys: List should have at least 1 item after validation, not 0"]),
    ("local", [("gateway.request_log.retention_days", 0)],
     [f"{S}.gateway.request_log.retention_days: Input should be greater than or equal to 1 "
      "(got 0)"]),
    ("local", [("gateway.image", "ghcr.io/llm-platform/gateway:latest")],
     [f"{S}.gateway.image: must not use the 'latest' tag; pin a release such as :v0.33.0"]),
    # a key pasted where its config key's name goes is never echoed back
    ("local", [("gateway.teams.0.keys.0.secret", "sk-live 9f8e7d")],
     [f"{S}.gateway.teams[0].keys[0].secret: String should match pattern "
      "'^[A-Za-z][A-Za-z0-9_-]{0,63}$' (value not shown: this field names a secret and must "
      "not hold one)"]),
    ("local", [("models.0.fallback", {**FALLBACK, "api_base": "http://api.openai.com/v1"})],
     [f"{S}.models[0].fallback.api_base: String should match pattern "
      "'^https://[^\\s/?#@]+(/[^\\s?#]*)?$' (got 'http://api.openai.com/v1')"]),
    ("local", [("models.0.fallback", {**FALLBACK, "api_base": "https://u:p@api.example.com"})],
     [f"{S}.models[0].fallback.api_base: String should match pattern "
      "'^https://[^\\s/?#@]+(/[^\\s?#]*)?$' (got 'https://u:p@api.example.com')"]),
    ("local", [("gateway.teams.0.colour", "red")],
     [f"{S}.gateway.teams[0].colour: unknown field; allowed here: keys, max_parallel_requests, "
      "models, monthly_budget_usd, name, rpm, tpm"]),
]


@pytest.mark.parametrize(("stack", "edits", "expected"), SHAPE, ids=map(_case_id, SHAPE))
def test_a_badly_shaped_gateway_field_is_one_line_at_its_config_path(stack, edits, expected):
    assert problems(edited(stack, *edits)) == expected


WARNINGS = [
    ("local", [("gateway.request_log.redact_prompts", True)],
     [f"{S}.gateway.request_log.redact_prompts: the log keeps only hashes of prompts and "
      "completions, so the quality monitor has no text to measure drift or refusals on"]),
    # no quality monitor reads the azure stack's redacted log
    ("azure", [], []),
    ("local", [("gateway.teams", [])],
     [f"{S}.gateway.teams: no teams, so no key but the master key gets through the gateway"]),
]


@pytest.mark.parametrize(("stack", "edits", "expected"), WARNINGS, ids=map(_case_id, WARNINGS))
def test_one_gateway_edit_gives_exactly_these_warnings(stack, edits, expected):
    assert load_spec(edited(stack, *edits), plan_date=DAY).warnings == expected


@pytest.mark.parametrize(("stack", "hard_cap_pct", "ceiling_usd", "expected"), [
    ("local", 100, None, 6000.0),     # 6000 x 100 / 100
    ("local", 150, None, 9000.0),     # 6000 x 150 / 100
    ("local", None, None, 6000.0),    # no hard cap: the budget
    ("local", 150, 2500, 2500.0),     # its own
    ("aws", 110, None, 6600.0),       # the aws stack: 6000 x 110 / 100
])
def test_the_ceiling_defaults_to_the_budget_at_its_hard_cap(stack, hard_cap_pct, ceiling_usd,
                                                            expected):
    raw = edited(stack, ("budget.hard_cap_pct", hard_cap_pct),
                 ("gateway.ceiling_usd", ceiling_usd))
    assert load_spec(raw, plan_date=DAY).spec.gateway_ceiling_usd == expected


def test_no_gateway_no_ceiling():
    spec = load_spec(edited("local", ("gateway", DELETE)), plan_date=DAY).spec
    assert spec.gateway_ceiling_usd is None and spec.gateway_secret_keys() == {}


def test_the_gateways_secret_keys_are_listed_with_their_paths():
    raw = edited("aws", ("gateway.database", {"kind": "existing"}))
    keys = load_spec(raw, plan_date=DAY).spec.secret_keys()
    assert {k: v for k, v in keys.items() if k not in {
        "pagerdutyRoutingKey", "slackWebhookUrl", "grafanaAdminPassword", "modelSigningKey"}} == {
        "gatewayMasterKey": ("gateway", "master_key_secret"),
        "gatewayDatabaseUrl": ("gateway", "database", "url_secret"),
        "openaiApiKey": ("models", 0, "fallback", "api_key_secret"),
        "supportBotKey": ("gateway", "teams", 0, "keys", 0, "secret"),
        "toolsCiKey": ("gateway", "teams", 1, "keys", 0, "secret"),
    }


def test_render_mode_asks_for_no_gateway_secret():
    """onprem-mixed renders to a directory: its Secrets are made with kubectl."""
    raw = edited("onprem-mixed", ("models.0.hosted_api", {
        "name": "gpt-4o-mini", "usd_per_million_input": 0.15, "usd_per_million_output": 0.6}),
        ("models.0.fallback", FALLBACK))
    assert load_spec(raw, plan_date=DAY).spec.secret_keys() == {}


def test_cli_refuses_bad_gateway_config_with_exit_2_and_one_line_each(scratch_project):
    raw = edited("local", ("gateway.teams.0.models", ["asistant"]),
                 ("gateway.teams.1.monthly_budget_usd", 7000),
                 ("gateway.request_log.claim", "gateway-logs"))
    write_stack(scratch_project, "bad-gateway", raw)
    proc = run_cli("plan", "--stack", "bad-gateway", "--project", str(scratch_project))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")] == [
        f"error: {S}.gateway.teams[0].models[0]: no model named 'asistant' (did you mean "
        "'assistant'?); models: assistant",
        f"error: {S}.gateway.teams[1].monthly_budget_usd: must be at most the environment's "
        f"ceiling of 6000 USD ({DEFAULT_CEILING}) (got 7000)",
        f"error: {S}.gateway.request_log.claim: must equal "
        "observability.quality.log_volume_claim 'request-logs', the claim the quality "
        "monitor reads (got 'gateway-logs')",
    ]
    assert not (scratch_project / "out").exists()


class _NoResources(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        return [f"{args.name}_id", args.inputs]

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.errors.append(record.getMessage())


def _program_errors(raw: dict, secrets: dict[str, str]) -> list[str]:
    """The Pulumi program (platform/__main__.py) under the SDK's mocks with `secrets` as the
    stack's Pulumi secrets: the error lines it logs before it stops."""
    lines = _Lines()
    logger = logging.getLogger("test_spec_gateway.engine")
    logger.addHandler(lines)
    settings.reset_options()
    pulumi.runtime.set_mocks(_NoResources(), project=PROJECT, stack="local", preview=False,
                             logger=logger)
    config = {f"{PROJECT}:{k}": v for k, v in secrets.items()}
    pulumi.runtime.set_all_config({CONFIG_KEY: json.dumps(raw), **config},
                                  secret_keys=list(config))
    try:
        with pytest.raises(pulumi.RunError, match=r"invalid stack config: \d+ problem"):
            runpy.run_path(str(ROOT / "platform" / "__main__.py"), run_name="__main__")
    finally:
        logger.removeHandler(lines)
        settings.reset_options()
    return lines.errors


def test_a_missing_gateway_secret_is_one_line_with_its_path_under_the_engine():
    """`pulumi up` stops before creating anything, one line per missing secret."""
    raw = edited("aws", ("gateway.database", {"kind": "existing"}))
    given = {k: "x" for k in ("pagerdutyRoutingKey", "slackWebhookUrl", "grafanaAdminPassword",
                              "supportBotKey", "modelSigningKey")}
    assert sorted(_program_errors(raw, given)) == sorted(
        f"{S}.{path}: Pulumi secret '{PROJECT}:{key}' is not set; run `pulumi config set "
        f"--secret {key} <value>`"
        for key, path in [
            ("gatewayMasterKey", "gateway.master_key_secret"),
            ("gatewayDatabaseUrl", "gateway.database.url_secret"),
            ("openaiApiKey", "models[0].fallback.api_key_secret"),
            ("toolsCiKey", "gateway.teams[1].keys[0].secret"),
        ]
    )


def test_every_stack_gateway_keeps_budgets_under_its_ceiling():
    """The examples are what users copy: every team budgeted, the sum under the ceiling (the
    policy pack's advisory), and every limit set (the pack refuses a team without)."""
    for stack in ("local", "onprem-mixed", "aws", "gcp", "azure", "hybrid"):
        spec = load_spec(stack_spec(stack), plan_date=DAY).spec
        assert spec.gateway is not None and spec.gateway.teams, stack
        ceiling = spec.gateway_ceiling_usd
        assert ceiling is not None
        budgets = [t.monthly_budget_usd for t in spec.gateway.teams]
        assert all(b is not None for b in budgets), stack
        assert sum(b for b in budgets if b is not None) <= ceiling, stack
        for team in spec.gateway.teams:
            assert None not in (team.rpm, team.tpm, team.max_parallel_requests), stack
    assert "gateway" not in stack_spec("onprem-engines")
