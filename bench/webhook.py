"""Benchmark: signed Mailgun tracking webhooks through the full path vs a bare Anymail receiver.

    .venv/bin/python -m bench.webhook [--requests 500] [--rounds 6] [--concurrency 8] [--workers 2]

One uvicorn server (the `make run` server kind, with the web's own HTTP handler,
opsproject.http_threads) serves both endpoints from this module:

- full:  /anymail/mailgun/tracking/  (mailops: signature, age and shape checks, the event
         published as a `mailops.store_event` task; a real `celery worker` beside it, as
         production runs one, stores each: MailEvent once per event id, outbound link,
         suppression rules)
- bare:  /bench/bare/  Anymail's MailgunTrackingWebhookView, signature checked, a receiver
         that stores nothing.

Each round posts the same mix of distinct signed events (delivered, opened, temporary and
permanent failures, complaints) to each endpoint over keep-alive connections, alternating
bare/full so both see the same machine state. A full round ends when its last event is stored,
so the worker's work, done on the same cores, is inside its time. Prints requests per second
and p50/p99 per endpoint and the ratios full/bare (throughput; inverse p99), target >= 0.5.

The database is DATABASE_URL (default: MariaDB `ops_bench_mail` on 127.0.0.1, created and
migrated here) and the broker RabbitMQ (the vhost `ops_bench_webhook`), the production kinds;
`--broker-url redis://...` measures a small install's Redis broker instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Run as a script, Python puts bench/ first on the path, where sibling benchmarks (queue.py)
# would shadow the standard library; the repository root is what imports resolve against.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsproject.settings")

SIGNING_KEY = "bench-signing-key-0123456789abcdef"
BARE_PATH = "/bench/bare/"
FULL_PATH = "/anymail/mailgun/tracking/"

if __name__ != "__main__":
    # Imported by uvicorn: the ASGI application serving both endpoints.
    import django
    from django.conf import settings

    django.setup()
    from anymail.webhooks.mailgun import MailgunTrackingWebhookView
    from django.dispatch import Signal
    from django.urls import include, path

    from opsproject.http_threads import get_asgi_application

    bare_tracking = Signal()

    def _discard(sender, event, esp_name, **kwargs) -> None:
        pass  # the bare baseline: Anymail parsed and verified it; nothing is stored

    bare_tracking.connect(_discard, weak=False)

    urlpatterns = [
        path("", include("opsproject.urls")),
        # After the application's URLs, so resolving it costs at least what the full path's does.
        path(BARE_PATH.strip("/") + "/", MailgunTrackingWebhookView.as_view(signal=bare_tracking)),
    ]
    settings.ROOT_URLCONF = __name__
    # The web's own HTTP handler (opsproject/asgi.py), serving both endpoints alike.
    application = get_asgi_application(threads=settings.WEB_THREADS)


def _main() -> int:
    import argparse
    import http.client
    import json
    import random
    import secrets
    import statistics
    import subprocess
    import tempfile
    import threading
    import time
    from urllib.parse import urlsplit

    from tests.mailops.signing import payload
    from tests.support.processes import BIN, free_port, group_members, running

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="posts per endpoint per round")
    parser.add_argument("--concurrency", type=int, default=8, help="client connections")
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="alternating bare/full rounds (several short rounds: both see the same load)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="uvicorn worker processes (production runs several per host)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or "mysql://root@127.0.0.1:3306/ops_bench_mail",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9", help="cache (as in production)")
    parser.add_argument(
        "--broker-url",
        default=os.environ.get(
            "BENCH_WEBHOOK_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/ops_bench_webhook"
        ),
        help="the broker: RabbitMQ as production runs it (the vhost is created with rabbitmqctl if "
        "missing), or a redis:// URL (a small install's)",
    )
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=4,
        help="the storing worker's pool size (compose and Kubernetes run workers with 4)",
    )
    options = parser.parse_args()

    database_url = options.database_url
    if database_url.startswith("mysql://"):
        import MySQLdb

        parts = urlsplit(database_url)
        connection = MySQLdb.connect(
            host=parts.hostname,
            port=parts.port or 3306,
            user=parts.username or "root",
            passwd=parts.password or "",
        )
        connection.cursor().execute(
            f"CREATE DATABASE IF NOT EXISTS `{parts.path.lstrip('/')}` CHARACTER SET utf8mb4"
        )
        connection.close()
    if options.broker_url.startswith("amqp"):
        vhost = options.broker_url.rsplit("/", 1)[1]
        # add_vhost fails when it exists: that is fine; the permissions are set either way.
        subprocess.run(["rabbitmqctl", "add_vhost", vhost], capture_output=True, timeout=120)
        subprocess.run(
            ["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
            capture_output=True,
            timeout=120,
            check=True,
        )
    var_dir = tempfile.mkdtemp(prefix="bench_webhook_")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": options.redis_url,
        "CELERY_BROKER_URL": options.broker_url,
        "VAR_DIR": var_dir,
        "DEBUG": "0",
        "LOG_LEVEL": "ERROR",
        "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
        "MAILGUN_API_KEY": "key-bench-not-used",
        "MAILGUN_SENDER_DOMAIN": "mg.example.com",
    }
    subprocess.run(
        [str(BIN / "python"), "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO, env=env, check=True
    )
    subprocess.run([str(BIN / "python"), "manage.py", "createcachetable"], cwd=REPO, env=env, check=True)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "VAR_DIR", "CELERY_BROKER_URL")})
    import django

    django.setup()
    from mailops.models import MailEvent, OutboundMessage, Suppression
    from opsproject.celery import app

    app.control.purge()  # a killed earlier run's leftovers
    MailEvent.objects.all().delete()
    Suppression.objects.all().delete()
    OutboundMessage.objects.all().delete()
    # Events are about messages we sent: each names its OutboundMessage, as the send task's do.
    sent = OutboundMessage.objects.bulk_create(
        OutboundMessage(
            from_email="helpdesk@mg.example.com", to=[f"user{n}@example.com"], subject="s", status="sent"
        )
        for n in range(2000)
    )
    outbound_ids = [message.pk for message in sent]

    kinds = ["delivered"] * 50 + ["opened"] * 30 + ["temporary_failure"] * 10 + ["permanent_failure"] * 5
    kinds += ["complained"] * 5
    rng = random.Random(7)

    def bodies(count: int) -> list[bytes]:
        posts = []
        for _ in range(count):
            n = rng.randrange(len(outbound_ids))
            event = payload(
                rng.choice(kinds),
                f"user{n}@example.com",
                key=SIGNING_KEY,
                token=secrets.token_hex(25),
                variables={"outbound_id": str(outbound_ids[n])},
            )
            posts.append(json.dumps(event).encode())
        return posts

    tails: list[float] = []  # per full round: from the last answer until the last event was stored
    posted = [0]  # events posted to the full path so far

    def stored_all(deadline: float = 300) -> None:
        """Wait until the worker has stored every event posted to the full path."""
        give_up = time.monotonic() + deadline
        while (stored := MailEvent.objects.count()) < posted[0]:
            if time.monotonic() > give_up:
                raise SystemExit(f"{posted[0] - stored} events still not stored after {deadline} s")
            time.sleep(0.01)

    groups: list[int] = []  # process groups of the server and the worker

    def cpu_seconds() -> list[float]:
        """CPU time used so far by the server's and by the worker's process groups (the shared
        MariaDB, Redis and RabbitMQ servers are not counted)."""
        spent = []
        for pgid in groups:
            ticks = 0
            for pid in group_members(pgid):
                try:
                    stat = Path(f"/proc/{pid}/stat").read_text()
                except OSError:
                    continue
                fields = stat[stat.rfind(")") + 2 :].split()
                ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
            spent.append(ticks / os.sysconf("SC_CLK_TCK"))
        return spent

    def blast(
        connections: list[http.client.HTTPConnection], route: str, items: list[bytes]
    ) -> tuple[float, list[float], int, list[float]]:
        latencies: list[float] = []
        failures = [0]
        lock = threading.Lock()
        chunks = [items[i :: options.concurrency] for i in range(options.concurrency)]

        def worker(conn: http.client.HTTPConnection, chunk: list[bytes]) -> None:
            mine, bad = [], 0
            for body in chunk:
                started = time.perf_counter()
                conn.request("POST", route, body=body, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                mine.append(time.perf_counter() - started)
                bad += response.status != 200
            with lock:
                latencies.extend(mine)
                failures[0] += bad

        threads = [
            threading.Thread(target=worker, args=(conn, chunk))
            for conn, chunk in zip(connections, chunks, strict=True)
        ]
        cpu_before = cpu_seconds()
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if route == FULL_PATH:
            posted[0] += len(items)
            answered = time.perf_counter()
            stored_all()
            tails.append(time.perf_counter() - answered)
        cpu = [after - before for after, before in zip(cpu_seconds(), cpu_before, strict=True)]
        return time.perf_counter() - started, latencies, failures[0], cpu

    port = free_port()
    argv = [str(BIN / "uvicorn"), "bench.webhook:application", "--host", "127.0.0.1", "--port", str(port)]
    argv += [
        "--lifespan",
        "off",
        "--no-access-log",
        "--log-level",
        "warning",
        "--workers",
        str(options.workers),
        # The client's connections idle while a full round's events are stored; uvicorn's 5 s
        # default would close them under the next round.
        "--timeout-keep-alive",
        "600",
    ]
    results: dict[str, list[tuple[float, list[float], int, list[float]]]] = {"bare": [], "full": []}
    # The worker that stores the events, as production runs one (prefork).
    worker_argv = [str(BIN / "celery"), "-A", "opsproject", "worker", "--pool=prefork", "--loglevel=WARNING"]
    worker_argv += [f"--concurrency={options.worker_concurrency}", "--without-gossip", "--without-mingle"]
    with running(argv, env=env) as server, running(worker_argv, env=env) as storing_worker:
        groups.extend([server.proc.pid, storing_worker.proc.pid])
        deadline = time.monotonic() + 30
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("HEAD", BARE_PATH)
                break
            except OSError:
                if time.monotonic() > deadline or server.proc.poll() is not None:
                    print(server.output, file=sys.stderr)
                    return 1
                time.sleep(0.2)
        # One set of keep-alive connections for every round: each connection stays with the
        # worker process that accepted it, so bare and full rounds meet the same spread of
        # connections over workers (new ones per round could land 6/2 for one, 4/4 for the other).
        connections = [
            http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(options.concurrency)
        ]
        for route in (BARE_PATH, FULL_PATH):  # warm-up: imports, connections, caches
            blast(connections, route, bodies(200))
        for _ in range(options.rounds):
            for name, route in (("bare", BARE_PATH), ("full", FULL_PATH)):
                results[name].append(blast(connections, route, bodies(options.requests)))
        for conn in connections:
            conn.close()

    stored = MailEvent.objects.count()
    linked = MailEvent.objects.filter(outbound__isnull=False).count()
    expected = 200 + options.rounds * options.requests
    rows = []
    summary = {}
    cpu_per_event = {}
    web_cpu_per_event = {}
    for name in ("bare", "full"):
        elapsed = sum(r[0] for r in results[name])
        cpu_per_event[name] = sum(sum(r[3]) for r in results[name]) / (options.rounds * options.requests)
        web_cpu_per_event[name] = sum(r[3][0] for r in results[name]) / (options.rounds * options.requests)
        latencies = sorted(x for r in results[name] for x in r[1])
        failures = sum(r[2] for r in results[name])
        rps = len(latencies) / elapsed
        p50 = statistics.median(latencies) * 1000
        p99 = latencies[int(0.99 * (len(latencies) - 1))] * 1000
        summary[name] = (rps, p50, p99)
        rows.append(f"{name:5} {len(latencies):9d} {rps:10.0f} {p50:9.2f} {p99:9.2f} {failures:9d}")
    throughput_ratio = summary["full"][0] / summary["bare"][0]
    p99_ratio = summary["bare"][2] / summary["full"][2]
    broker = "RabbitMQ" if options.broker_url.startswith("amqp") else "Redis"
    setup = (
        f"uvicorn x{options.workers}, concurrency {options.concurrency}, {options.rounds} round(s), "
        f"{broker} broker, worker pool {options.worker_concurrency}"
    )
    print(f"signed Mailgun tracking webhooks, {setup}")
    print(f"{'path':5} {'requests':>9} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'non-200':>9}")
    print("\n".join(rows))
    print(f"ratio full/bare throughput: {throughput_ratio:.2f}   (target >= 0.50)")
    print(f"ratio bare/full p99:        {p99_ratio:.2f}")
    bare_cpu, full_cpu = cpu_per_event["bare"], cpu_per_event["full"]
    print(
        f"CPU per event (web and worker processes, until stored): bare {bare_cpu * 1000:.2f} ms, "
        f"full {full_cpu * 1000:.2f} ms; ratio bare/full {bare_cpu / full_cpu:.2f}"
    )
    print(
        f"of which the web (verify, parse, publish): bare {web_cpu_per_event['bare'] * 1000:.2f} ms, "
        f"full {web_cpu_per_event['full'] * 1000:.2f} ms; the worker (store): "
        f"{(full_cpu - web_cpu_per_event['full']) * 1000:.2f} ms"
    )
    print(f"events stored by the full path: {stored} of {expected} posted (bare stored none)")
    tail = statistics.mean(tails[1:]) * 1000  # the warm-up round aside
    print(f"full rounds: the last event stored {tail:.0f} ms after the last answer, on average")
    # The web's share alone: full rounds timed until their last answer, as if storing were free.
    answering = sum(r[0] for r in results["full"]) - sum(tails[1:])
    answered_ratio = options.rounds * options.requests / answering / summary["bare"][0]
    print(f"ratio full/bare until the last answer (the web alone, storing aside): {answered_ratio:.2f}")
    per_round = [b[0] / f[0] for b, f in zip(results["bare"], results["full"], strict=True)]
    print("ratio per round: " + " ".join(f"{r:.2f}" for r in per_round))
    print(f"events linked to their OutboundMessage: {linked}; suppressions: {Suppression.objects.count()}")
    ok = throughput_ratio >= 0.5 and stored == expected == linked
    print("PASS" if ok else "BELOW TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(_main())
