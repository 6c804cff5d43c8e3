"""The gateway's runtime: our code inside the LiteLLM proxy (litellm[proxy]==1.106.12,
locks/gateway.txt, docker/gateway.Dockerfile) and the provisioning Job.

LiteLLM's own key store needs Prisma, whose engines are downloaded at run time from a host an
air-gapped cluster cannot reach, so keys, teams and the spend ledger live in our tables in
Postgres (store.py) and LiteLLM calls our code through two documented extension points:

- `general_settings.custom_auth: components.gateway.auth.user_api_key_auth` (auth.py): the
  key's SHA-256 looked up with its team; unknown key 401, a model outside the team's list
  403, a team over its monthly budget or an environment over its ceiling 429 with
  Retry-After; the team's limits handed to LiteLLM's limiter, which enforces them in Redis.
- `litellm_settings.callbacks: [..., components.gateway.callbacks.handler]` (callbacks.py):
  the spend ledger, the request log (requestlog.py) and the llm_gateway_* metrics, served on
  LiteLLM's /metrics/ from prometheus_client's default registry; and, for a model whose
  rollout has shadow traffic, a sampled copy of the request to its candidate, scored against
  the incumbent's answer and never awaited by the user's request (shadow.py).

`python -m components.gateway.provision --settings F --keys-dir D` (provision.py) writes the
teams and key hashes of gateway.json into Postgres, all or nothing.

Environment (the container's, and what a test sets to start the proxy with our code):

    GATEWAY_SETTINGS        path of gateway.json (settings.py; the runtime settings the
                            proxy's config builder writes: components/kubernetes/gateway/config.py)
    GATEWAY_DATABASE_URL    postgresql://... of the gateway's database (auth, ledger, provision)
    LITELLM_MASTER_KEY      the admin key: passes custom_auth as PROXY_ADMIN
    POD_NAME                this replica's name: the request log's file name and `gateway_pod`
                            (default: the host name)
    GATEWAY_AUTH_CACHE_SECONDS  how long a key's row and its team's spend are reused before
                            Postgres is asked again (default 5; 0 = every request)
    GATEWAY_DB_POOL_SIZE    connections per replica (default 4)
    REDIS_HOST, REDIS_PORT  read by LiteLLM's config (general_settings.coordination_redis)
    PYTHONPATH              must make `components.gateway` importable (the image's /app)

plus LiteLLM's own offline switches (LITELLM_LOCAL_MODEL_COST_MAP=True and the other
LITELLM_LOCAL_*; tests/gateway_servers.py gateway_env sets them).
"""
