"""What one `mafa watch` refresh costs as the recorded history grows: the time of one snapshot and
of its database part, with 10 thousand and then 1 million processed messages recorded (rows seeded
directly), and the CPU share of `mafa watch --interval 1s` itself.

    .venv/bin/python bench/watch.py

Brings up its own stack (project benchwatch, 1 sender, 2 receivers) and removes it at the end.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

STATE = tempfile.mkdtemp(prefix="mafa-bench-watch-")
os.environ["MAFA_STATE_DIR"] = STATE
PROJECT = "benchwatch"

from mafa_cli.watch.collectors import Collector  # noqa: E402  (after MAFA_STATE_DIR is set)

SEED = """
INSERT INTO sender.messages (id, body, node, status, accepted_at)
SELECT md5(g::text || %(tag)s)::uuid, 'seeded ' || g, 'sender-seed', 'accepted', now()
FROM generate_series(1, %(n)s) g;
INSERT INTO receiver.processed (message_id, body, sent_by, handled_by, attempt, duration_ms)
SELECT md5(g::text || %(tag)s)::uuid, 'seeded ' || g, 'sender-seed',
       'receiver-seed-' || (g %% 5), 1, random() * 5000
FROM generate_series(1, %(n)s) g;
INSERT INTO receiver.attempts (message_id, node, attempt, outcome, redelivered, duration_ms)
SELECT md5(g::text || %(tag)s)::uuid, 'receiver-seed-' || (g %% 5), 1, 'processed', false,
       random() * 5000
FROM generate_series(1, %(n)s) g;
INSERT INTO receiver.nodes AS n (node, handled)
SELECT 'receiver-seed-' || k, %(n)s / 5 FROM generate_series(0, 4) k
ON CONFLICT (node) DO UPDATE SET handled = n.handled + excluded.handled;
INSERT INTO sender.nodes AS n (node, accepted) VALUES ('sender-seed', %(n)s)
ON CONFLICT (node) DO UPDATE SET accepted = n.accepted + excluded.accepted;
ANALYZE;
"""


def mafa(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "mafa_cli", *args], check=True, capture_output=True)


def measure(collector: Collector, label: str) -> None:
    collector.collect()  # warm: connections, samplers
    total, database = [], []
    for _ in range(20):
        started = time.perf_counter()
        collector.collect()
        total.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        collector._read_nodes()  # the database part alone
        database.append((time.perf_counter() - started) * 1000)
        time.sleep(0.2)
    print(
        f"{label:>28}: snapshot median {statistics.median(total):6.1f} ms "
        f"(p90 {sorted(total)[17]:6.1f}), database median {statistics.median(database):5.1f} ms",
        flush=True,
    )


def cpu_share(seconds: int = 30) -> float:
    watcher = subprocess.Popen(
        [sys.executable, "-m", "mafa_cli", "watch", "-p", PROJECT, "--interval", "1s"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(3)  # past start-up
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu() -> float:
        with open(f"/proc/{watcher.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    before = cpu()
    time.sleep(seconds)
    used = cpu() - before
    watcher.terminate()
    watcher.wait()
    return used / seconds * 100


def main() -> None:
    mafa("up", "-p", PROJECT, "--port", "18997", "--senders", "1", "--receivers", "2")
    try:
        collector = Collector(PROJECT)
        client = collector._client
        measure(collector, "empty")
        seeded = 0
        for target in (10_000, 1_000_000):
            started = time.perf_counter()
            with client.database().transaction() as cur:
                for statement in filter(str.strip, SEED.split(";")):
                    params = {"n": target - seeded, "tag": str(target)}
                    cur.execute(statement, params if "%(" in statement else None)
            seeded = target
            print(
                f"seeded to {target:,} messages in {time.perf_counter() - started:.0f}s", flush=True
            )
            measure(collector, f"{target:,} messages")
        print(f"mafa watch --interval 1s uses {cpu_share():.1f} % of one core (30 s, 1M messages)")
        collector.close()
    finally:
        mafa("down", "-p", PROJECT, "--volumes")


if __name__ == "__main__":
    main()
