#!/bin/bash
# Interleaved reps: rep 1 of every target, then rep 2.
set -u
cd /tmp/l4b; OUT=${OUT:-results.txt}; REPS=${REPS:-2}; DUR=${DUR:-8}
: > $OUT
declare -A HTTP=( [direct]=9400 [haproxy]=9311 [nginx]=9321 [cdn-l4]=9331 )
declare -A BULK=( [haproxy]=9312 [nginx]=9322 [cdn-l4]=9332 )
for rep in $(seq $REPS); do
  for t in direct haproxy nginx cdn-l4; do
    p=${HTTP[$t]}
    r=$(taskset -c 1 wrk -t1 -c64 -d${DUR}s -H 'Connection: close' http://127.0.0.1:$p/ | awk '/Requests\/sec/{print $2}')
    echo "rep=$rep target=$t test=newconn rps=$r" | tee -a $OUT
    l=$(taskset -c 1 wrk -t1 -c16 -d${DUR}s --latency http://127.0.0.1:$p/ | awk '/^ +50%/{p50=$2} /^ +99%/{p99=$2} /Requests\/sec/{r=$2} END{print "p50="p50" p99="p99" rps="r}')
    echo "rep=$rep target=$t test=latency $l" | tee -a $OUT
  done
  for t in haproxy nginx cdn-l4; do
    p=${BULK[$t]}
    for f in 1 16; do
      g=$(taskset -c 1 ./l4bench -bulk 127.0.0.1:$p -flows $f -for ${DUR}s)
      echo "rep=$rep target=$t test=bulk $g" | tee -a $OUT
    done
  done
done
