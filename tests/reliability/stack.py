"""The whole stack the fault suite breaks: MariaDB, Redis, uvicorn, two workers, two beats.

Redis is the broker too, unless the stack is made with `rabbitmq=True` (production's broker: a
RabbitMQ node of the stack's own; Redis then holds only the cache, locks and heartbeats).

Every piece is a real process of the suite's own, on free ports and under a tmp folder, so the
machine's shared MariaDB and Redis are never touched. The stack starts once per run (the
`stack` fixture) and is shared by the tests, each of which restarts what it broke; every
process is put down when the run ends, whatever happened.

The pytest process does not use the stack's database through Django: it talks to the stack
over HTTP, its Redis, `manage.py` subprocesses, and SQL through the `mariadb` client.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from celery import Celery

from tests.mailops.signing import SIGNING_KEY as WEBHOOK_SIGNING_KEY
from tests.reliability.tasks import TABLES
from tests.support.mariadb_server import MariaDBServer
from tests.support.processes import BIN, PYTHON, REPO, ManagedProcess, free_port
from tests.support.rabbitmq_server import RabbitMQServer
from tests.support.waiting import wait_until

DATABASE = "opsstack"
OPS_TOKEN = "0e1ab111" * 8  # an API token is 64 hex digits (knox)
SLOT_JOB = "reliability.every_second"
MARK_JOB = "reliability.mark"
BEAT_LOCK_TTL = 3.0
BEAT_TICK = 1.0
VISIBILITY_TIMEOUT = 10
WORKERS = ("w1@reliability", "w2@reliability")
QUEUE = "celery"  # the one queue of the stack; kombu keeps a Redis list per priority step
BEATS = ("beat-1", "beat-2")

# Writes the test jobs beside the code's, and an operator with a known token for /api/ops/.
_SETUP = f"""
from django.contrib.auth.models import Group, User
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import knox_settings
from django.utils import timezone
from scheduler.periodic import PeriodicJob, cron, every, registered_jobs
from scheduler.sync import sync_jobs
sync_jobs([
    *registered_jobs(),
    PeriodicJob({SLOT_JOB!r}, task="reliability.slot", schedule=every(1)),
    PeriodicJob({MARK_JOB!r}, task="reliability.mark", schedule=cron("0 0 1 1 *"), enabled=False),
])
user = User.objects.create_user("reliability-ops", is_staff=True)
user.groups.add(Group.objects.get(name="ops-admin"))  # staff alone is not an operator
AuthToken.objects.bulk_create([AuthToken(
    user=user, digest=hash_token({OPS_TOKEN!r}), token_key={OPS_TOKEN!r}[:15],
    expiry=timezone.now() + knox_settings.TOKEN_TTL,
)])
"""


class RedisServer:
    """redis-server on a fixed port with an fsync-always AOF: restarts keep what it acknowledged."""

    def __init__(self, root: Path):
        self.dir = root
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        argv = [server, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        argv += ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        self.process = ManagedProcess(argv)
        self.process.wait_for_line(r"Ready to accept connections", timeout=30)

    def stop(self, kill: bool = False) -> None:
        """SIGKILL (a crash: only the fsynced AOF survives) or SIGTERM (Redis' graceful SHUTDOWN)."""
        if self.process is None:
            return
        self.process.signal(signal.SIGKILL if kill else signal.SIGTERM)
        self.process.stop(timeout=30)
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)


@dataclass
class Reply:
    """One HTTP answer, or `error` when the connection itself failed (reset, refused)."""

    status: int | None
    body: object
    error: str = ""

    @property
    def clear_503(self) -> bool:
        """A 503 that says what is wrong: the outages middleware's detail, or a health document."""
        if self.status != 503 or not isinstance(self.body, dict):
            return False
        return bool(self.body.get("detail") or self.body.get("checks"))


class Stack:
    """The running stack; `start()` brings every piece up, `close()` puts every piece down."""

    def __init__(self, root: Path, *, rabbitmq: bool = False, beats: tuple[str, ...] = BEATS):
        self.root = root
        self.var = root / "var"
        self.mariadb = MariaDBServer(root / "mariadb")
        self.redis = RedisServer(root / "redis")
        self.rabbitmq = RabbitMQServer(root / "rabbitmq") if rabbitmq else None
        self.beat_names = beats
        self.web_port = free_port()
        self.web: ManagedProcess | None = None
        self.workers: dict[str, ManagedProcess] = {}
        self.beats: dict[str, ManagedProcess] = {}
        self.exited: list[tuple[str, ManagedProcess]] = []  # workers that exited and were restarted

    # --- configuration ----------------------------------------------------------------------

    @property
    def database_url(self) -> str:
        return f"{self.mariadb.url}/{DATABASE}"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def ws_url(self) -> str:
        from django.conf import settings

        return f"ws://127.0.0.1:{self.web_port}/app/{settings.REALTIME_APP_KEY}?protocol=7&client=python"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url,
            "VAR_DIR": str(self.var),
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
            "QUEUE_TRIES": "3",
            "QUEUE_BACKOFF": "0.5,1",
            "QUEUE_HEARTBEAT_INTERVAL": "1",
            "QUEUE_ALERTS": "none",
            "BEAT_LOCK_TTL": str(BEAT_LOCK_TTL),
            "BEAT_MAX_INTERVAL": str(BEAT_TICK),
            "HEALTH_CACHE_SECONDS": "0",
            "HEALTH_TIMEOUT": "2",
            "DATABASE_CONNECT_TIMEOUT": "2",
            "REDIS_SOCKET_TIMEOUT": "2",
            "REALTIME_LAYER_CHECK_INTERVAL": "0.5",
            "REALTIME_SHUTDOWN_GRACE": "1",
            # Traffic is one operator's token asking as fast as the web answers: load, not a user
            # the per-user throttle is for (tests/security tests the throttle).
            "API_THROTTLE_USER": "1000000/minute",
            # The mail webhook's key (test_mail_webhook_faults signs with it; the soak brings its own).
            "MAILGUN_WEBHOOK_SIGNING_KEY": os.environ.get("MAILGUN_WEBHOOK_SIGNING_KEY", WEBHOOK_SIGNING_KEY),
            **({"CELERY_BROKER_URL": self.rabbitmq.url} if self.rabbitmq else {}),
            **extra,
        }

    # --- start and stop ---------------------------------------------------------------------

    def start(self) -> Stack:
        try:
            self._start_services()
            self._prepare_database()
            self._start_web()
            for hostname in WORKERS:
                self.start_worker(hostname)
            for name in self.beat_names:
                self.start_beat(name)
            for hostname in WORKERS:
                self.workers[hostname].wait_for_line(r"ready\.", timeout=90)
            self.web.wait_for_line(r"Uvicorn running on", timeout=60)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop every piece; one that fails to stop does not keep the others running."""
        with ExitStack() as stops:
            stops.callback(self._keep_logs)
            stops.callback(self.mariadb.stop)
            stops.callback(self.redis.stop)
            if self.rabbitmq is not None:
                stops.callback(self.rabbitmq.stop)
            for process in [self.web, *self.workers.values(), *self.beats.values()]:
                if process is not None:
                    stops.callback(process.stop)

    def _keep_logs(self) -> None:
        """Each process's whole output beside the stack's files, for reading after a failure."""
        processes = {"web": self.web, **self.workers, **self.beats}
        processes.update({f"{name}.exited-{n}": process for n, (name, process) in enumerate(self.exited)})
        for name, process in processes.items():
            if process is not None:
                (self.root / f"{name}.log").write_text(process.output)

    def _start_services(self) -> None:
        self.redis.start()
        if self.rabbitmq is not None:
            self.rabbitmq.start()
        self.mariadb.install()
        self.mariadb.start()
        self.mariadb.sql(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")

    def _prepare_database(self) -> None:
        for command in (["migrate", "--noinput"], ["createcachetable"], ["shell", "-c", _SETUP]):
            self.manage(*command, timeout=300)
        for statement in TABLES:
            self.sql(statement)

    def _start_web(self) -> None:
        from django.conf import settings

        argv = [str(BIN / "uvicorn"), "opsproject.asgi:application", "--host", "127.0.0.1"]
        argv += ["--port", str(self.web_port), "--lifespan", "off", "--log-level", "info"]
        argv += ["--ws-max-size", str(settings.REALTIME_MAX_MESSAGE_BYTES)]  # as production runs it
        self.web = ManagedProcess(argv, env=self.env())

    def start_worker(self, hostname: str) -> ManagedProcess:
        argv = [str(BIN / "celery"), "-A", "opsproject", "worker", "--loglevel=INFO", "--pool=prefork"]
        argv += ["--concurrency=2", "--without-gossip", "--without-mingle", f"--hostname={hostname}"]
        argv += ["--include=tests.reliability.tasks"]
        self.workers[hostname] = ManagedProcess(argv, env=self.env())
        return self.workers[hostname]

    def start_beat(self, name: str) -> ManagedProcess:
        argv = [str(BIN / "celery"), "-A", "opsproject", "beat", "--loglevel=INFO", "--pidfile="]
        self.beats[name] = ManagedProcess(argv, env=self.env(BEAT_NAME=name))
        return self.beats[name]

    def kill_beat(self, name: str) -> ManagedProcess:
        """SIGKILL a beat: it cannot release its lock; returns the dead process and its output."""
        beat = self.beats.pop(name)
        beat.signal(signal.SIGKILL)
        beat.stop()
        return beat

    def kill_worker(self, hostname: str) -> ManagedProcess:
        """SIGKILL the worker and its pool children at once, as the kernel's OOM killer or a
        container runtime would; returns the dead process (its output stays readable)."""
        worker = self.workers.pop(hostname)
        worker.signal(signal.SIGKILL)
        worker.stop()
        return worker

    # --- talking to it ------------------------------------------------------------------------

    def manage(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=REPO,
            env={**os.environ, **self.env()},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise AssertionError(f"manage.py {args[0]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return done.stdout

    def sql(self, statement: str) -> list[list[str]]:
        """Rows of a statement on the stack's database, each a list of column strings."""
        output = self.mariadb.sql(statement, database=DATABASE)
        return [line.split("\t") for line in output.splitlines()]

    def scalar(self, statement: str) -> int:
        return int(self.sql(statement)[0][0])

    def request(self, method: str, path: str, token: bool = False, timeout: float = 15) -> Reply:
        headers = {"Authorization": f"Token {OPS_TOKEN}"} if token else {}
        req = urllib.request.Request(self.base + path, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read()
        except (urllib.error.URLError, OSError) as error:
            return Reply(None, None, error=f"{type(error).__name__}: {error}")
        try:
            return Reply(status, json.loads(text or b"null"))
        except ValueError:
            return Reply(status, text.decode(errors="replace"))

    def health(self) -> Reply:
        return self.request("GET", "/health")

    def component_status(self, reply: Reply, component: str) -> set[str]:
        """The statuses a /health answer gives the checks of `component` (e.g. `database`)."""
        checks = reply.body.get("checks", {}) if isinstance(reply.body, dict) else {}
        return {
            entry["status"]
            for key, entries in checks.items()
            if key.partition(":")[0] == component
            for entry in entries
        }

    def producer(self) -> Celery:
        """A Celery client on the stack's broker: sends by task name, nothing else."""
        client = Celery("reliability-client", broker=self.redis.url, set_as_current=False)
        client.conf.update(
            task_serializer="json",
            broker_connection_retry_on_startup=False,
            broker_transport_options={"socket_connect_timeout": 2, "socket_timeout": 5},
        )
        return client

    def waiting(self) -> int:
        """Messages waiting in the queue: the lengths of its Redis lists (kombu's priority steps)."""
        client = self.redis.client()
        return sum(client.llen(key) for key in [QUEUE, *(f"{QUEUE}\x06\x16{step}" for step in (3, 6, 9))])

    def redis_ports(self, pids: list[int]) -> set[int]:
        """The local ports of the Redis connections the processes `pids` hold: their socket
        inodes (/proc/<pid>/fd) looked up in /proc/net/tcp."""
        inodes = set()
        for pid in pids:
            try:
                fds = list(Path(f"/proc/{pid}/fd").iterdir())
            except OSError:
                continue
            for fd in fds:
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
        ports = set()
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if inode in inodes and int(remote.rpartition(":")[2], 16) == self.redis.port:
                ports.add(int(local.rpartition(":")[2], 16))
        return ports

    def redis_clients(self, ports: set[int]) -> list[dict]:
        """CLIENT LIST entries of the connections from those local ports (Redis' `addr`)."""
        clients = self.redis.client().client_list()
        return [client for client in clients if int(client["addr"].rpartition(":")[2]) in ports]

    # --- readiness ----------------------------------------------------------------------------

    def exited_workers(self) -> list[str]:
        """Workers whose process has exited by itself, or is on its way out after logging an
        unrecoverable error (its pool shutting down can take seconds on a loaded machine)."""
        return [
            name
            for name, process in self.workers.items()
            if process.proc.poll() is not None or any("Unrecoverable error" in line for line in process.lines)
        ]

    def restart_exited_workers(self) -> list[str]:
        """Start again, as compose's `restart: unless-stopped` would, every worker that exited
        (its output is kept for the logs)."""
        exited = self.exited_workers()
        for hostname in exited:
            process = self.workers.pop(hostname)
            process.stop()
            self.exited.append((hostname, process))
            self.start_worker(hostname).wait_for_line(r"ready\.", timeout=90)
        return exited

    def wait_healthy(self, timeout: float = 240) -> None:
        """/health answers 200, both workers beat on the board and a beat leads."""
        wait_until(lambda: self.health().status == 200, timeout, "/health to pass")
        wait_until(self._workers_on_board, timeout, f"workers {WORKERS} on the heartbeat board")
        wait_until(self.leader, timeout, "a beat leader")

    def _workers_on_board(self) -> bool:
        try:
            board = self.redis.client().hgetall("queueops:workers")
        except redis.RedisError:
            return False
        now = time.time()
        beats = {name.decode(): json.loads(raw) for name, raw in board.items()}
        return all(name in beats and now - beats[name]["at"] < 3 for name in WORKERS)

    def broker_state(self) -> str:
        """What the broker holds: waiting and unacknowledged messages, the restore mutex."""
        try:
            client = self.redis.client()
            now = time.time()
            unacked = client.zrange("unacked_index", 0, -1, withscores=True)
            ages = [round(now - score, 1) for _, score in unacked]
            return (
                f"waiting {client.llen('celery')}, unacked {client.hlen('unacked')} (ages {ages[:20]}), "
                f"restore mutex ttl {client.ttl('unacked_mutex')}"
            )
        except redis.RedisError as exc:
            return f"broker unreadable: {exc}"

    def outputs(self, lines: int = 40) -> str:
        """The last log lines of every running process (traceback bodies left out), for a
        failure message."""
        processes = {"web": self.web, **self.workers, **self.beats}
        return "\n".join(
            f"--- {name}\n" + "\n".join([line for line in process.lines if not line[:1].isspace()][-lines:])
            for name, process in processes.items()
            if process is not None
        )

    def leader(self) -> str | None:
        try:
            value = self.redis.client().get("ops:beat:leader")
        except redis.RedisError:
            return None
        return value.decode() if value else None


class TaskStream(threading.Thread):
    """Sends `reliability.work` for each key in small batches at a steady pace (100 tasks/s by
    default), each task sleeping `seconds` (a tuple: the n-th key sleeps its n-th item, cycling);
    remembers every send the broker refused.

    `pause()` returns once no batch is being sent and holds the next one back until `resume()`:
    while paused, every message the stream sent is already in Redis and no other comes."""

    def __init__(
        self,
        stack: Stack,
        keys: list[str],
        batch: int = 10,
        every: float = 0.1,
        seconds: float | tuple[float, ...] = 0.02,
    ):
        super().__init__(daemon=True)
        self.producer = stack.producer()
        self.keys = keys
        self.batch = batch
        self.every = every
        self.seconds = seconds if isinstance(seconds, tuple) else (seconds,)
        self.sent = 0
        self.errors: list[str] = []
        self._gate = threading.Lock()  # held while a batch is sent, and while paused

    def run(self) -> None:
        for start in range(0, len(self.keys), self.batch):
            with self._gate:
                for key in self.keys[start : start + self.batch]:
                    try:
                        kwargs = {"seconds": self.seconds[self.sent % len(self.seconds)]}
                        self.producer.send_task("reliability.work", args=[key], kwargs=kwargs)
                    except Exception as exc:
                        self.errors.append(f"{key}: {type(exc).__name__}: {exc}")
                    self.sent += 1
            time.sleep(self.every)

    def pause(self) -> None:
        self._gate.acquire()

    def resume(self) -> None:
        self._gate.release()

    def finish(self, timeout: float = 60) -> None:
        self.join(timeout)
        assert not self.is_alive(), "the stream did not finish sending"
        assert self.errors == [], self.errors


class Traffic(threading.Thread):
    """Requests the web in a loop until stopped, keeping every answer by path.

    `paths` are (method, path) pairs sent with the operator's token. Afterwards `bad()` lists
    every answer that is neither 2xx nor a clear 503, connection failures included. `pause()`
    returns once no request is in flight; `resume()` carries on.
    """

    def __init__(self, stack: Stack, paths: list[tuple[str, str]], pause: float = 0.05):
        super().__init__(daemon=True)
        self.stack = stack
        self.paths = paths
        self.pause_between = pause
        self.replies: list[tuple[str, Reply]] = []
        self._halt = threading.Event()
        self._go = threading.Event()
        self._go.set()
        self._idle = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            if not self._go.is_set():
                self._idle.set()
                self._go.wait(0.1)
                continue
            self._idle.clear()
            for method, path in self.paths:
                self.replies.append((path, self.stack.request(method, path, token=True)))
            self._halt.wait(self.pause_between)

    def pause(self, timeout: float = 30) -> None:
        self._go.clear()
        if not self._idle.wait(timeout):
            raise AssertionError(f"a request was still in flight after {timeout} s")

    def resume(self) -> None:
        self._go.set()

    def finish(self) -> None:
        self._go.set()
        self._halt.set()
        self.join(30)

    def bad(self) -> list[tuple[str, int | None, object, str]]:
        return [
            (path, reply.status, reply.body, reply.error)
            for path, reply in self.replies
            if not (reply.status is not None and 200 <= reply.status < 300) and not reply.clear_503
        ]

    def statuses(self, path: str) -> set[int | None]:
        return {reply.status for each, reply in self.replies if each == path}


def done_count(stack: Stack, prefix: str) -> int:
    """How many `reliability.work` keys starting with `prefix` completed."""
    return stack.scalar(f"SELECT COUNT(*) FROM reliability_done WHERE k LIKE '{prefix}%'")


class _Shared:
    """The one stack of this pytest run, started by the first test that asks for it."""

    stack: Stack | None = None
    failed: str = ""


@pytest.fixture(name="stack")
def stack_fixture(request, tmp_path_factory) -> Stack:
    """The shared running stack, healthy. Started once per run and put down when the run ends
    (`config.add_cleanup`: imported into several modules, a session fixture would start one
    stack per module)."""
    if _Shared.failed:
        pytest.fail(f"the stack did not start: {_Shared.failed}")
    if _Shared.stack is None:
        started = Stack(tmp_path_factory.mktemp("stack"))
        request.config.add_cleanup(started.close)
        try:
            _Shared.stack = started.start()
        except Exception as exc:
            _Shared.failed = str(exc)[:2000]
            raise
    _Shared.stack.wait_healthy()
    return _Shared.stack
