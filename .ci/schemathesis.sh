#!/usr/bin/env bash
# The REST API and the webchat endpoints against their OpenAPI document
# (channels/src/http/openapi.json): schemathesis drives a real node's
# gateway (`meshdesk node --http`) with generated requests, valid and not,
# and fails on any 5xx, and on any status code, content type, body or
# header the document does not give. Bounded: 25 examples per operation
# (under a minute here), and a hard stop at 4 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v curl >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null
fi

SCHEMATHESIS_VERSION=4.32.5
# Run through python3 itself: pip's script dir need not be on PATH.
st() { python3 -c 'import sys; from schemathesis.cli import schemathesis; sys.argv[0] = "st"; sys.exit(schemathesis())' "$@"; }
if ! st --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# MESHDESK_BIN: a binary already built (otherwise the debug build, which
# `cargo test --workspace` has just made).
bin="${MESHDESK_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --quiet -p meshdesk --bin meshdesk
  bin="${CARGO_TARGET_DIR:-target}/debug/meshdesk"
fi

work=$(mktemp -d)
node_pid=""
cleanup() {
  if [ -n "$node_pid" ]; then
    kill "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

data="$work/node"
md() { "$bin" --data-dir "$data" "$@"; }
md team create --name Acme --agent Alice >/dev/null
md campaign add --name Web --channel webchat --strategy ring-all >/dev/null
md campaign add --name Integrations --channel api --strategy ring-all >/dev/null
md contact add --name "Marta Ortiz" --email marta@example.com --phone "+34 600 100 200" >/dev/null
token=$(md api-token create --name schemathesis)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
MESHDESK_LOG=warn "$bin" --data-dir "$data" node --no-mdns --listen /ip4/127.0.0.1/tcp/0 \
  --http "127.0.0.1:$port" >"$work/node.log" 2>&1 &
node_pid=$!

# Rows for the id-taking operations to find: one chat from the widget, one
# interaction from the API.
for _ in $(seq 1 100); do
  if curl -fs -o /dev/null "$base/api/v1/openapi.json"; then break; fi
  sleep 0.2
done
curl -fsS -o /dev/null -H 'content-type: application/json' \
  -d '{"name":"Vic","email":"vic@example.com","text":"hello"}' "$base/chat/Web/start"
curl -fsS -o /dev/null -H 'content-type: application/json' -H "authorization: Bearer $token" \
  -d '{"campaign":"Integrations","contact":{"name":"Ola"},"message":"hi"}' "$base/api/v1/interactions"

status=0
# One worker: CPython 3.11's AST constructor is not thread-safe (gh-106905),
# and hypothesis parses lambdas' sources while schemathesis draws cases, so
# two workers now and then die of "AST constructor recursion depth mismatch".
# From the scratch dir: schemathesis keeps a cache in its working directory.
cd "$work"
timeout 240 st run "$base/api/v1/openapi.json" \
  --url "$base" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples 25 \
  --workers 1 \
  --seed 1 \
  --request-timeout 10 \
  --warnings off \
  --no-color || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- node log ---"
  tail -n 50 "$work/node.log"
fi
exit "$status"
