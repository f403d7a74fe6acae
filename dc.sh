#!/usr/bin/env bash
# docker compose for this project: ./dc.sh up -d, ./dc.sh ps, ./dc.sh logs -f consumers ...
# Prometheus and Grafana too: ./dc.sh --profile observability up -d
# PIPELINE_SECURITY=secure (environment or .env) adds deploy/docker-compose.secure.yml (GUIDE/SECURITY.md).
set -euo pipefail
cd "$(dirname "$0")"
[ -f .env ] || { [ -x .venv/bin/python ] && .venv/bin/python -c "from apps.runtime.envfile import ensure_env_file; ensure_env_file()"; } || cp .env.example .env
security="${PIPELINE_SECURITY:-$(sed -n 's/^PIPELINE_SECURITY=\([a-z]*\).*/\1/p' .env | tail -1)}"
files=(-f deploy/docker-compose.yml -f deploy/docker-compose.observability.yml)
[ "$security" = secure ] && files+=(-f deploy/docker-compose.secure.yml)
# more than three consumers per group (PIPELINE_CONSUMER_INSTANCES): manage.py writes this override
[ -f deploy/docker-compose.scale.json ] && files+=(-f deploy/docker-compose.scale.json)
exec docker compose -p ecommerce-pipeline --env-file .env "${files[@]}" "$@"
