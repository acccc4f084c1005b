"""The production profile, started the way compose starts it, runs a backup day end to end.

No Docker engine runs here, so each compose service's own command line (read from the compose
file) runs as a local process, with `DJANGO_ENV=production` and the env example's values, every
placeholder replaced by a generated secret as an operator does. Only what a container network
gives for free is changed: addresses (a MariaDB, Redis and SeaweedFS of the test's own on free
ports, a RabbitMQ vhost of its own), the hosts the web answers to, and no HTTPS redirect (no TLS
proxy runs in front). The database logins are the init script's least-privilege users, made by
running compose/mariadb-init/01-users.sh itself; only the drill worker gets the age identity,
and each service gets only the env files compose gives it (web, realtime and beat no backup login).

Started: web (gunicorn), realtime (uvicorn), two workers, the drill worker, two beats. Then, as
an operator would: a daily backup and a binlog shipment (through the ops API, on the workers, as
the backup user), a drill (on the drill worker, as the drill user), the deploy gate, and a live
restore ending with its smoke login. Last, the drill worker restarted without its identity: the
drill fails with one clear line.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.backups.conftest import AgeKeys, S3Server, make_keys, s3_server  # noqa: F401 (fixture)
from tests.deploy.compose_file import env_files, services
from tests.deploy.test_kubernetes import operator_filled
from tests.support.db_users import DatabaseUsers, database_users
from tests.support.mariadb_server import MariaDBServer
from tests.support.processes import BIN, PYTHON, REPO, ManagedProcess, free_port
from tests.support.rabbitmq import vhost
from tests.support.waiting import wait_until

# The env files of the app's services, each committed as <name>.example.
ENV_FILES = ("production.env", "backup.env", "drill.env", "pitr.env")
BACKUP_LOGINS = ("BACKUP_DATABASE_URL", "BACKUP_RESTORE_DATABASE_URL", "BACKUP_DRILL_DATABASE_URL")
BACKUP_LOGINS += ("BACKUP_PITR_DATABASE_URL",)
DATABASE = "opsproject"
OPERATOR = "oncall"
SMOKE_USER = "smoke"


def env_example(name: str = "production.env") -> dict[str, str]:
    """NAME=value lines of an env file's example, as compose's env_file reads them."""
    values = {}
    for line in (REPO / "compose" / f"{name}.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def local_argv(argv: list[str], **replace: str) -> list[str]:
    """A compose command as it runs here: our venv's executables, our ports and host names."""
    out = []
    for arg in argv:
        for old, new in replace.items():
            arg = arg.replace(old, new)
        out.append(arg)
    if out[0] == "python":
        out[0] = PYTHON
    elif (BIN / out[0]).exists():
        out[0] = str(BIN / out[0])
    return out


@dataclass
class Stack:
    tmp: Path
    env: dict[str, str]
    web_url: str
    realtime_url: str
    identity_file: Path
    token: str = ""
    processes: dict[str, ManagedProcess] = field(default_factory=dict)

    def service_env(self, name: str) -> dict[str, str]:
        """The environment compose gives service `name`: what its env_files set (a variable of
        another service's env file it does not get), its own `environment:` on top."""
        own = {key for file in env_files(services()[name]) for key in env_example(file)}
        others = {key for file in ENV_FILES for key in env_example(file)} - own
        env = {key: value for key, value in {**os.environ, **self.env}.items() if key not in others}
        for key, value in (services()[name].get("environment") or {}).items():
            env[key] = str(value)
        if "BACKUP_AGE_IDENTITY_FILE" in env:  # the compose secret's path, here a file of ours
            env["BACKUP_AGE_IDENTITY_FILE"] = str(self.identity_file)
        return env

    def manage(
        self, *args: str, service: str = "worker", timeout: float = 600
    ) -> subprocess.CompletedProcess:
        """`docker compose exec <service> python manage.py ...`."""
        return subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=REPO,
            env=self.service_env(service),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, name: str, service: str, **replace: str) -> ManagedProcess:
        argv = local_argv(services()[service]["command"], **replace)
        process = ManagedProcess(argv, env=self.service_env(service))
        self.processes[name] = process
        return process

    def stop(self, name: str) -> None:
        self.processes.pop(name).stop(timeout=60)

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.web_url + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def output(self) -> str:
        return "\n".join(
            f"--- {name} ---\n{process.output[-2500:]}" for name, process in self.processes.items()
        )


def _production_env(tmp: Path, users: DatabaseUsers, redis_url: str, broker_url: str, s3: S3Server,
                    keys: AgeKeys, web_port: int) -> dict[str, str]:  # fmt: skip
    env = operator_filled({key: value for file in ENV_FILES for key, value in env_example(file).items()})
    smoke_password = secrets.token_urlsafe(24)
    env.update(
        {
            "DJANGO_ENV": "production",
            # Addresses: what the compose network names (mariadb, redis, rabbitmq, web) are here.
            "DATABASE_URL": users.app_url,
            "BACKUP_DATABASE_URL": users.backup_url,
            "BACKUP_RESTORE_DATABASE_URL": users.drill_url,
            "BACKUP_PITR_DATABASE_URL": users.pitr_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": broker_url,
            "BACKUP_S3_ENDPOINT_URL": s3.endpoint,
            "BACKUP_S3_REGION": "us-east-1",
            "BACKUP_S3_BUCKET": s3.bucket,
            "BACKUP_S3_ACCESS_KEY_ID": s3.access_key,
            "BACKUP_S3_SECRET_ACCESS_KEY": s3.secret_key,
            "BACKUP_S3_PREFIX": f"profile-{secrets.token_hex(4)}",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{web_port}",
            # No TLS proxy in front of the web here.
            "SECURE_SSL_REDIRECT": "false",
            "BACKUP_SMOKE_URL": f"http://127.0.0.1:{web_port}",
            "BACKUP_SMOKE_USERNAME": SMOKE_USER,
            "BACKUP_SMOKE_PASSWORD": smoke_password,
            # The age identity's public half (its private half: the drill worker's secret file).
            "BACKUP_AGE_RECIPIENTS": keys.recipient,
            # The image's /app/var (and the backups volume under it).
            "VAR_DIR": str(tmp / "var"),
        }
    )
    return env


_SETUP_USERS = f"""
from django.contrib.auth.models import Group, User
from helpdesk.models import Ticket
from helpdesk.permissions import AGENTS_GROUP
import os
operator = User.objects.create_user({OPERATOR!r}, "oncall@example.com", "x" + os.urandom(8).hex())
operator.groups.add(Group.objects.get(name="ops-admin"))
smoke = User.objects.create_user({SMOKE_USER!r}, "smoke@example.com", os.environ["BACKUP_SMOKE_PASSWORD"])
smoke.groups.add(Group.objects.get_or_create(name=AGENTS_GROUP)[0])
for number in range(3):
    Ticket.objects.create(subject=f"printer on fire {{number}}", requester=operator)
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory, s3_server) -> Iterator[Stack]:  # noqa: F811 (the fixture imported above)
    tmp = tmp_path_factory.mktemp("production-profile")
    keys = make_keys(tmp)
    with ExitStack() as cleanup:
        server = MariaDBServer(tmp / "mariadb", binlog=True)
        server.install()
        server.start()
        cleanup.callback(server.stop)
        # What the mariadb image does on its first start: the schema, then the init scripts.
        server.sql(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        users = cleanup.enter_context(database_users(DATABASE, port=server.port))
        redis_port = free_port()
        redis = ManagedProcess(
            ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no", "--dir", str(tmp)]
        )
        cleanup.callback(redis.stop)
        redis.wait_for_line(r"Ready to accept connections", timeout=60)
        broker_url = cleanup.enter_context(vhost())
        web_port, realtime_port = free_port(), free_port()
        env = _production_env(
            tmp, users, f"redis://127.0.0.1:{redis_port}/0", broker_url, s3_server, keys, web_port
        )
        stack = Stack(
            tmp, env, f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{realtime_port}", keys.identity_file
        )
        cleanup.callback(lambda: [process.stop(timeout=60) for process in stack.processes.values()])

        migrate = services()["migrate"]["command"]
        assert migrate[:2] == ["sh", "-c"], migrate
        script = migrate[2].replace("python ", f"{shlex.quote(PYTHON)} ")
        done = subprocess.run(
            ["sh", "-c", script], cwd=REPO, env=stack.service_env("migrate"), capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        done = stack.manage("shell", "-c", _SETUP_USERS, service="web")
        assert done.returncode == 0, done.stderr[-3000:]
        done = stack.manage("token_create", OPERATOR, service="web")
        assert done.returncode == 0, done.stderr
        stack.token = done.stdout.strip()

        # One web worker process instead of compose's three: two cores here.
        stack.start("web", "web", **{"0.0.0.0:8000": f"127.0.0.1:{web_port}", "--workers=3": "--workers=1"})
        stack.start(
            "realtime", "realtime", **{"0.0.0.0": "127.0.0.1", "--port=8080": f"--port={realtime_port}"}
        )
        for number in (1, 2):
            stack.start(
                f"worker{number}",
                "worker",
                **{"%h": f"profile{number}", "--concurrency=4": "--concurrency=2"},
            )
        stack.start("drill", "drill", **{"%h": "profile"})
        stack.start("beat1", "beat")
        stack.start("beat2", "beat")
        for name in ("worker1", "worker2", "drill"):
            stack.processes[name].wait_for_line(r"ready\.", timeout=180)
        yield stack


def _wait_api(stack: Stack, path: str, predicate, what: str, timeout: float = 300):
    found = {}

    def check():
        status, body = stack.api("GET", path)
        found["last"] = (status, body)
        return status == 200 and predicate(body.get("results", body))

    wait_until(
        check, timeout, what, 1.0, explain=lambda: f"last answer {found.get('last')}\n{stack.output()}"
    )
    return found["last"][1]


def test_a_backup_day_runs_green_on_the_production_profile(stack):
    # The deploy gate: database, cache, live workers, a scheduler leader and a realtime server.
    gate = stack.manage(
        "health_gate", "--url", stack.web_url, "--timeout", "240", "--interval", "2", "--consecutive", "2",
        service="web", timeout=300,
    )  # fmt: skip
    assert gate.returncode == 0, gate.stdout[-3000:] + gate.stderr[-3000:] + stack.output()

    # The daily backup, sent now the way the on-call engineer would, runs on a worker.
    status, body = stack.api("POST", "/api/ops/schedules/backups.daily/run/")
    assert status in (200, 202), body
    backups = _wait_api(
        stack,
        "/api/ops/backups/",
        lambda rows: any(row["status"] == "ok" for row in rows),
        "the daily backup",
    )
    backup_id = next(row["backup_id"] for row in backups["results"] if row["status"] == "ok")

    # One binlog shipment.
    status, body = stack.api("POST", "/api/ops/schedules/backups.binlogs/run/")
    assert status in (200, 202), body
    wait_until(lambda: _shipped(stack), 300, "a binlog shipped", 1.0, explain=stack.output)

    # A drill, on the drill worker (queue `restore`), as the drill user.
    status, body = stack.api("POST", "/api/ops/backups/drills/", {"reference": backup_id})
    assert status == 202, body
    drills = _wait_api(stack, "/api/ops/backups/drills/", lambda rows: bool(rows), "the drill recorded")
    drill = drills["results"][0]
    assert drill["status"] == "passed", drill
    assert (
        "drill@profile" in stack.processes["drill"].output
        and "backups.drill" in stack.processes["drill"].output
    )

    # A live restore, run on the drill service, ending with its smoke login over HTTP.
    restore = stack.manage("backup_restore", backup_id, "--yes", service="drill", timeout=900)
    assert restore.returncode == 0, restore.stdout[-3000:] + restore.stderr[-3000:] + stack.output()
    assert f"{SMOKE_USER} logged in at {stack.web_url}" in restore.stdout + restore.stderr


@pytest.mark.parametrize("name", ["web", "realtime", "beat1"])
def test_web_realtime_and_beat_run_without_any_backup_login(stack, name):
    """Started with their service's compose env, they hold no backup job's login or password."""
    process = stack.processes[name]
    environ = Path(f"/proc/{process.proc.pid}/environ").read_bytes().decode(errors="replace").split("\0")
    names = {entry.partition("=")[0] for entry in environ}
    assert not names & set(BACKUP_LOGINS), sorted(names & set(BACKUP_LOGINS))
    passwords = [stack.env[key].split("@")[0].rsplit(":", 1)[-1] for key in BACKUP_LOGINS if stack.env[key]]
    assert len(passwords) == 3 and not any(p in entry for p in passwords for entry in environ)
    assert process.proc.poll() is None, process.output[-2000:]  # and it runs (production settings load)


def _shipped(stack: Stack) -> bool:
    done = stack.manage(
        "shell", "-c", "from backups.models import BinlogArchive; print(BinlogArchive.objects.count())"
    )
    # The shell's banner line comes first; the count is the last line.
    return done.returncode == 0 and int((done.stdout.split() or ["0"])[-1]) > 0


def test_a_drill_on_a_worker_without_the_identity_fails_in_one_clear_line(stack):
    # The drill service as compose would run it with its secret missing.
    stack.stop("drill")
    env = stack.service_env("drill")
    env.pop("BACKUP_AGE_IDENTITY_FILE", None)
    argv = local_argv(services()["drill"]["command"], **{"%h": "profile"})
    stack.processes["drill"] = ManagedProcess(argv, env=env)
    stack.processes["drill"].wait_for_line(r"ready\.", timeout=180)

    status, body = stack.api("POST", "/api/ops/backups/drills/", {"reference": "latest"})
    assert status == 202, body
    failed = _wait_api(
        stack,
        "/api/ops/failed-jobs/",
        lambda rows: any(r["task"] == "backups.drill" for r in rows),
        "the failed drill",
    )
    job = next(row for row in failed["results"] if row["task"] == "backups.drill")
    message = job["message"].strip()
    assert message and "\n" not in message, job
    assert "identity" in message and "drill worker" in message, job
