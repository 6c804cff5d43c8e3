"""The proxy's connection pool to the gateway's database (GATEWAY_DATABASE_URL), opened on
first use inside the running event loop, with the schema created once."""

from __future__ import annotations

import asyncio
import os

from psycopg_pool import AsyncConnectionPool

from components.gateway import store

# One pool per event loop: a pool's connections belong to the loop that opened them, and
# nothing here assumes LiteLLM runs auth and logging callbacks on one loop.
_pools: dict[int, AsyncConnectionPool] = {}
_opening: dict[int, asyncio.Lock] = {}
# Seconds a request waits for a free connection, or to open the pool, before it fails.
WAIT_S = 5.0


class DatabaseUnavailable(RuntimeError):
    """The gateway's database could not be reached (or GATEWAY_DATABASE_URL is unset)."""


async def pool() -> AsyncConnectionPool:
    loop = id(asyncio.get_running_loop())
    if loop in _pools:
        return _pools[loop]
    async with _opening.setdefault(loop, asyncio.Lock()):
        if loop not in _pools:
            _pools[loop] = await _open()
    return _pools[loop]


async def _open() -> AsyncConnectionPool:
    url = os.environ.get("GATEWAY_DATABASE_URL")
    if not url:
        raise DatabaseUnavailable("GATEWAY_DATABASE_URL is not set")
    size = int(os.environ.get("GATEWAY_DB_POOL_SIZE") or 4)
    new = AsyncConnectionPool(url, min_size=1, max_size=size, open=False, timeout=WAIT_S,
                              kwargs={"autocommit": True, "connect_timeout": int(WAIT_S)})
    try:
        await new.open(wait=True, timeout=WAIT_S)
        async with new.connection() as conn:
            await store.ensure_schema_async(conn)
    except Exception as err:
        await new.close()
        reason = type(err).__name__
        raise DatabaseUnavailable(f"the gateway database is unreachable: {reason}") from err
    return new
