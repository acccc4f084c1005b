"""Each probe in deploy/kubernetes exists in the app and answers as its probe expects, against real
processes started with the manifests' own commands."""

from __future__ import annotations

import asyncio
import json
import subprocess
import urllib.error
import urllib.request

import pytest
import websockets

from tests.deploy import kubernetes_manifests as k8s
from tests.support.celery_worker import child_env
from tests.support.processes import BIN, PYTHON, REPO, free_port, running
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

DEPLOYMENTS = {obj["metadata"]["name"]: obj for obj in k8s.base_objects() if obj["kind"] == "Deployment"}
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
CONFIG = next(obj for obj in k8s.base_objects() if obj["kind"] == "ConfigMap")["data"]


def container(name: str) -> dict:
    return k8s.containers(DEPLOYMENTS[name])[0]


def probes(name: str) -> list[dict]:
    return [container(name)[kind] for kind in PROBES if kind in container(name)]


def local(argv: list[str], **extra: str) -> list[str]:
    """The image's command as this checkout runs it: its venv's python and celery, and lighter."""
    program = {"python": PYTHON, "celery": str(BIN / "celery")}.get(argv[0], argv[0])
    return [program, *argv[1:], *extra.values()]


def exec_probe(probe: dict, **env: str) -> subprocess.CompletedProcess:
    argv = local(probe["exec"]["command"])
    return subprocess.run(
        argv, cwd=REPO, env={**child_env(), **env}, capture_output=True, text=True, timeout=60
    )


def get(url: str, host: str) -> int:
    # kubelet sends the pod's address as Host, which ALLOWED_HOSTS does not list.
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def served_here(argv: list[str], port: int) -> list[str]:
    """The container's server command on this machine: loopback, a free port, one worker."""
    program = str(BIN / argv[0]) if argv[0] in ("gunicorn", "uvicorn") else argv[0]
    rest = []
    for arg in argv[1:]:
        if arg.startswith("--bind="):
            arg = f"--bind=127.0.0.1:{port}"
        elif arg.startswith("--host="):
            arg = "--host=127.0.0.1"
        elif arg.startswith("--port="):
            arg = f"--port={port}"
        elif arg.startswith("--workers="):
            arg = "--workers=1"
        rest.append(arg)
    return [program, *rest]


def oversized_message_close_code(port: int, size: int) -> int:
    async def scenario():
        url = f"ws://127.0.0.1:{port}/app/{CONFIG['REALTIME_APP_KEY']}?protocol=7&client=python&version=1.0"
        async with websockets.connect(url, max_size=None) as ws:
            json.loads(await asyncio.wait_for(ws.recv(), 30))  # pusher:connection_established
            await ws.send(json.dumps({"event": "pusher:ping", "data": "x" * size}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 30)
            return closed.value.rcvd.code

    return asyncio.run(scenario())


@pytest.mark.parametrize("name", ["web", "realtime"])
def test_the_http_probes_answer_200_on_the_containers_own_server_command(name, tmp_path):
    """Started with the Deployment's own args: a worker class or flag the image lacks fails here."""
    port = free_port()
    own = {item["name"]: item["value"] for item in container(name).get("env", [])}
    # The image's user has its home in the read-only /app: nothing may need to write there.
    home = tmp_path / "read-only-home"
    home.write_text("")
    env = child_env(REALTIME_APP_KEY=CONFIG["REALTIME_APP_KEY"], LOG_FORMAT="json", HOME=str(home), **own)
    with running(served_here(container(name)["args"], port), env=env) as server:

        def answers() -> bool:
            assert server.proc.poll() is None, f"{name} exited: {server.output[-2000:]}"
            try:
                return get(f"http://127.0.0.1:{port}/health/live", host="127.0.0.1") == 200
            except OSError:  # not listening yet
                return False

        wait_until(
            answers,
            timeout=90,
            what=f"{name}'s server to answer",
            explain=lambda: server.output[-2000:],
        )
        for probe in probes(name):
            path = probe["httpGet"]["path"]
            status = get(f"http://127.0.0.1:{port}{path}", host="10.42.0.17:8000")
            assert status == 200, (name, path, status, server.output[-2000:])
        # Both serve opsproject.asgi's websockets: the transport caps a message at the size the
        # ConfigMap's REALTIME_MAX_MESSAGE_BYTES sets, before the app reads it (1009, not 4009).
        limit = int(CONFIG["REALTIME_MAX_MESSAGE_BYTES"])
        assert oversized_message_close_code(port, limit * 4) == 1009, server.output[-2000:]
    errors = [line for line in server.lines if "ERROR" in line or '"level": "error"' in line]
    assert not errors, errors
    # LOG_FORMAT=json: every line a log store can parse, the server's own included.
    not_json = [line for line in server.lines if line.strip() and not line.startswith("{")]
    assert not not_json, not_json


def test_the_worker_probe_passes_for_the_running_worker_and_fails_without_it():
    (worker_probe, *_) = probes("worker")
    # No worker of that name yet: the probe fails, so a dead worker would be restarted.
    refused = exec_probe(worker_probe)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    args = local(container("worker")["args"], concurrency="--concurrency=1", gossip="--without-gossip")
    with running(args, env=child_env()) as worker:
        worker.wait_for_line(r"ready\.", timeout=90)
        for probe in probes("worker"):
            wait_until(
                lambda probe=probe: exec_probe(probe).returncode == 0,
                timeout=60,
                what="the worker's probe to pass",
                explain=lambda probe=probe: exec_probe(probe).stdout,
            )


def test_the_drill_worker_probe_names_the_restore_worker():
    args = local(container("drill-worker")["args"], concurrency="--without-gossip")
    with running(args, env=child_env()) as worker:
        worker.wait_for_line(r"ready\.", timeout=90)
        assert "restore" in worker.output
        probe = probes("drill-worker")[1]
        wait_until(
            lambda: exec_probe(probe).returncode == 0,
            timeout=60,
            what="the drill worker's probe to pass",
            explain=lambda: exec_probe(probe).stdout,
        )


def test_the_beat_probe_passes_for_a_running_beat_and_fails_for_another():
    probe = probes("beat")[1]
    with running(local(container("beat")["args"]), env=child_env(BEAT_NAME="k8s-beat-probe")):
        wait_until(
            lambda: exec_probe(probe, BEAT_NAME="k8s-beat-probe").returncode == 0,
            timeout=90,
            what="the beat's probe to pass",
            explain=lambda: exec_probe(probe, BEAT_NAME="k8s-beat-probe").stdout,
        )
        other = exec_probe(probe, BEAT_NAME="k8s-beat-that-never-ran")
        assert other.returncode == 1, other.stdout + other.stderr


def test_the_migrations_wait_holds_a_pod_until_the_migrate_job_has_run(tmp_path):
    """The init container's own command, on an empty database: it waits, then lets go once the
    migrate Job's command has run."""
    (wait,) = k8s.init_containers(DEPLOYMENTS["web"])
    (migrate_job,) = [obj for obj in k8s.base_objects() if obj["kind"] == "Job"]
    # The embedded profile: a SQLite database of this test's own, nothing migrated yet.
    env = {"DATABASE_URL": "", "REDIS_URL": "", "VAR_DIR": str(tmp_path)}
    argv = [part.replace("python ", f"{PYTHON} ") for part in wait["args"]]
    with running(argv, env=env) as waiting:
        waiting.wait_for_line(r"waiting for the migrate Job", timeout=90)
        assert waiting.proc.poll() is None
        job = [part.replace("python ", f"{PYTHON} ") for part in k8s.containers(migrate_job)[0]["args"]]
        done = subprocess.run(
            job, cwd=REPO, env={**child_env(), **env}, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        wait_until(lambda: waiting.proc.poll() is not None, timeout=90, what="the wait to end")
        assert waiting.proc.returncode == 0, waiting.output[-2000:]
