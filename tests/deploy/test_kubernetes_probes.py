"""Each probe in deploy/kubernetes exists in the app and answers as its probe expects, against real
processes started with the manifests' own commands."""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request

import pytest

from tests.deploy import kubernetes_manifests as k8s
from tests.realtime.support import asgi_server
from tests.support.celery_worker import child_env
from tests.support.processes import BIN, PYTHON, REPO, running
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

DEPLOYMENTS = {obj["metadata"]["name"]: obj for obj in k8s.base_objects() if obj["kind"] == "Deployment"}
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


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


def test_the_http_probes_answer_200_on_a_running_server():
    with asgi_server() as server:
        for name in ("web", "realtime"):
            for probe in probes(name):
                path = probe["httpGet"]["path"]
                status = get(f"{server.base}{path}", host="10.42.0.17:8000")
                assert status == 200, (name, path, status, server.process.output[-2000:])


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
