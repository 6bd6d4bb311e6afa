#!/bin/bash
# Layer-4 benchmark: cdn l4 vs HAProxy mode tcp vs nginx stream, same backends.
set -u
B=/tmp/l4b; cd $B
REPS=${REPS:-2}; DUR=${DUR:-8}
start() {
  taskset -c 1 nginx -c $B/backend.conf -p $B
  for p in 9501 9502 9503; do taskset -c 1 ./l4bench -sink 127.0.0.1:$p & echo $! > run/sink$p.pid; done
  taskset -c 0 haproxy -D -f $B/haproxy.cfg
  taskset -c 0 nginx -c $B/nginx-stream.conf -p $B
  taskset -c 0 ./cdn l4 --listen 127.0.0.1:9331 --backend 127.0.0.1:9401 --backend 127.0.0.1:9402 --backend 127.0.0.1:9403 --proxy-protocol v1 --health off --log-level warn > logs/l4-http.out 2>&1 & echo $! > run/l4-http.pid
  taskset -c 0 ./cdn l4 --listen 127.0.0.1:9332 --backend 127.0.0.1:9501 --backend 127.0.0.1:9502 --backend 127.0.0.1:9503 --proxy-protocol v1 --health off --log-level warn > logs/l4-bulk.out 2>&1 & echo $! > run/l4-bulk.pid
  sleep 1
}
stop() {
  for f in run/*.pid; do [ -s "$f" ] && kill $(cat $f) 2>/dev/null; rm -f $f; done
}
"$@"
