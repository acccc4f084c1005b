"""Benchmark: tasks/s through the retry policy vs a plain Celery task, same broker, same worker.

    make bench ONLY=queue      # or: .venv/bin/python -m bench.queue [--tasks 400] [--rounds 7]
                               #     [--broker redis|rabbitmq|both]

It runs on BENCH_DATABASE_URL (default: MariaDB `ops_bench_queue` on 127.0.0.1, created if
missing, migrated) and BENCH_REDIS_URL (default: redis://127.0.0.1:6379/6), in a temporary
VAR_DIR, so it touches neither the tests' nor the live data. Each broker gets its rows in the
same run: Redis, then RabbitMQ at BENCH_RABBITMQ_URL (default: the vhost `ops_bench_queue` on
127.0.0.1:5672 as guest, created with rabbitmqctl if missing), each in a process of its own
(the broker is a setting). On RabbitMQ a round ends once the queue has no ready message and the
worker reports none reserved or active (RabbitMQ counts no unacknowledged message for a
passive declare).

One real `celery worker` (prefork, concurrency 2, as the Procfile runs it) loads both tasks.
Each round fills a queue with N messages of one kind while the worker ignores it, then tells
the worker to consume it and times until the queue and the unacknowledged set are empty:
publishing is outside the timing. Rounds alternate plain/policy/policy/plain so drift on a
shared machine hits both, and each round's policy rate is divided by the plain rate measured
next to it. Two settings: results stored (the project's default, django-db) and
`ignore_result` (the policy's overhead with nothing else to hide behind). The ratio is the
median of those paired ratios; the target is >= 0.95.

Wall-clock rates on a machine other work is loading swing by 2x between rounds, so the bench
also reads the CPU time the worker's processes spent per task (/proc): `cpu ratio` is plain
CPU per task over policy CPU per task, the throughput ratio of a worker that has the CPU to
itself. When the load average exceeded the cores during the run, the verdict uses the CPU
ratio and says so. Exits 1 below target.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RABBITMQ_URL = os.environ.get("BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/ops_bench_queue")
if __name__ == "__main__":
    # Run as a script, this folder comes first on sys.path, and this file would shadow the
    # standard library's `queue` for Celery and kombu: put the repository there instead.
    sys.path[0] = str(REPO)
    # Importing the project below reads its settings (opsproject/celery.py): point them at the
    # bench's own database, Redis, folder and broker first. The worker this starts inherits them.
    os.environ.update(
        DATABASE_URL=os.environ.get("BENCH_DATABASE_URL", "mysql://root@127.0.0.1:3306/ops_bench_queue"),
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6"),
        VAR_DIR=tempfile.mkdtemp(prefix="bench-queue-"),
        DJANGO_SETTINGS_MODULE="opsproject.settings",
    )
    _broker = argparse.ArgumentParser(add_help=False)
    _broker.add_argument("--broker", default="both")
    if _broker.parse_known_args()[0].broker == "rabbitmq":
        os.environ["CELERY_BROKER_URL"] = RABBITMQ_URL

from celery import shared_task  # noqa: E402

from bench.health import ensure_database  # noqa: E402
from queueops.policy import policy_task  # noqa: E402

TARGET = 0.95
WORKER = "bench@%h"


@shared_task(name="bench.queue.plain")
def plain(n: int) -> int:
    return n


@policy_task(name="bench.queue.policy")
def policy(n: int) -> int:
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=400, help="messages per round (400)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per task kind and setting (7)")
    parser.add_argument("--broker", choices=("redis", "rabbitmq", "both"), default="both", help="(both)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # a child's answer
    options = parser.parse_args()
    if options.broker == "both":
        shutil.rmtree(os.environ["VAR_DIR"], ignore_errors=True)  # each broker's process has its own
        table, loads = [], []
        for broker in ("redis", "rabbitmq"):
            argv = [sys.executable, "-m", "bench.queue", "--broker", broker, "--json"]
            argv += ["--tasks", str(options.tasks), "--rounds", str(options.rounds)]
            done = subprocess.run(argv, cwd=REPO, stdout=subprocess.PIPE, text=True, check=True)
            answer = json.loads(done.stdout.strip().splitlines()[-1])
            table += [tuple(row) for row in answer["table"]]
            loads.append(answer["peak_load"])
        return _report(table, options, max(loads))
    if options.broker == "rabbitmq":
        _create_rabbitmq_vhost()
    var_dir = os.environ["VAR_DIR"]  # set, with the rest, before the project was imported (above)
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    from keyvalue import store
    from opsproject.celery import app
    from queueops.keys import PREFIX

    call_command("migrate", verbosity=0, interactive=False)
    redis = store().client
    host = os.uname().nodename
    argv = [str(Path(sys.executable).parent / "celery"), "-A", "opsproject", "worker", "--loglevel=ERROR"]
    argv += ["--pool=prefork", "--concurrency=2", "--without-gossip", "--without-mingle"]
    argv += ["--queues=bench_idle", f"--hostname={WORKER}", "--include=bench.queue"]
    # Its banner is noise here; errors still reach stderr. (A BRPOP still waiting on a queue
    # the worker stopped consuming hands one message back to it: harmless, and not logged.)
    worker = subprocess.Popen(
        argv, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True
    )
    destination = [WORKER.replace("%h", host)]
    try:
        _wait_ready(app, destination)
        table, loads = [], [os.getloadavg()[0]]
        for ignore_result in (False, True):
            rates, cpu = {"plain": [], "policy": []}, {"plain": [], "policy": []}
            for round_ in range(options.rounds):
                order = ("plain", "policy") if round_ % 2 == 0 else ("policy", "plain")
                for kind in order:
                    task = plain if kind == "plain" else policy
                    rate, cpu_ms = _measure(
                        app, redis, destination, task, options.tasks, ignore_result, worker.pid
                    )
                    rates[kind].append(rate)
                    cpu[kind].append(cpu_ms)
                loads.append(os.getloadavg()[0])
            setting = "ignore_result" if ignore_result else "results stored"
            table.append((f"{options.broker} {setting}", rates, cpu))
    finally:
        worker.terminate()
        worker.wait(30)
        keys = list(redis.scan_iter(f"{PREFIX}attempts:*"))
        for start in range(0, len(keys), 1000):
            redis.delete(*keys[start : start + 1000])
        shutil.rmtree(var_dir, ignore_errors=True)
    if options.json:
        print(json.dumps({"table": table, "peak_load": max(loads)}))
        return 0
    return _report(table, options, max(loads))


def _create_rabbitmq_vhost() -> None:
    vhost = RABBITMQ_URL.rsplit("/", 1)[1]
    # add_vhost fails when it exists: that is fine; the permissions are set either way.
    subprocess.run(["rabbitmqctl", "add_vhost", vhost], capture_output=True, timeout=120)
    subprocess.run(
        ["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        capture_output=True,
        timeout=120,
        check=True,
    )


def _wait_ready(app, destination, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.control.ping(destination=destination, timeout=1):
            return
    raise SystemExit("bench/queue.py: the worker did not answer within 60 s")


def _group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of group `pgid`."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # from the state on: field n is fields[n - 3]
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _measure(
    app, redis, destination, task, count: int, ignore_result: bool, pgid: int
) -> tuple[float, float]:
    """Tasks per second, and the worker's CPU milliseconds per task, for one round."""
    queue = f"bench_{task.name.rsplit('.', 1)[1]}"
    pending = _pending_on(app, redis, destination, queue)
    with app.connection_for_write() as conn:
        if conn.transport_cls == "redis":
            redis.delete(queue)
        else:
            app.amqp.queues[queue](conn.default_channel).declare()
            conn.default_channel.queue_purge(queue)
    with app.producer_or_acquire() as producer:
        for n in range(count):
            task.apply_async(args=[n], queue=queue, ignore_result=ignore_result, producer=producer)
    cpu_before = _group_cpu(pgid)
    started = time.monotonic()
    # As this process declared it: on RabbitMQ a quorum queue on a topic exchange, which a
    # worker declaring add_consumer's defaults (classic, direct) would be refused.
    declared = app.amqp.queues[queue]
    app.control.add_consumer(
        queue,
        exchange_type=declared.exchange.type,
        options={"queue_arguments": declared.queue_arguments or {}},
        destination=destination,
        reply=True,
        timeout=5,
    )
    quiet_since = None
    while True:  # done once nothing is pending for 30 ms: on Redis a message BRPOPped but
        # not yet in the unacked set is briefly in neither the queue nor that set
        if pending():
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= 0.03:
            break
        time.sleep(0.005)
    elapsed = quiet_since - started
    cpu_ms = (_group_cpu(pgid) - cpu_before) * 1000 / count
    app.control.cancel_consumer(queue, destination=destination, reply=True, timeout=5)
    return count / elapsed, cpu_ms


def _pending_on(app, redis, destination, queue: str):
    """A function saying whether any message of `queue` waits or runs, for this broker."""
    with app.connection_for_read() as conn:
        transport = conn.transport_cls
    if transport == "redis":
        return lambda: redis.llen(queue) or redis.hlen("unacked")
    inspect = app.control.inspect(destination=destination, timeout=1, limit=1)

    def pending() -> bool:
        with app.connection_for_read() as conn:
            if conn.default_channel.queue_declare(queue, passive=True).message_count:
                return True
        return any(any(answer.values()) for answer in (inspect.reserved() or {}, inspect.active() or {}))

    return pending


def _report(table, options, peak_load: float) -> int:
    cores = os.cpu_count() or 1
    loaded = peak_load > cores
    print(f"\nbench/queue.py: {options.tasks} tasks x {options.rounds} rounds per kind, concurrency 2")
    print("ratio: policy/plain on the same broker, rounds interleaved")
    print(f"load average peaked at {peak_load:.1f} on {cores} cores\n")
    print(
        f"{'setting':<24} {'plain/s':>8} {'policy/s':>9} {'ratio':>6} "
        f"{'plain cpu':>10} {'policy cpu':>11} {'cpu ratio':>10}   rounds/s: plain | policy"
    )
    worst_wall = worst_cpu = None
    for setting, rates, cpu in table:
        plain_rate, policy_rate = statistics.median(rates["plain"]), statistics.median(rates["policy"])
        ratio = statistics.median(p / q for p, q in zip(rates["policy"], rates["plain"], strict=True))
        plain_cpu, policy_cpu = statistics.median(cpu["plain"]), statistics.median(cpu["policy"])
        cpu_ratio = plain_cpu / policy_cpu
        worst_wall = ratio if worst_wall is None else min(worst_wall, ratio)
        worst_cpu = cpu_ratio if worst_cpu is None else min(worst_cpu, cpu_ratio)
        rounds = " | ".join(" ".join(f"{rate:.0f}" for rate in rates[kind]) for kind in ("plain", "policy"))
        print(
            f"{setting:<24} {plain_rate:>8.0f} {policy_rate:>9.0f} {ratio:>6.3f} "
            f"{plain_cpu:>7.2f} ms {policy_cpu:>8.2f} ms {cpu_ratio:>10.3f}   {rounds}"
        )
    worst, basis = (worst_cpu, "cpu ratio (machine loaded)") if loaded else (worst_wall, "tasks/s ratio")
    verdict = "meets" if worst >= TARGET else "BELOW"
    print(f"\nworst {basis}: {worst:.3f}, {verdict} the target of {TARGET}")
    return 0 if worst >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
