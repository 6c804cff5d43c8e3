"""The provisioning Job: make the gateway's tables say what gateway.json says.

    python -m components.gateway.provision --settings gateway.json --keys-dir DIR

Each key's value is read from DIR/<alias> (the mounted Secret llm-gateway-keys) and only its
SHA-256 is stored. Teams and keys are upserted by name and alias (a changed limit updates
the row in place), and teams and keys no longer in the settings are deleted: the spec is the
truth. One transaction: a failure changes nothing. Run twice, the second run changes nothing.

Exit 0 with `created N, updated N, deleted N, unchanged N` (teams and keys together); exit 2
with one line per problem when the settings or a key file are wrong (nothing is written);
exit 1 with one line when the database cannot be reached (the Job retries).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psycopg

from components.gateway import store
from components.gateway.settings import Settings, SettingsError, TeamLimits, load

# LiteLLM's own floor for a custom key (litellm==1.106.12 constants.py:1920,
# MINIMUM_CUSTOM_KEY_LENGTH, 16): a shorter key is guessable.
MIN_KEY_LENGTH = 16


@dataclass(frozen=True)
class Wanted:
    teams: dict[str, TeamLimits]
    keys: dict[str, tuple[str, str]]  # alias -> (team, sha256)


def read_keys(settings: Settings, keys_dir: Path) -> tuple[dict[str, str], list[str]]:
    """alias -> sha256 of its value, and one problem line per bad key file."""
    hashes: dict[str, str] = {}
    problems: list[str] = []
    for team in settings.teams:
        for alias in team.keys:
            path = keys_dir / alias
            try:
                value = path.read_text().strip()
            except OSError as err:
                problems.append(f"{path}: cannot read the key of alias {alias!r} of team "
                                f"{team.name!r} ({err.strerror})")
                continue
            if len(value) < MIN_KEY_LENGTH:
                problems.append(f"{path}: the key of alias {alias!r} is {len(value)} characters;"
                                f" at least {MIN_KEY_LENGTH} are required")
                continue
            hashes[alias] = store.key_hash(value)
    seen = Counter(hashes.values())
    problems += [f"{keys_dir / alias}: the same key as another alias; each key must be unique"
                 for alias, sha in hashes.items() if seen[sha] > 1]
    return hashes, problems


def wanted(settings: Settings, hashes: dict[str, str]) -> Wanted:
    teams = {t.name: t.limits() for t in settings.teams}
    keys = {alias: (t.name, hashes[alias]) for t in settings.teams for alias in t.keys}
    return Wanted(teams, keys)


def apply(conn: psycopg.Connection, want: Wanted) -> Counter[str]:
    """Bring the tables to `want` inside the caller's transaction; counts per outcome."""
    store.ensure_schema(conn)
    have_teams, have_keys = store.teams(conn), store.keys(conn)
    done: Counter[str] = Counter(created=0, updated=0, deleted=0, unchanged=0)
    # Keys first: a key that moves to a new team needs the team, a removed team its keys gone.
    for alias in sorted(set(have_keys) - set(want.keys)):
        store.delete_key(conn, alias)
        done["deleted"] += 1
    for name in sorted(set(have_teams) - set(want.teams)):
        store.delete_team(conn, name)
        done["deleted"] += 1
    for name, team in sorted(want.teams.items()):
        outcome = _outcome(have_teams.get(name), team)
        if outcome != "unchanged":
            store.upsert_team(conn, team)
        done[outcome] += 1
    for alias, (team, sha) in sorted(want.keys.items()):
        outcome = _outcome(have_keys.get(alias), (team, sha))
        if outcome != "unchanged":
            store.upsert_key(conn, alias, team, sha)
        done[outcome] += 1
    return done


def _outcome(have: object, want: object) -> str:
    return "created" if have is None else "unchanged" if have == want else "updated"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.gateway.provision",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--settings", required=True, type=Path, help="gateway.json")
    parser.add_argument("--keys-dir", required=True, type=Path,
                        help="a directory with one file per key alias holding the key")
    args = parser.parse_args(argv)
    try:
        settings = load(args.settings)
    except SettingsError as err:
        print(f"provision: {err}", file=sys.stderr)
        return 2
    hashes, problems = read_keys(settings, args.keys_dir)
    url = os.environ.get("GATEWAY_DATABASE_URL")
    if not url:
        problems.append("GATEWAY_DATABASE_URL is not set: it names the gateway's database")
    for problem in problems:
        print(f"provision: {problem}", file=sys.stderr)
    if problems:
        return 2
    try:
        with psycopg.connect(url, connect_timeout=10) as conn, conn.transaction():
            done = apply(conn, wanted(settings, hashes))
    except psycopg.Error as err:
        # The message, never the URL (it may hold the password).
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"provision: the gateway database: {reason}", file=sys.stderr)
        return 1
    print(", ".join(f"{k} {done[k]}" for k in ("created", "updated", "deleted", "unchanged")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
