#!/usr/bin/env bash
# The Dockerfile and both compose files, built and run on a real Docker engine (run by .ci/run
# after npm test; as root). The engine comes from ../shared/docker/engine.sh (Debian's docker.io
# and docker-compose v1, stand-ins for node:20-slim and postgres:15, an npm pass-through).
# One line per check; a failing check prints the logs of its containers. Everything it makes
# (containers, volumes, networks, the image's tag, host folders) is removed on exit; the build
# cache stays, so a second run builds in seconds.
#   bash scripts/docker-test.sh
set -Eeuo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
t0=$SECONDS

engine=""
for candidate in "$repo/../shared/docker/engine.sh" /work/shared/docker/engine.sh; do
  if [ -f "$candidate" ]; then engine=$candidate; break; fi
done
if [ -z "$engine" ]; then
  echo "docker-test: no engine.sh at $repo/../shared/docker/engine.sh nor /work/shared/docker/engine.sh" >&2
  exit 1
fi

run="eatest$$"                        # names of everything this run makes
label="event-aggregator-docker-test=$run"
image="event-aggregator-test:$run"
work=$(mktemp -d)
# Debian's client matches the engine (engine.sh uses it too); docker-compose's builds call `docker`.
export PATH="/usr/bin:$PATH"
export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1
current=()                            # containers whose logs a failure prints
projects=()                           # compose projects to take down, as "project file"
load_pid=""

logs() {
  local c
  for c in "${current[@]}"; do
    echo "--- logs of $c (last 60 lines)" >&2
    docker logs --tail 60 "$c" >&2 2>&1 || true
  done
}
fail() {
  echo "FAIL $check: $*" >&2
  logs
  exit 1
}
on_error() {
  echo "FAIL $check: line $1: $2 exited $3" >&2
  logs
}
check="setup"
trap 'on_error "$LINENO" "$BASH_COMMAND" "$?"' ERR

cleanup() {
  set +e
  trap - ERR
  [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
  local p
  for p in "${projects[@]}"; do
    docker-compose -p "${p%% *}" -f "${p#* }" down -v --remove-orphans >/dev/null 2>&1
  done
  docker ps -aq --filter "label=$label" | xargs -r docker rm -fv >/dev/null 2>&1
  docker volume ls -q --filter "label=$label" | xargs -r docker volume rm >/dev/null 2>&1
  docker image inspect "$image" >/dev/null 2>&1 && docker rmi "$image" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

ok() { printf 'ok %s (%ds)\n' "$*" $((SECONDS - t)); }
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# start NAME [docker run options]: the image in the background, its port on an ephemeral host port.
start() {
  local name=$1; shift
  current+=("$name")
  docker run -d --name "$name" --label "$label" -p 127.0.0.1::8080 "$@" "$image" >/dev/null
}
url() { echo "http://$(docker port "$1" 8080/tcp | head -1)"; }
# ready CONTAINER: healthy (the image's HEALTHCHECK), then /ready answers 200.
ready() {
  local state
  for _ in $(seq 1 120); do
    state=$(docker inspect -f '{{.State.Status}} {{.State.Health.Status}}' "$1")
    case $state in
      "running healthy") break ;;
      exited*|dead*|*unhealthy) fail "$1 is $state" ;;
    esac
    sleep 0.5
  done
  [ "$state" = "running healthy" ] || fail "$1 not healthy after 60 s ($state)"
  for _ in $(seq 1 40); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$(url "$1")/ready")" = 200 ] && return 0
    sleep 0.25
  done
  fail "$1: /ready did not answer 200"
}
uid_of_pid1() { docker exec "$1" awk '/^Uid:/ { print $2 }' /proc/1/status; }
publish() {
  local code
  code=$(curl -s -o "$work/publish.out" -w '%{http_code}' -H 'content-type: application/json' -d "$2" "$(url "$1")/publish")
  [ "$code" = 200 ] || fail "POST /publish to $1 answered $code: $(cat "$work/publish.out")"
}
get() { curl -sf "$(url "$1")$2" || fail "GET $2 on $1 failed"; }
# stop CONTAINER: docker stop (SIGTERM), and it must exit 0 by itself before the 20 s grace ends.
stop() {
  local t1=$SECONDS code
  docker stop -t 20 "$1" >/dev/null
  code=$(docker inspect -f '{{.State.ExitCode}}' "$1")
  [ "$code" = 0 ] || fail "$1 exited $code after docker stop ($((SECONDS - t1))s)"
}
event='{"topic":"t","event_id":"e1","timestamp":"2025-01-31T12:00:00Z","source":"s","payload":{"a":1}}'

check="0 engine"; t=$SECONDS
registry=$(bash "$engine" 2>"$work/engine.log" | tail -1) || { cat "$work/engine.log" >&2; fail "engine.sh failed"; }
ok "0 engine ready, npm registry for builds $registry"

check="1 build"; t=$SECONDS
if ! docker build --build-arg NPM_CONFIG_REGISTRY="$registry" -t "$image" . >"$work/build.log" 2>&1; then
  tail -40 "$work/build.log" >&2
  fail "docker build failed"
fi
size=$(docker image inspect -f '{{.Size}}' "$image")
base=$(docker image inspect -f '{{.Size}}' node:20-slim)
leftovers=$(docker run --rm --entrypoint sh "$image" -c 'ls -d packages/*/src packages/*/test 2>/dev/null || true')
[ -z "$leftovers" ] || fail "the runtime image has sources: $leftovers"
ok "1 image builds with --build-arg NPM_CONFIG_REGISTRY: $((size / 1000000)) MB, $(((size - base) / 1000000)) MB over node:20-slim, no src/ or test/"

check="2 named volume"; t=$SECONDS
docker volume create --label "$label" "$run-data" >/dev/null
a="$run-a"; start "$a" -v "$run-data:/app/data"
ready "$a"
[ "$(uid_of_pid1 "$a")" = 1000 ] || fail "PID 1 runs as uid $(uid_of_pid1 "$a"), not 1000 (node)"
publish "$a" "$event"
stop "$a"
b="$run-b"; start "$b" -v "$run-data:/app/data"
ready "$b"
[ "$(get "$b" /events/t/e1 | jq -c .payload)" = '{"a":1}' ] || fail "e1 not found after the restart"
[ "$(get "$b" /stats | jq .unique_processed)" = 1 ] || fail "/stats after the restart: $(get "$b" /stats)"
docker rm -fv "$a" "$b" >/dev/null; current=()
ok "2 runs as uid 1000, healthy, publish, docker stop exits 0, event and counters kept in the volume"

check="3 bind mount, --user"; t=$SECONDS
# Docker creates the missing host folder, owned by root: the seed's `-v "$PWD/data:/app/data"`.
bind="$work/bind"
mkdir "$work/user" && chown 1234:1234 "$work/user"
c="$run-bind"; start "$c" -v "$bind:/app/data"
d="$run-user"; start "$d" --user 1234:1234 -v "$work/user:/app/data"
ready "$c"; ready "$d"
publish "$c" "$event"; publish "$d" "$event"
[ "$(uid_of_pid1 "$c")" = 1000 ] || fail "bind mount: PID 1 runs as uid $(uid_of_pid1 "$c")"
[ "$(stat -c %u "$bind/dedup.sqlite")" = 1000 ] || fail "bind mount: dedup.sqlite is owned by $(stat -c %u "$bind/dedup.sqlite")"
[ "$(uid_of_pid1 "$d")" = 1234 ] || fail "--user: PID 1 runs as uid $(uid_of_pid1 "$d")"
[ "$(stat -c %u:%g "$work/user/dedup.sqlite")" = 1234:1234 ] || fail "--user: dedup.sqlite is owned by $(stat -c %u:%g "$work/user/dedup.sqlite")"
stop "$c"; stop "$d"
docker rm -fv "$c" "$d" >/dev/null; current=()
ok "3 root-owned bind-mounted folder (given to uid 1000) and --user 1234:1234 both serve and stop with 0"

check="4 SIGKILL under load"; t=$SECONDS
docker volume create --label "$label" "$run-kill" >/dev/null
k="$run-kill"; start "$k" -v "$run-kill:/app/data"
ready "$k"
: >"$work/acked"
node scripts/docker-test-load.mjs publish "$(url "$k")" "$work/acked" 4 &
load_pid=$!
for _ in $(seq 1 300); do
  [ "$(wc -l <"$work/acked")" -ge 3000 ] && break
  kill -0 "$load_pid" 2>/dev/null || break
  sleep 0.1
done
docker kill "$k" >/dev/null
wait "$load_pid" || fail "the publishers failed"
load_pid=""
r="$run-restarted"; start "$r" -v "$run-kill:/app/data"
ready "$r"
verified=$(node scripts/docker-test-load.mjs verify "$(url "$r")" "$work/acked") || fail "$verified"
docker rm -fv "$k" "$r" >/dev/null; current=()
ok "4 docker kill under 4 durable publishers, restart on the volume: $verified"

# compose FILE PORT_VARIABLES...: `up -d --build` (each port variable gets a free port), the
# publisher's exit code and "OK" lines, then /stats on every aggregator: 4 + 4,000 unique events.
compose() {
  local file=$1 project="$run$2" v pub code out; shift 2
  local -a vars=(EA_IMAGE="$image" NPM_CONFIG_REGISTRY="$registry") ports=()
  for v in "$@"; do ports+=("$(free_port)"); vars+=("$v=${ports[-1]}"); done
  projects+=("$project $file")
  env "${vars[@]}" docker-compose -p "$project" -f "$file" up -d --build >"$work/$project.log" 2>&1 ||
    { tail -40 "$work/$project.log" >&2; fail "docker-compose up failed"; }
  pub=$(docker-compose -p "$project" -f "$file" ps -q publisher)
  mapfile -t current < <(docker-compose -p "$project" -f "$file" ps -q)
  code=$(timeout 180 docker wait "$pub") || fail "the publisher did not finish in 180 s"
  out=$(docker logs "$pub" 2>&1)
  [ "$code" = 0 ] || fail "the publisher exited $code"
  grep -q '^sent 5 events .*: OK$' <<<"$out" && grep -q '^sent 5000 events .*: OK$' <<<"$out" ||
    fail "the publisher did not print OK for 5 and 5000: $out"
  for v in "${ports[@]}"; do
    [ "$(curl -sf "http://127.0.0.1:$v/stats" | jq .unique_processed)" = 4004 ] ||
      fail "/stats on port $v: $(curl -s "http://127.0.0.1:$v/stats")"
  done
  docker-compose -p "$project" -f "$file" down -v --remove-orphans >/dev/null 2>&1
  current=()
}

check="5 docker-compose.yml"; t=$SECONDS
compose docker-compose.yml c AGGREGATOR_PORT
ok "5 docker-compose up --build: the publisher exits 0 with OK for 5 and 5000 events"

check="6 docker-compose.postgres.yml"; t=$SECONDS
compose docker-compose.postgres.yml p AGGREGATOR_1_PORT AGGREGATOR_2_PORT
ok "6 docker-compose -f docker-compose.postgres.yml: OK for 5 and 5000 over 2 replicas, both count 4004 unique"

echo "docker-test: $((SECONDS - t0))s"
echo "docker-test: 7 passed, 0 failed"
