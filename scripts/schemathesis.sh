#!/usr/bin/env bash
# Run Schemathesis against a live simulator with the official OpenAPI document and a valid token.
#   scripts/schemathesis.sh [MAX_EXAMPLES]      (default 25 per operation)
# Starts `egov-sim serve` on a free loopback port with a throw-away data dir, issues a token for the
# demo account, fuzzes every /shinsei/v2 operation of the document (the /auth operations live on
# another base path and are covered by tests/test_egov_auth.py), and stops the server.
# The document is used with tests/openapi_schemas.py's ERRATA applied (its own defects, with reasons).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
[ -x .venv/bin/python ] && PY=.venv/bin/python
[ -x /work/venv/bin/python ] && [ "$PY" = python ] && PY=/work/venv/bin/python
BIN=$(dirname "$PY")
export PYTHONPATH="$PWD/client:$PWD/simulator:$PWD/tests${PYTHONPATH:+:$PYTHONPATH}"
MAX=${1:-25}
DATA=$(mktemp -d)
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$PY" -c 'import json,sys; from openapi_schemas import SPEC_PATH, apply_errata
json.dump(apply_errata(json.loads(SPEC_PATH.read_text(encoding="utf-8"))), open(sys.argv[1],"w"), ensure_ascii=False)' \
  "$DATA/openapi.json"
"$PY" -m egov_sim.cli serve --host 127.0.0.1 --port "$PORT" --data-dir "$DATA" >"$DATA/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do
  curl -fs -o /dev/null "http://127.0.0.1:$PORT/shinsei/v2/openapi.json" && break
  sleep 0.2
done
"$PY" scripts/seed_cases.py "$DATA" >"$DATA/schemathesis.toml"  # real cases, so operations reach real state
TOKEN=$("$PY" -m egov_sim.cli token --account demo --data-dir "$DATA" --issuer "http://127.0.0.1:$PORT/auth")
"$BIN/schemathesis" --config-file "$DATA/schemathesis.toml" run "$DATA/openapi.json" \
  --url "http://127.0.0.1:$PORT/shinsei/v2" \
  --header "Authorization: Bearer $TOKEN" \
  --exclude-path-regex '^/(auth|token|logout|\(リダイレクト先のURL\))' \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --max-examples "$MAX" --generation-deterministic --continue-on-failure \
  --report junit --report-dir "${REPORT_DIR:-$DATA/reports}" "${@:2}"
