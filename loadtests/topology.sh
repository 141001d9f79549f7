#!/usr/bin/env bash
# The docker-compose topology as plain processes on one machine, bounded and self-checking:
# PostgreSQL (from the OS packages, a throw-away cluster in a temp dir), two simulator processes
# sharing it, a Locust master and two workers spreading users over both simulators. At the end:
# Locust reports no failures, every accepted submission is retrievable, and PostgreSQL holds each
# arrive_id once. Everything is stopped on exit.
#
#   loadtests/topology.sh                 # 20 s of load
#   RUN_TIME=60s USERS=40 loadtests/topology.sh
#   USER_CLASSES="SubmitUser WithdrawUser" loadtests/topology.sh   # which Locust users (not LOCUST_USERS:
#                                         # Locust reads that as its user count, and the workers crash)
#
# Needs: PostgreSQL server binaries (Debian: apt-get install postgresql), Python with the project's
# sim+load extras (PYTHON, default: python3).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
RUN_TIME="${RUN_TIME:-20s}"
USERS="${USERS:-12}"
PGBIN="${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
[ -x "$PGBIN/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 2; }
export PYTHONPATH="$ROOT/client:$ROOT/simulator${PYTHONPATH:+:$PYTHONPATH}"

WORK="$(mktemp -d /tmp/egov-topology.XXXXXX)"
chmod 755 "$WORK"
PIDS=()
free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  [ -f "$WORK/pg/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast -w stop >/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== PostgreSQL (throw-away cluster in $WORK/pg)"
PGPORT="$(free_port)"
mkdir -p "$WORK/pg" "$WORK/sock" "$WORK/data"
[ "$(id -u)" = 0 ] && chown postgres "$WORK/pg" "$WORK/sock"
as_pg "$PGBIN/initdb" -D "$WORK/pg" -U egov --auth=trust -E UTF8 --locale=C.UTF-8 >"$WORK/initdb.log"
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/server.log" -w \
  -o "-p $PGPORT -k $WORK/sock -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U egov egov
export EGOV_SIM_DATABASE_URL="postgresql+psycopg://egov@127.0.0.1:$PGPORT/egov"
export EGOV_SIM_DATA_DIR="$WORK/data"

echo "== two simulator processes on one database (started together)"
HOSTS=()
PORTS=("$(free_port)" "$(free_port)")
# one deployment, one public URL (as behind a load balancer): a token from either is valid on both
export EGOV_SIM_PUBLIC_URL="http://127.0.0.1:${PORTS[0]}"
for i in 1 2; do
  port="${PORTS[$((i - 1))]}"
  "$PYTHON" -m egov_sim.cli serve --quiet --port "$port" --workers 1 --clock-speed 60 >"$WORK/sim$i.log" 2>&1 &
  PIDS+=($!)
  HOSTS+=("http://127.0.0.1:$port")
done
for host in "${HOSTS[@]}"; do
  for _ in $(seq 1 300); do
    curl -fs "$host/__admin/clock" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fs "$host/__admin/clock" >/dev/null || { cat "$WORK"/sim*.log >&2; echo "simulator $host did not start" >&2; exit 1; }
done
LOAD_HOSTS="$(IFS=,; echo "${HOSTS[*]}")"
echo "   ${LOAD_HOSTS}"

echo "== Locust master + 2 workers ($USERS users, $RUN_TIME)"
MASTER_PORT="$(free_port)"
export LOAD_HOSTS LOAD_POLL_MIN=0.5 LOAD_POLL_MAX=2 LOAD_PACKAGES=8 LOAD_WITHDRAW_WAIT=15
export LOAD_INTEGRITY_FILE="$WORK/integrity.jsonl"
cd "$WORK"
for i in 1 2; do
  "$PYTHON" -m locust -f "$ROOT/loadtests/locustfile.py" --worker --master-host 127.0.0.1 \
    --master-port "$MASTER_PORT" >"$WORK/worker$i.log" 2>&1 &
  PIDS+=($!)
done
set +e
"$PYTHON" -m locust -f "$ROOT/loadtests/locustfile.py" --master --master-bind-host 127.0.0.1 \
  --master-bind-port "$MASTER_PORT" --expect-workers 2 --expect-workers-max-wait 60 --headless \
  -u "$USERS" -r "$USERS" -t "$RUN_TIME" --stop-timeout 10 --host "${HOSTS[0]}" --only-summary \
  --csv "$WORK/stats" ${USER_CLASSES:-SubmitUser PollUser BatchUser} 2>&1 | grep -v "HTTP Request:" | tail -25
set -e
for _ in $(seq 120); do  # workers write their integrity check after the master stops them (slow when loaded)
  [ "$(cat "$WORK/integrity.jsonl" 2>/dev/null | wc -l)" -ge 2 ] && break
  sleep 0.5
done

echo "== integrity"
"$PYTHON" - "$WORK" <<'PY'
import csv, json, os, sys
from pathlib import Path
from sqlalchemy import create_engine, text
work = Path(sys.argv[1])
rows = list(csv.DictReader((work / "stats_stats.csv").open()))
agg = next(r for r in rows if r["Name"] == "Aggregated")
failures = {r["Name"]: r["Failure Count"] for r in rows if r["Failure Count"] != "0"}
checks = [json.loads(l) for l in (work / "integrity.jsonl").read_text().splitlines()] \
    if (work / "integrity.jsonl").exists() else []
accepted = sum(c["accepted"] for c in checks)
missing = sum(len(c["missing"]) for c in checks)
with create_engine(os.environ["EGOV_SIM_DATABASE_URL"]).connect() as conn:
    stored, distinct = conn.execute(text("SELECT count(*), count(DISTINCT arrive_id) FROM applications")).one()
print(f"   requests {agg['Request Count']}, failures {agg['Failure Count']} {failures or ''}")
print(f"   accepted {accepted} (checked by {len(checks)} workers), missing {missing}; "
      f"PostgreSQL: {stored} applications, {distinct} distinct arrive_ids")
ok = not failures and len(checks) == 2 and accepted > 0 and missing == 0 and stored == distinct >= accepted
print("   OK" if ok else "   FAILED")
sys.exit(0 if ok else 1)
PY
