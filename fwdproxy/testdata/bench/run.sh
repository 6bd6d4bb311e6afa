#!/bin/sh
# Forward proxy benchmark against Squid and Tinyproxy on loopback (see the
# "Forward proxy" section of docs/BENCHMARKS.md). Servers on CPU 0, load and
# the origin on CPU 1. Needs: apt-get install squid tinyproxy wrk.
set -e
D=/tmp/fpb; mkdir -p $D; chmod 777 $D
here=$(cd "$(dirname "$0")" && pwd); root=$here/../../..
cp $here/squid.conf $here/tinyproxy.conf $here/hit.lua $here/miss.lua $D/
(cd $root && go build -o $D/cdn ./cmd/cdn && go test -c -o $D/fwdproxy.test ./fwdproxy)
cd $D
taskset -c 1 ./cdn origin --listen 127.0.0.1:19000 >origin.log 2>&1 & echo $! > origin.pid
taskset -c 0 ./cdn proxy --listen 127.0.0.1:13128 --allow-private 127.0.0.0/8 --connect-ports 1-65535 \
  --access-log "" --max-conns-per-client -1 --max-tunnels -1 --log-level warn >ours.log 2>&1 & echo $! > ours.pid
taskset -c 0 squid -f $D/squid.conf -N >squid.out 2>&1 & echo $! > squid-run.pid
taskset -c 0 tinyproxy -d -c $D/tinyproxy.conf >tiny.log 2>&1 & echo $! > tiny.pid
for p in 13128 13129 13130; do
  until curl -s -o /dev/null -x http://127.0.0.1:$p http://127.0.0.1:19000/gen/warm; do sleep 0.2; done
done
for r in 1 2 3 4; do for s in hit miss; do for p in 13128 13129 13130; do
  printf "r$r $s $p "; taskset -c 1 wrk -t1 -c32 -d5s -s $s.lua http://127.0.0.1:$p/ | awk '/Requests\/sec/ {print $2}'
done; done; done
for r in 1 2; do for p in 13128 13129 13130; do
  echo "== r$r $p"; FWDPROXY_PEER=127.0.0.1:$p taskset -c 1 ./fwdproxy.test -test.run XXX -test.bench . -test.benchtime 4s | grep Benchmark
done; done
for f in tiny squid-run ours origin; do kill $(cat $f.pid); done
