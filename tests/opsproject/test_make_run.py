"""The README's `make run` stack (web + worker + beat under honcho) serves and stops cleanly."""

import os
import re
import signal
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.support.processes import BIN, PYTHON, REPO, free_port, group_members, running
from tests.support.waiting import wait_until


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status


def _status(url: str) -> int:
    try:
        return _get(url)
    except urllib.error.HTTPError as error:
        return error.code


def _manage(env: dict, *args: str) -> str:
    return subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=REPO,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout


@pytest.mark.embedded
def test_web_worker_and_beat_start_serve_and_leave_nothing_on_ctrl_c(tmp_path):
    port = free_port()
    env = {
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "VAR_DIR": str(tmp_path),
        "PORT": str(port),
        "VENV": str(BIN.parent),
    }
    _manage(env, "migrate", "--noinput")
    _manage(env, "createcachetable")
    _manage(env, "schedule_sync")
    # What the Makefile's run target does next: the account to sign in with, the demo offered.
    told = _manage(env, "local_operator", "--url", f"http://127.0.0.1:{port}/")
    assert re.search(rf"Open http://127\.0\.0\.1:{port}/ and sign in as `operator`\.\nPassword: \S+", told)
    assert "`make demo` fills it" in _manage(env, "demo", "--offer")  # no terminal: no question

    with running([str(BIN / "honcho"), "--procfile", "Procfile", "start"], env=env) as stack:
        stack.wait_for_line(r"Uvicorn running on", timeout=60)
        stack.wait_for_line(r"worker@\S+ ready\.", timeout=60)
        stack.wait_for_line(r"beat: Starting", timeout=60)
        # The leader-locked scheduler leads on its own in the embedded profile (no Redis).
        stack.wait_for_line(r"became the leader", timeout=60)
        assert _get(f"http://127.0.0.1:{port}/admin/login/") == 200
        # The web process is the realtime server here: its heartbeat makes /health/realtime
        # (and the old /health/reverb) pass without any websocket client.
        for path in ("/health/realtime", "/health/reverb"):
            wait_until(
                lambda path=path: _status(f"http://127.0.0.1:{port}{path}") == 200,
                60,
                f"{path} passing in the embedded profile",
                explain=lambda: stack.output[-3000:],
            )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as home:
            assert home.url.startswith(f"http://127.0.0.1:{port}/admin/login/?next=")

        children = [int(pid) for pid in re.findall(r"started \(pid=(\d+)\)", stack.output)]
        assert len(children) == 3, stack.output
        stack.signal(signal.SIGINT)  # what Ctrl-C delivers to the foreground process group
        assert stack.proc.wait(30) is not None
        # honcho runs each child in its own session: every one of those groups must be empty.
        wait_until(
            lambda: not any(group_members(pid) for pid in children),
            60,
            "every process of web, worker and beat gone",
            explain=lambda: f"left behind: { {pid: group_members(pid) for pid in children} }\n{stack.output}",
        )


@pytest.mark.embedded
def test_make_run_runs_the_steps_the_test_above_replays():
    """The test above replays the run target by hand; this keeps the two in step."""
    planned = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", "PORT=8123"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.splitlines()
    steps = [line.split("manage.py ", 1)[1] for line in planned if "manage.py " in line]
    assert steps == [
        "migrate --noinput",
        "createcachetable",
        "schedule_sync",
        "local_operator --url http://127.0.0.1:8123/",
        "demo --offer",
    ]
    assert planned[-1].startswith("exec ") and "honcho --procfile Procfile start --port 8123" in planned[-1]
