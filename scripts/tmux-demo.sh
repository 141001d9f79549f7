#!/usr/bin/env bash
# A real terminal session with the `egov` command against a running simulator, recorded with tmux
# (send-keys / capture-pane): profile, login, a send list of 25 with item 7 unsigned, batch send
# (stops at 7), resume, list, refresh after the review moves, memo/hide, withdraw, status, refresh
# --get (取得), docs fetch (folder named by fetch time, signatures verified), docs list, docs complete
# (confirmation; the document cannot be fetched again), maintenance, doctor.
#
#   scripts/tmux-demo.sh                    replay: print the recorded session (scripts/tmux-demo.txt)
#   scripts/tmux-demo.sh --record [OUTPUT]  record a new one (default: scripts/tmux-demo.new.txt; the
#                                           tracked transcript is replaced only when named as OUTPUT)
#
# Recording needs tmux, curl and a Python with the project's dependencies (PYTHON, default .venv/bin/python).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" != "--record" ]; then
  [ $# -eq 0 ] || { echo "usage: $0 [--record [OUTPUT]]" >&2; exit 2; }
  cat "$ROOT/scripts/tmux-demo.txt"
  exit 0
fi
shift
PY=${PYTHON:-$ROOT/.venv/bin/python}
OUT=${1:-$ROOT/scripts/tmux-demo.new.txt}
PORT=${PORT:-$("$PY" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")}
URL=http://127.0.0.1:$PORT
WORK=$(mktemp -d)
SESSION=egov-demo-$$
export PYTHONPATH=$ROOT/client:$ROOT/simulator

"$PY" -m egov_sim.cli serve --port "$PORT" --data-dir "$WORK/sim" >"$WORK/sim.log" 2>&1 &
SIM=$!
cleanup() { tmux kill-session -t "$SESSION" 2>/dev/null || true; kill "$SIM" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "$URL/__admin/clock" >/dev/null && break; sleep 0.2; done

"$PY" "$ROOT/scripts/demo_packages.py" "$URL" "$WORK/pkgs" 25 --p12 "$WORK/sim/certs/valid.p12" --unsigned 7 >/dev/null
WORLD=$(curl -sf "$URL/__admin/world")
PASSWORD=$(printf '%s' "$WORLD" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["accounts"][0]["password"])')
PIN=$(printf '%s' "$WORLD" | "$PY" -c 'import json,sys; print(next(c["password"] for c in json.load(sys.stdin)["certificates"] if c["label"] == "valid"))')

tmux new-session -d -s "$SESSION" -x 170 -y 60 "env -i HOME=$WORK TERM=xterm-256color PATH=$PATH bash --norc --noprofile"
tmux send-keys -t "$SESSION" "export PS1='$ ' EGOV_HOME=$WORK/home PYTHONPATH=$PYTHONPATH EGOV_PASSWORD=$PASSWORD EGOV_P12_PASSWORD=$PIN LANG=C.UTF-8; egov() { $PY -m egov_client.cli \"\$@\"; }; cd $WORK" Enter
sleep 1
: >"$OUT"

step() {  # type one command into the session, wait for the prompt, append what the screen shows
  tmux send-keys -t "$SESSION" "clear" Enter
  sleep 0.3
  tmux clear-history -t "$SESSION"
  tmux send-keys -t "$SESSION" "$1" Enter
  sleep "${2:-1}"
  local waited=0
  until tmux capture-pane -p -t "$SESSION" | grep -v '^$' | tail -n 1 | grep -qx '\$ *' || [ $waited -ge 120 ]; do
    sleep 0.5; waited=$((waited + 1))
  done
  { tmux capture-pane -p -J -S - -t "$SESSION" | grep -v '^$' | sed '$d'; printf '\n'; } >>"$OUT"
}

ADVANCE="curl -s -XPOST $URL/__admin/clock -H 'Content-Type: application/json' -d"
step "egov profile add sim --simulator $URL --from-world --certificate $WORK/sim/certs/valid.p12"
step "egov login"
step "egov queue add pkgs/*.zip" 3
step "egov batch send" 4
step "egov queue list"
step "egov batch send" 6
step "egov list"
step "$ADVANCE '{\"advance\": \"PT3H\"}' >/dev/null; egov refresh" 4
step "egov memo 1 林物産 山田太郎 社保取得; egov hide 2; egov list --status 審査中"
step "egov withdraw 4 --name '高橋　太郎' --reason '誤って申請したため'" 3
step "egov status 1"
step "$ADVANCE '{\"advance\": \"P3DT1H\"}' >/dev/null; egov refresh --get 1 3 4 5" 4
step "egov docs fetch 1" 3
step "egov docs list 1" 2
step "printf 'y\\n' | egov docs complete 1" 3
step "egov docs fetch 1" 2
step "egov list --all --status 終了"
step "$ADVANCE '{\"advance\": \"PT1H\"}' >/dev/null; curl -s -XPOST $URL/__admin/maintenance -H 'Content-Type: application/json' -d '{\"title\": \"定期メンテナンス\", \"recurrence\": {\"weekdays\": [\"mon\", \"wed\", \"fri\"], \"start\": \"18:00\", \"duration\": \"PT6H\"}}' >/dev/null; egov maintenance"
step "egov doctor"
echo "captured to $OUT"
