#!/usr/bin/env python3
"""Table of a run.sh pass: per target the qps of each rep and their median,
the median and range of the per-rep ratio to gdnsd (same rep), the CPU
use of the server and of dnsperf (% of one core), qps per core of server
CPU, and how many other load generators were seen on the machine."""
import collections
import csv
import statistics as st
import sys

rows = list(csv.reader(open(sys.argv[1])))
ref = sys.argv[2] if len(sys.argv) > 2 else "gdnsd"
by, order = collections.defaultdict(dict), []
for name, rep, qps, lost, cpu, load, dp, foreign in rows:
    if name not in order:
        order.append(name)
    by[name][int(rep)] = (float(qps or 0), int(cpu or 0), int(dp or 0), int(foreign or 0))
reps = sorted(by[ref])
print(f"{'target':12} {'qps per rep':>24} {'median':>8} {'x ' + ref + ' (range)':>20} {'server %':>10} {'dnsperf %':>10} {'qps/core':>9} others")
for n in order:
    r = [x for x in reps if x in by[n]]
    qs = [by[n][x][0] for x in r]
    ratio = [by[n][x][0] / by[ref][x][0] for x in r if by[ref][x][0]]
    per_core = [by[n][x][0] / by[n][x][1] * 100 for x in r if by[n][x][1]]
    print(f"{n:12} {' '.join(f'{q:7.0f}' for q in qs):>24} {st.median(qs):8.0f} "
          f"{st.median(ratio):6.2f} ({min(ratio):.2f}-{max(ratio):.2f})   "
          f"{' '.join(str(by[n][x][1]) for x in r):>10} {' '.join(str(by[n][x][2]) for x in r):>10} "
          f"{st.median(per_core):9.0f} {[by[n][x][3] for x in r]}")
