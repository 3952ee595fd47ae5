#!/bin/bash
# Delivery alone (issue 4, README "The engine under load"): the example engine ingests 60,000
# messages while its three sinks are down, then the sinks start; prints the time to deliver them
# all and the engine's and sinks' CPU per message meanwhile.
# Usage: examples/bench/delivery_only.sh [BIN_DIR (default target/release)] [PERF_DATA_OUT]
B=${1:-target/release}; PERF=$2
W=$(mktemp -d /tmp/dr.XXXX)
P=$((7300 + RANDOM % 500))
$B/hospital --listen 127.0.0.1:$P --store sqlite:$W/e.db --ehr 127.0.0.1:$((P+1)) --billing 127.0.0.1:$((P+2)) --pharmacy 127.0.0.1:$((P+3)) --fan-out-all > $W/eng.out 2>&1 &
E=$!
sleep 1.5
$B/hl7 bench --to 127.0.0.1:$P -c 16 --count 60000 --json -q > $W/bench.json
N=$(python3 -c "import json;print(json.load(open('$W/bench.json'))['positive'])")
sleep 2
S=()
for i in 1 2 3; do $B/hl7 listen --port $((P+i)) -q --sink-log $W/s$i.log > $W/s$i.out 2>&1 & S+=($!); done
cpu() { awk '{print $14+$15}' /proc/$E/stat; }
scpu() { t=0; for s in ${S[@]}; do t=$((t + $(awk '{print $14+$15}' /proc/$s/stat))); done; echo $t; }
c0=$(cpu); s0=$(scpu); t0=$(date +%s.%N)
if [ -n "$PERF" ]; then perf record -F 2000 -g --call-graph dwarf,16384 -p $E -o $PERF -- sleep 6 > /dev/null 2>&1 & PP=$!; fi
while true; do
  m=$(for i in 1 2 3; do wc -l < $W/s$i.log 2>/dev/null || echo 0; done | sort -n | head -1)
  [ "$m" -ge "$N" ] && break
  sleep 0.1
done
t1=$(date +%s.%N); c1=$(cpu); s1=$(scpu)
[ -n "$PP" ] && wait $PP
python3 -c "
n=$N; dt=$t1-$t0; c=($c1-$c0)/100; s=($s1-$s0)/100
print(f'delivered {n} x3 in {dt:.1f}s: {n/dt:.0f} msgs/s, engine {1000*c/n:.3f} ms/msg, sinks {1000*s/n:.3f} ms/msg')"
kill $E ${S[@]} 2>/dev/null; wait 2>/dev/null
rm -rf $W
