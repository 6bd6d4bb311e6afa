#!/bin/bash
# GeoDNS against gdnsd (geoip plugin) and a bare miekg/dns server on
# loopback, pinned: every server on CPU 0, dnsperf on CPU 1 (the section
# "GeoDNS against gdnsd and PowerDNS" of docs/BENCHMARKS.md).
#
#   geodns/testdata/bench/run.sh                 # 3 interleaved reps of 10 s
#   PREV=72b48c4 geodns/testdata/bench/run.sh    # also an older geodns, same run
#   REPS=5 DUR=10 RATE=30000 PROFILE=1 ...       # a fixed-rate pass; a CPU profile
#
# Needs dnsperf and gdnsd (apt-get install dnsperf gdnsd) and the shared peer
# scripts prepared ($PB: pb-test.mmdb and the godns build, see
# ../shared/bench/README.md). gdnsd runs from a private copy of the shared
# config on port 5401, so that a concurrent run of the shared scripts, which
# restarts its servers on 5301 and up, does not disturb this one.
# Results: $D/<pass>/res.csv and a table per pass from summarize.py.
set -eu
D=${D:-/tmp/geodns-bench}; PB=${PB:-/tmp/peerbench}
REPS=${REPS:-3}; DUR=${DUR:-10}; RATE=${RATE:-}; PREV=${PREV:-}; PROFILE=${PROFILE:-}
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../../.." && pwd)
mkdir -p "$D/gdnsd/zones" "$D/run/gdnsd" "$D/run/gdnsd-state" "$D/pids" "$D/logs"
cp "$PB/scripts/conf/gdnsd/zones/example.test" "$D/gdnsd/zones/"
cp "$PB/geoip/pb-test.mmdb" "$PB/godns/godns" "$D/"
sed -e "s|127.0.0.1:5301|127.0.0.1:5401|" -e "s|$PB/run/|$D/run/|g" -e "s|$PB/geoip/|$D/|" \
  "$PB/scripts/conf/gdnsd/config" > "$D/gdnsd/config"
sed -e "s|/tmp/peerbench/geoip/|$D/|" "$root/scripts/bench/geodns.yaml" > "$D/geodns.yaml"
(cd "$root" && go build -o "$D/geodns-bench" ./geodns/testdata/bench)
if [ -n "$PREV" ]; then # the same harness against an older package
  rm -rf "$D/prev-src"; mkdir -p "$D/prev-src"
  git -C "$root" archive "$PREV" | tar -x -C "$D/prev-src"
  mkdir -p "$D/prev-src/geodns/testdata/bench"; cp "$here/main.go" "$D/prev-src/geodns/testdata/bench/"
  (cd "$D/prev-src" && go build -o "$D/geodns-bench-prev" ./geodns/testdata/bench)
fi
echo "www.example.test A" > "$D/q.txt"
cd "$D"

start() { # name port command...: pinned to CPU 0 with all its threads, in its own session
  local n=$1 port=$2; shift 2
  setsid taskset -c 0 "$@" > "$D/logs/$n.log" 2>&1 < /dev/null &
  echo $! > "$D/pids/$n"
  for _ in $(seq 50); do dig +short +time=1 +tries=1 @127.0.0.1 -p "$port" www.example.test > /dev/null 2>&1 && break; sleep 0.2; done
  for t in /proc/"$(cat "$D/pids/$n")"/task/*; do taskset -cp 0 "${t##*/}" > /dev/null; done
  echo "$n: pid $(cat "$D/pids/$n"), www.example.test = $(dig +short @127.0.0.1 -p "$port" www.example.test)"
}
stop() { for f in "$D"/pids/*; do kill "$(cat "$f")" 2>/dev/null || true; rm -f "$f"; done; }
trap stop EXIT
cpu() { # pid seconds: CPU% of one core used by pid (all threads) over the interval
  local a b; a=$(awk '{print $14+$15}' "/proc/$1/stat"); sleep "$2"; b=$(awk '{print $14+$15}' "/proc/$1/stat")
  echo $(( (b - a) * 100 / $(getconf CLK_TCK) / $2 ))
}

targets="gdnsd:5401 geodns:5406 godns:5404"
start gdnsd 5401 gdnsd -c "$D/gdnsd" start
start godns 5404 "$D/godns" -addr 127.0.0.1:5404 -listeners 1
start geodns 5406 "$D/geodns-bench" -config "$D/geodns.yaml" -listen 127.0.0.1:5406
if [ -n "$PREV" ]; then
  start geodns-prev 5407 "$D/geodns-bench-prev" -config "$D/geodns.yaml" -listen 127.0.0.1:5407
  targets="gdnsd:5401 geodns:5406 geodns-prev:5407 godns:5404"
fi

pass() { # out [dnsperf options]: REPS interleaved reps of every target
  local out=$D/$1; shift; mkdir -p "$out"; : > "$out/res.csv"
  for rep in $(seq "$REPS"); do
    for t in $targets; do
      local name=${t%%:*} port=${t#*:} raw="$out/${t%%:*}.r$rep.txt"
      taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d q.txt -l "$DUR" -c 8 -T 1 -q 500 "$@" > "$raw" 2>&1 &
      local dp=$!
      sleep 1
      cpu "$dp" $((DUR - 2)) > "$out/.dp" &
      local cp=$!
      # other load generators on the machine during the rep (a shared machine)
      (sleep $((DUR / 2)); { pgrep -x dnsperf; pgrep -x wrk; pgrep -x h2load; pgrep -f 'cdn loadtest'; } | grep -vxc "$dp" > "$out/.fg") &
      local fg=$!
      local c; c=$(cpu "$(cat "$D/pids/$name")" $((DUR - 2)))
      wait "$dp" "$cp" "$fg" || true # not the servers, which are children too
      echo "$name,$rep,$(awk '/Queries per second/ {print $4}' "$raw"),$(awk '/Queries lost/ {print $3}' "$raw"),$c,$(cut -d' ' -f1 /proc/loadavg),$(cat "$out/.dp"),$(cat "$out/.fg")" | tee -a "$out/res.csv"
      sleep 1
    done
  done
  python3 "$here/summarize.py" "$out/res.csv" | tee "$out/summary.txt"
}

pass pinned
[ -z "$RATE" ] || pass "rate$RATE" -Q "$RATE"
if [ -n "$PROFILE" ]; then # a CPU profile of geodns under the same load
  kill "$(cat "$D/pids/geodns")"; rm -f "$D/pids/geodns"; sleep 0.5
  start geodns 5406 "$D/geodns-bench" -config "$D/geodns.yaml" -listen 127.0.0.1:5406 \
    -cpuprofile "$D/geodns.pprof" -prof-after 5s -prof-for 10s
  taskset -c 1 dnsperf -s 127.0.0.1 -p 5406 -d q.txt -l 15 -c 8 -T 1 -q 500 > "$D/profile-dnsperf.txt" 2>&1
  sleep 1
  go tool pprof -top -nodecount 30 "$D/geodns-bench" "$D/geodns.pprof" | tee "$D/profile.txt"
fi
