#!/usr/bin/env python3
"""Put a peer-benchmark run into docs/BENCHMARKS.md between the markers
<!-- peers:begin --> and <!-- peers:end -->.
   to_markdown.py RESULTS_DIR BENCHMARKS_MD"""
import json, os, re, subprocess, sys
out, doc = sys.argv[1], sys.argv[2]
summary = open(os.path.join(out, 'summary.md')).read()
lt = ['| target | req/s | p50 ms | p99 ms | hit ratio | errors |', '|---|---:|---:|---:|---:|---:|']
for name in ('edge', 'nginx-cache', 'varnish'):
    p = os.path.join(out, f'loadtest-{name}.json')
    if not os.path.exists(p):
        continue
    try:
        r = json.load(open(p))
    except Exception:
        continue
    tot = r.get('total', {})
    lat = tot.get('latency', {})
    cache = tot.get('cache', {})
    hr = cache.get('hit_ratio')
    hr = '-' if hr is None else f'{hr:.3f}'
    lt.append(f"| {name} | {tot.get('throughput_rps', 0):,.0f} | {lat.get('p50_ms', 0):.2f} | {lat.get('p99_ms', 0):.2f} | {hr} | {tot.get('errors', 0)} |")
cpu = subprocess.run(['sh', '-c', "lscpu | sed -n 's/^Model name: *//p'"], capture_output=True, text=True).stdout.strip()
block = f"""<!-- peers:begin -->
Run `{os.path.basename(out)}` on {cpu}: servers pinned to CPU 0, load tools to CPU 1,
every target measured in the same run with interleaved repetitions (medians).
Command: `scripts/bench-peers.sh` (`make bench-peers`).

{summary}

`cdn loadtest` (Zipf 1.0 over 200 URLs of the 1 KiB file, 32 connections):

{chr(10).join(lt)}
<!-- peers:end -->"""
text = open(doc).read() if os.path.exists(doc) else '# Benchmarks\n\n<!-- peers:begin -->\n<!-- peers:end -->\n'
if '<!-- peers:begin -->' not in text:
    text += '\n<!-- peers:begin -->\n<!-- peers:end -->\n'
text = re.sub(r'<!-- peers:begin -->.*?<!-- peers:end -->', lambda m: block, text, flags=re.S)
open(doc, 'w').write(text)
