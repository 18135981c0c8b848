#!/usr/bin/env bash
# Publishes, re-publishes (a retry), and shows what was stored and counted.
# Start the server first (npm start), then: examples/curl-demo.sh [base-url]
set -euo pipefail
BASE="${1:-http://localhost:8080}"
AUTH=()
if [ -n "${API_KEY:-}" ]; then AUTH=(-H "authorization: Bearer ${API_KEY}"); fi
TOPIC="demo-$(date +%s)"
json() { curl -sS "${AUTH[@]}" "$@"; echo; }

echo "== publish two events"
json "$BASE/publish" -H 'content-type: application/json' -d "[
  {\"topic\":\"$TOPIC\",\"event_id\":\"1\",\"timestamp\":\"2025-01-31T12:00:00Z\",\"source\":\"demo\",\"payload\":{\"n\":1}},
  {\"topic\":\"$TOPIC\",\"event_id\":\"2\",\"timestamp\":\"2025-01-31T12:00:01Z\",\"source\":\"demo\",\"payload\":{\"n\":2}}]"

echo "== re-publish the same events (a publisher retry), with a third and per-event detail"
json "$BASE/publish?detail=true" -H 'content-type: application/json' -d "{\"events\": [
  {\"topic\":\"$TOPIC\",\"event_id\":\"1\",\"timestamp\":\"2025-01-31T12:00:00Z\",\"source\":\"demo\",\"payload\":{\"n\":1}},
  {\"topic\":\"$TOPIC\",\"event_id\":\"2\",\"timestamp\":\"2025-01-31T12:00:01Z\",\"source\":\"demo\",\"payload\":{\"n\":99}},
  {\"topic\":\"$TOPIC\",\"event_id\":\"3\",\"timestamp\":\"2025-01-31T12:00:02Z\",\"source\":\"demo\",\"payload\":{\"n\":3}}]}"

echo "== NDJSON, ack=queued (202 at once)"
printf '%s\n' "{\"topic\":\"$TOPIC\",\"event_id\":\"4\",\"timestamp\":\"2025-01-31T12:00:03\",\"source\":\"demo\",\"payload\":{}}" |
  json "$BASE/publish?ack=queued" -H 'content-type: application/x-ndjson' --data-binary @-

echo "== an invalid request changes nothing (422 lists every problem)"
json "$BASE/publish" -H 'content-type: application/json' -d "[{\"topic\":\"$TOPIC\",\"event_id\":\"5\",\"timestamp\":\"yesterday\",\"source\":\"demo\",\"payload\":{},\"extra\":1}]"

sleep 0.2
echo "== events of $TOPIC"
json "$BASE/events?topic=$TOPIC"
echo "== one event"
json "$BASE/events/$TOPIC/2"
echo "== stats"
json "$BASE/stats"
