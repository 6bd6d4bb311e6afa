#!/usr/bin/env bash
# Measure our edge and GeoDNS side by side with nginx, Varnish and gdnsd on
# this machine, in one run, and write the table into docs/BENCHMARKS.md.
#
#   scripts/bench-peers.sh            # REPS=3 DUR=10 by default
#   REPS=1 DUR=5 scripts/bench-peers.sh
#
# Uses the peer scripts in ../shared/bench (copied to /tmp/peerbench/scripts).
# Servers are pinned to CPU 0 and load tools to CPU 1 (the pinned pass of the
# shared scripts), so the ratios compare like with like.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared/bench}
PB=/tmp/peerbench
export PB
REPS=${REPS:-3}; DUR=${DUR:-10}
[ -d "$SHARED" ] || { echo "bench-peers: $SHARED not found (the shared peer scripts)" >&2; exit 1; }
mkdir -p "$PB"
rm -rf "$PB/scripts"; cp -r "$SHARED" "$PB/scripts"; chmod -R u+w "$PB/scripts"
"$PB/scripts/prepare.sh"
make -C "$ROOT" build >/dev/null
BIN=$ROOT/bin/cdn
OUT=$PB/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"

"$PB/scripts/stop.sh" >/dev/null 2>&1 || true
SERVER_CPUS=0 "$PB/scripts/start.sh" origin nginx-cache varnish goceiling gdnsd godns
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; "$PB/scripts/stop.sh" >/dev/null 2>&1 || true; }
trap cleanup EXIT
taskset -c 0 "$BIN" edge --listen 127.0.0.1:9701 --origin http://127.0.0.1:9000 \
  --tls-listen 127.0.0.1:9703 --tls-cert "$PB/tls/cert.pem" --tls-key "$PB/tls/key.pem" \
  --memory 1GiB --max-memory-object 8MiB --access-log=false >"$OUT/edge.log" 2>&1 &
pids+=($!)
taskset -c 0 "$BIN" geodns --config "$ROOT/scripts/bench/geodns.yaml" --node ns1 >"$OUT/geodns.log" 2>&1 &
pids+=($!)
sleep 2
for s in 1k 16k 256k 4m; do
  for u in http://127.0.0.1:9701 http://127.0.0.1:9101 http://127.0.0.1:9201; do
    curl -s -o /dev/null "$u/$s.bin"; curl -s -o /dev/null "$u/$s.bin"
  done
done
cat >"$OUT/targets.http" <<T
goceiling      h1     http://127.0.0.1:9501
edge           h1     http://127.0.0.1:9701
nginx-cache    h1     http://127.0.0.1:9101
varnish        h1     http://127.0.0.1:9201
goceiling      h2c    http://127.0.0.1:9502
edge           h2c    http://127.0.0.1:9701
nginx-cache    h2c    http://127.0.0.1:9102
varnish        h2c    http://127.0.0.1:9201
edge           h2tls  https://127.0.0.1:9703
nginx-cache    h2tls  https://127.0.0.1:9103
T
cat >"$OUT/targets.dns" <<T
godns          5304  www.example.test
gdnsd-geo      5301  www.example.test
geodns         5306  www.example.test
T
LOAD_CPUS=1 REPS=$REPS DUR=$DUR SIZES="1k 256k 4m" TARGETS="$OUT/targets.http" "$PB/scripts/bench_http.sh" "$OUT" pinned
LOAD_CPUS=1 REPS=$REPS DUR=$DUR TARGETS="$OUT/targets.dns" "$PB/scripts/bench_dns.sh" "$OUT" pinned

# Our load generator against the same three caches: Zipf over 1,000 objects
# of the shared files, closed loop, hit ratio from Cache-Status where sent.
for t in edge:9701 nginx-cache:9101 varnish:9201; do
  name=${t%%:*}; port=${t#*:}
  for i in $(seq 1 200); do echo "http://127.0.0.1:$port/1k.bin?o=$i"; done > "$OUT/urls-$name.txt"
  taskset -c 1 "$BIN" loadtest --urls "$OUT/urls-$name.txt" --zipf 1.0 --concurrency 32 --duration "${DUR}s" \
    --json "$OUT/loadtest-$name.json" > "$OUT/loadtest-$name.txt" 2>&1 || true
done
python3 "$PB/scripts/summarize.py" "$OUT" goceiling godns > "$OUT/summary.md"
python3 "$ROOT/scripts/bench/to_markdown.py" "$OUT" "$ROOT/docs/BENCHMARKS.md"
echo "results: $OUT (summary.md); docs/BENCHMARKS.md updated"
