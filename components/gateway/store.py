"""The gateway's tables in Postgres and every query on them, for psycopg's sync connections
(provisioning) and async ones (the proxy). No LiteLLM here, so it is usable and testable
without the proxy.

- gateway_team: a team's allowed models and limits, as gateway.json says.
- gateway_key: one row per key alias: its team and the SHA-256 of its value (never the value).
- gateway_spend: USD spent per UTC month and team, added by the success callback. Not tied to
  gateway_team: a removed team's spend still counts towards the environment's ceiling.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime

import psycopg

from components.gateway.settings import TeamLimits

# Held while the schema is created, so replicas starting together and the provisioning Job
# never race on CREATE TABLE (CREATE ... IF NOT EXISTS alone is not safe concurrently).
_SCHEMA_LOCK = 0x6C6C6D67  # "llmg"

SCHEMA = [
    f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})",
    """CREATE TABLE IF NOT EXISTS gateway_team (
        name text PRIMARY KEY,
        models text[] NOT NULL,
        rpm integer,
        tpm bigint,
        max_parallel_requests integer,
        monthly_budget_usd double precision,
        updated_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS gateway_key (
        alias text PRIMARY KEY,
        team text NOT NULL REFERENCES gateway_team (name) ON DELETE CASCADE,
        -- Checked at commit: two aliases may swap their keys in one provisioning run.
        sha256 text NOT NULL UNIQUE DEFERRABLE INITIALLY DEFERRED,
        updated_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS gateway_spend (
        month date NOT NULL,
        team text NOT NULL,
        usd double precision NOT NULL DEFAULT 0,
        PRIMARY KEY (month, team))""",
]


def key_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def month_of(moment: datetime) -> date:
    """The UTC month a moment belongs to, as its first day (gateway_spend.month)."""
    utc = moment.astimezone(UTC)
    return date(utc.year, utc.month, 1)


def next_month(moment: datetime) -> datetime:
    """The start (UTC midnight) of the month after the moment's."""
    utc = moment.astimezone(UTC)
    year, month = (utc.year + 1, 1) if utc.month == 12 else (utc.year, utc.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


@dataclass(frozen=True)
class KeyAuth:
    """What a request's key resolves to: its alias, its team, and the month's spend."""

    alias: str
    team: TeamLimits
    team_spend_usd: float
    environment_spend_usd: float


# --- provisioning (sync) -----------------------------------------------------------------


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create the tables where missing; the caller commits."""
    for statement in SCHEMA:
        conn.execute(statement)


def teams(conn: psycopg.Connection) -> dict[str, TeamLimits]:
    rows = conn.execute(
        "SELECT name, models, rpm, tpm, max_parallel_requests, monthly_budget_usd FROM gateway_team"
    ).fetchall()
    return {r[0]: TeamLimits(r[0], tuple(r[1]), r[2], r[3], r[4], r[5]) for r in rows}


def keys(conn: psycopg.Connection) -> dict[str, tuple[str, str]]:
    """alias -> (team, sha256)."""
    rows = conn.execute("SELECT alias, team, sha256 FROM gateway_key").fetchall()
    return {alias: (team, sha) for alias, team, sha in rows}


def upsert_team(conn: psycopg.Connection, team: TeamLimits) -> None:
    conn.execute(
        """INSERT INTO gateway_team
             (name, models, rpm, tpm, max_parallel_requests, monthly_budget_usd)
           VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (name) DO UPDATE SET models = EXCLUDED.models, rpm = EXCLUDED.rpm,
             tpm = EXCLUDED.tpm, max_parallel_requests = EXCLUDED.max_parallel_requests,
             monthly_budget_usd = EXCLUDED.monthly_budget_usd, updated_at = now()""",
        (team.name, list(team.models), team.rpm, team.tpm, team.max_parallel_requests,
         team.monthly_budget_usd),
    )


def upsert_key(conn: psycopg.Connection, alias: str, team: str, sha256: str) -> None:
    conn.execute(
        """INSERT INTO gateway_key (alias, team, sha256) VALUES (%s, %s, %s)
           ON CONFLICT (alias) DO UPDATE SET team = EXCLUDED.team, sha256 = EXCLUDED.sha256,
             updated_at = now()""",
        (alias, team, sha256),
    )


def delete_key(conn: psycopg.Connection, alias: str) -> None:
    conn.execute("DELETE FROM gateway_key WHERE alias = %s", (alias,))


def delete_team(conn: psycopg.Connection, name: str) -> None:
    conn.execute("DELETE FROM gateway_team WHERE name = %s", (name,))


# --- the proxy (async) -------------------------------------------------------------------

# One round trip per lookup: the key, its team, and both spends of the month.
_LOOKUP = """
SELECT k.alias, t.name, t.models, t.rpm, t.tpm, t.max_parallel_requests, t.monthly_budget_usd,
       COALESCE((SELECT s.usd FROM gateway_spend s
                  WHERE s.month = %(month)s AND s.team = t.name), 0),
       COALESCE((SELECT sum(s.usd) FROM gateway_spend s WHERE s.month = %(month)s), 0)
  FROM gateway_key k JOIN gateway_team t ON t.name = k.team
 WHERE k.sha256 = %(sha)s"""


async def ensure_schema_async(conn: psycopg.AsyncConnection) -> None:
    async with conn.transaction():
        for statement in SCHEMA:
            await conn.execute(statement)


async def lookup(conn: psycopg.AsyncConnection, sha256: str, month: date) -> KeyAuth | None:
    cur = await conn.execute(_LOOKUP, {"sha": sha256, "month": month})
    row = await cur.fetchone()
    if row is None:
        return None
    team = TeamLimits(row[1], tuple(row[2]), row[3], row[4], row[5], row[6])
    return KeyAuth(alias=row[0], team=team, team_spend_usd=float(row[7]),
                   environment_spend_usd=float(row[8]))


# Adds a request's cost and returns the team's and the environment's month to date, in one
# statement: the upsert's RETURNING gives the team's new total, the rest of the month comes
# from the other teams' rows (a statement does not see its own insert in a subquery).
_ADD_SPEND = """
WITH added AS (
  INSERT INTO gateway_spend (month, team, usd) VALUES (%(month)s, %(team)s, %(usd)s)
  ON CONFLICT (month, team) DO UPDATE SET usd = gateway_spend.usd + EXCLUDED.usd
  RETURNING usd)
SELECT (SELECT usd FROM added),
       (SELECT usd FROM added)
       + COALESCE((SELECT sum(usd) FROM gateway_spend
                    WHERE month = %(month)s AND team <> %(team)s), 0)"""


async def add_spend(conn: psycopg.AsyncConnection, month: date, team: str,
                    usd: float) -> tuple[float, float]:
    """Add `usd` to the team's month; (team month to date, environment month to date)."""
    cur = await conn.execute(_ADD_SPEND, {"month": month, "team": team, "usd": usd})
    team_total, environment_total = await cur.fetchone()
    return float(team_total), float(environment_total)


async def month_spend(conn: psycopg.AsyncConnection, month: date) -> dict[str, float]:
    cur = await conn.execute("SELECT team, usd FROM gateway_spend WHERE month = %s", (month,))
    return {team: float(usd) for team, usd in await cur.fetchall()}
