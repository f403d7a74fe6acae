#!/usr/bin/env bash
# docker compose for this project: ./dc.sh up -d, ./dc.sh ps, ./dc.sh logs -f consumers ...
set -euo pipefail
cd "$(dirname "$0")"
[ -f .env ] || { [ -x .venv/bin/python ] && .venv/bin/python -c "from apps.runtime.envfile import ensure_env_file; ensure_env_file()"; } || cp .env.example .env
# more than three consumers per group (PIPELINE_CONSUMER_INSTANCES): manage.py writes this override
scale=(); [ -f deploy/docker-compose.scale.json ] && scale=(-f deploy/docker-compose.scale.json)
exec docker compose -p ecommerce-pipeline --env-file .env -f deploy/docker-compose.yml "${scale[@]}" "$@"
