#!/usr/bin/env python3
"""The engine load benchmark (issue 4): the example hospital engine over loopback with the
embedded SQLite store (synchronous=FULL), every message routed to three MLLP sinks that ACK,
driven by `hl7 bench` (16 concurrent senders, the parse benchmarks' hospital-mix corpus).

    python3 examples/bench/engine_load.py [--duration 60] [--backlog 1000000] [--peer]

Builds the release binaries first. Reports, all measured in this run:
  - ingest: ACKs/s and latency percentiles at concurrency 16 (each ACK after the durable commit),
    while the engine delivers every message to the three sinks at the same time;
  - end to end: messages delivered to all three sinks per second over the run (ingest + 3
    deliveries), and how long the queues took to drain after the senders stopped;
  - one sender (concurrency 1): p50 ACK latency;
  - CPU per message (user + system time / messages) of the engine, of the three sinks together
    and of the load generator: they share the machine, so each one's cost is the others' loss;
    and the engine's by thread (runtime, applier, group-commit writer, fdatasync, checkpointer);
  - ingest only: a fresh engine and store whose three sinks are not reachable (nothing listens
    on their ports), so every message is stored, acknowledged and queued durably for three
    destinations while no delivery happens (each worker's first attempt fails and backs off);
    the same 16 senders for the same duration, and the bytes the engine wrote per message;
  - with --backlog N: one destination down while N messages queue for it, the engine's RSS
    sampled along the way (flat = bounded memory);
  - with --peer: python-hl7's asyncio MLLP server (parse and ACK, no store) under the same load;
  - with --delivery-only N, instead of all the above: N messages stored and queued while the
    three sinks are down, then the sinks start; the time from the first delivery (the workers
    first wait out their retry backoff) to the last, and the engine's and the sinks' CPU per
    message meanwhile (delivery without the ingest competing).
"""
import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
RELEASE = os.path.join(TARGET, "release")
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, limit=30):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"nothing listens on port {port} after {limit} s")


def stat_times(path):
    """The name and the user and system CPU seconds in a `/proc/.../stat` file."""
    with open(path) as f:
        name, rest = f.read().split("(", 1)[1].rsplit(")", 1)
    fields = rest.split()
    return name, int(fields[11]) / TICKS, int(fields[12]) / TICKS


def cpu_seconds(pid):
    _, user, system = stat_times(f"/proc/{pid}/stat")
    return user + system


def thread_cpu_seconds(pid):
    """CPU seconds (user, system) of each live thread of the process, by thread id, with its
    name."""
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            threads[tid] = stat_times(f"/proc/{pid}/task/{tid}/stat")
        except FileNotFoundError:  # the thread ended meanwhile
            continue
    return threads


def cpu_us_per_message_by_thread(pid, before, process_cpu_s, messages):
    """Where the engine's CPU went since `before` (a `thread_cpu_seconds`), per message and by
    thread name, user and system apart; threads that ended meanwhile (idle blocking-pool
    threads) count as `ended threads`."""
    by_name = {}
    counted = 0.0
    for tid, (name, user, system) in thread_cpu_seconds(pid).items():
        _, user0, system0 = before.get(tid, (name, 0.0, 0.0))
        u, s = by_name.get(name, (0.0, 0.0))
        by_name[name] = (u + user - user0, s + system - system0)
        counted += user - user0 + system - system0
    per = 1e6 / max(messages, 1)
    report = {name: {"user": round(u * per, 1), "system": round(s * per, 1)}
              for name, (u, s) in sorted(by_name.items()) if u + s > 0}
    report["ended threads"] = round(max(process_cpu_s - counted, 0.0) * per, 1)
    return report


def written_bytes(pid):
    """Bytes the process caused to be written to the disk (`write_bytes` of /proc/PID/io)."""
    with open(f"/proc/{pid}/io") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("write_bytes:"))


def rss_mib(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def lines(path):
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench(port, concurrency, duration=None, count=None):
    """The report of one `hl7 bench` run, with the CPU seconds it used as `cpu_s`."""
    cmd = [os.path.join(RELEASE, "hl7"), "bench", "--to", f"127.0.0.1:{port}",
           "-c", str(concurrency), "--json", "-q"]
    cmd += ["--duration", f"{duration}s"] if duration else ["--count", str(count)]
    cpu0 = children_cpu_seconds()
    out = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if out.returncode not in (0,):
        print(out.stderr, file=sys.stderr)
    report = json.loads(out.stdout)
    report["cpu_s"] = children_cpu_seconds() - cpu0
    return report


class Procs:
    def __init__(self):
        self.procs = []

    def start(self, cmd, log):
        p = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def start_engine(work, procs, sinks, name="engine"):
    """The example engine over a fresh store, delivering to `sinks`; (process, port)."""
    listen = free_port()
    engine = procs.start([os.path.join(RELEASE, "hospital"), "--listen", f"127.0.0.1:{listen}",
                          "--store", f"sqlite:{os.path.join(work, name + '.db')}",
                          "--ehr", f"127.0.0.1:{sinks[0]}", "--billing", f"127.0.0.1:{sinks[1]}",
                          "--pharmacy", f"127.0.0.1:{sinks[2]}", "--fan-out-all"],
                         os.path.join(work, name + ".out"))
    wait_port(listen)
    return engine, listen


def start_sinks(work, procs, ports):
    """The three MLLP sinks (`hl7 listen`) on `ports`; (their sink logs, their processes)."""
    logs, sink_procs = [], []
    for name, port in zip(("ehr", "billing", "pharmacy"), ports):
        log = os.path.join(work, f"{name}.log")
        sink_procs.append(procs.start([os.path.join(RELEASE, "hl7"), "listen", "--port",
                                       str(port), "-q", "--sink-log", log],
                                      os.path.join(work, f"{name}.out")))
        logs.append(log)
    for port in ports:
        wait_port(port)
    return logs, sink_procs


def engine_run(args, work, procs):
    sinks = [free_port() for _ in range(3)]
    logs, sink_procs = start_sinks(work, procs, sinks)
    engine, listen = start_engine(work, procs, sinks)

    cpu0, t0 = cpu_seconds(engine.pid), time.time()
    threads0 = thread_cpu_seconds(engine.pid)
    sinks_cpu0 = sum(cpu_seconds(p.pid) for p in sink_procs)
    report = bench(listen, 16, duration=args.duration)
    sent_for = time.time() - t0
    acked = report["positive"]
    delivered_during = min(lines(l) for l in logs)
    while min(lines(l) for l in logs) < acked:
        time.sleep(0.2)
        if time.time() - t0 > sent_for + 600:
            sys.exit("queues did not drain within 10 minutes")
    total = time.time() - t0
    cpu = cpu_seconds(engine.pid) - cpu0
    by_thread = cpu_us_per_message_by_thread(engine.pid, threads0, cpu, acked)
    sinks_cpu = sum(cpu_seconds(p.pid) for p in sink_procs) - sinks_cpu0

    single = bench(listen, 1, duration=10)
    result = {
        "ingest": report,
        "end_to_end": {
            "acked": acked,
            "delivered_to_all_3_during_send": delivered_during,
            "e2e_msgs_per_s_during_send": delivered_during / sent_for,
            "e2e_msgs_per_s_until_drained": acked / total,
            "drain_s": total - sent_for,
        },
        "single_sender": single,
        "cpu_ms_per_message": 1000 * cpu / max(acked, 1),
        "cpu_ms_per_message_by_process": {
            "engine": 1000 * cpu / max(acked, 1),
            "sinks_3": 1000 * sinks_cpu / max(acked, 1),
            "load_generator": 1000 * report["cpu_s"] / max(acked, 1),
        },
        "engine_cpu_us_per_message_by_thread": by_thread,
    }
    if args.backlog:
        # One destination down: stop the pharmacy sink; its queue grows on disk.
        procs.procs[2].send_signal(signal.SIGTERM)
        procs.procs[2].wait()
        samples = []
        sender = subprocess.Popen([os.path.join(RELEASE, "hl7"), "bench", "--to",
                                   f"127.0.0.1:{listen}", "-c", "16", "--count",
                                   str(args.backlog), "-q", "--json"],
                                  stdout=subprocess.PIPE, text=True)
        while sender.poll() is None:
            samples.append(round(rss_mib(engine.pid), 1))
            time.sleep(5)
        result["backlog"] = {"messages": args.backlog, "rss_mib_every_5s": samples}
    return result


def ingest_only_run(args, work, procs):
    """A fresh engine whose sinks are unreachable: stored, acknowledged, queued, not delivered."""
    engine, listen = start_engine(work, procs, [free_port() for _ in range(3)], "ingest-only")
    cpu0 = cpu_seconds(engine.pid)
    threads0 = thread_cpu_seconds(engine.pid)
    written0 = written_bytes(engine.pid)
    report = bench(listen, 16, duration=args.duration)
    cpu = cpu_seconds(engine.pid) - cpu0
    report["engine_cpu_ms_per_message"] = 1000 * cpu / max(report["positive"], 1)
    report["engine_cpu_us_per_message_by_thread"] = cpu_us_per_message_by_thread(
        engine.pid, threads0, cpu, report["positive"])
    time.sleep(2)  # the applier and the checkpointer finish what the senders left
    report["engine_written_kb_per_message"] = ((written_bytes(engine.pid) - written0)
                                               / 1000 / max(report["positive"], 1))
    return report


def delivery_only_run(args, work, procs):
    """Delivery alone: `--delivery-only N` messages stored and queued while the sinks are
    down, then the sinks start; the time to deliver them all to the three, and the engine's
    and the sinks' CPU per message meanwhile."""
    sinks = [free_port() for _ in range(3)]
    engine, listen = start_engine(work, procs, sinks, "delivery-only")
    queued = bench(listen, 16, count=args.delivery_only)["positive"]
    cpu0, started = cpu_seconds(engine.pid), time.time()
    logs, sink_procs = start_sinks(work, procs, sinks)
    # The workers found the sinks down while the messages were queued and wait out their
    # retry backoff (1 s doubling, so up to 8 s after a 7 s queueing) before they connect:
    # the clock starts at the first delivery, not at the sinks' start.
    while max(lines(l) for l in logs) == 0:
        time.sleep(0.01)
        if time.time() - started > 120:
            sys.exit("no delivery within 2 minutes of the sinks' start")
    t0 = time.time()
    while min(lines(l) for l in logs) < queued:
        time.sleep(0.1)
        if time.time() - t0 > 600:
            sys.exit("the queues did not drain within 10 minutes")
    took = time.time() - t0
    return {
        "messages": queued,
        "first_delivery_after_sinks_started_s": t0 - started,
        "delivered_to_all_3_in_s": took,
        "msgs_per_s": queued / took,
        "cpu_ms_per_message_by_process": {
            "engine": 1000 * (cpu_seconds(engine.pid) - cpu0) / max(queued, 1),
            "sinks_3": 1000 * sum(cpu_seconds(p.pid) for p in sink_procs) / max(queued, 1),
        },
    }


def peer_run(args, work, procs):
    port = free_port()
    procs.start([sys.executable, os.path.join(ROOT, "examples", "bench", "peer_python_hl7.py"),
                 str(port)], os.path.join(work, "peer.out"))
    wait_port(port)
    return bench(port, 16, duration=min(args.duration, 20))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=60)
    ap.add_argument("--backlog", type=int, default=0)
    ap.add_argument("--peer", action="store_true")
    ap.add_argument("--delivery-only", type=int, default=0, metavar="N",
                    help="only the delivery-alone run, with N messages queued first")
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "hl7-cli", "-p", "hl7-examples"],
                       cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="hl7-engine-bench-")
    procs = Procs()
    try:
        if args.delivery_only:
            result = {"delivery_only": delivery_only_run(args, work, procs)}
        else:
            result = {"engine": engine_run(args, work, procs)}
            procs.stop()
            procs = Procs()
            result["ingest_only"] = ingest_only_run(args, work, procs)
            procs.stop()
            procs = Procs()
            if args.peer:
                result["peer_python_hl7"] = peer_run(args, work, procs)
    finally:
        procs.stop()
    print(json.dumps(result, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
