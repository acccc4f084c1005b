"""`manage.py` command lines run as forks of a warmed-up interpreter instead of fresh ones.

A fresh interpreter per command line spends about a second (several on a loaded machine)
importing Django and the project before the command reads its first argument. A warm
interpreter imports them once, with the environment the command lines are given, then forks
for each command line: the fork runs `manage.main()` on that argv, stdin empty, stdout and
stderr to files, and exits as the real command would (its exit code, its atexit handlers, a
traceback on an uncaught exception). The settings module reads the environment when it is
imported, so a warm interpreter serves only command lines with exactly its environment; a
different environment gets (or reuses) its own.
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import signal
import subprocess
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass

from tests.support.processes import PYTHON, REPO

_SERVER = r"""
import json, os, sys, tempfile
answers = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)  # what the imports print is not an answer
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsproject.settings")
try:
    django.setup()
except Exception:
    pass  # a refused configuration: each command line meets it again, as its own process would
import manage
null = os.open(os.devnull, os.O_RDONLY)
for request in sys.stdin:
    argv = json.loads(request)
    out_fd, out_path = tempfile.mkstemp(prefix="manage-out-")
    err_fd, err_path = tempfile.mkstemp(prefix="manage-err-")
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        answers.close()
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        sys.argv = ["manage.py", *argv]
        manage.main()
        sys.exit(0)
    os.close(out_fd)
    os.close(err_fd)
    _, status = os.waitpid(pid, 0)
    outputs = []
    for path in (out_path, err_path):
        with open(path, errors="replace") as handle:
            outputs.append(handle.read())
        os.unlink(path)
    answers.write(json.dumps([os.waitstatus_to_exitcode(status), *outputs]) + "\n")
    answers.flush()
"""


@dataclass
class CommandLine:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class WarmInterpreter:
    """One warm interpreter for one environment; `run(argv)` runs one command line in a fork."""

    def __init__(self, env: Mapping[str, str]):
        self.proc = subprocess.Popen(
            [PYTHON, "-c", _SERVER],
            cwd=REPO,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # its own process group: a timeout puts down it and its fork
        )

    def run(self, argv: Sequence[str], timeout: float) -> CommandLine:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(list(argv)) + "\n")
        self.proc.stdin.flush()
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                self.close()
                raise subprocess.TimeoutExpired(["manage.py", *argv], timeout)
        line = self.proc.stdout.readline()
        assert line, f"the warm interpreter exited ({self.proc.poll()})"
        return CommandLine(tuple(argv), *json.loads(line))

    def close(self) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout):
            with suppress(OSError):
                stream.close()


_warm: OrderedDict[tuple[tuple[str, str], ...], WarmInterpreter] = OrderedDict()
_KEEP = 2  # environments kept warm (each interpreter holds the whole project in memory)
atexit.register(lambda: [warm.close() for warm in _warm.values()])


def run_command_line(argv: Sequence[str], env: Mapping[str, str], timeout: float = 120) -> CommandLine:
    """`manage.py ARGV` with `env` as its environment, in a fork of a warm interpreter. pytest's
    PYTEST_CURRENT_TEST (a new value for every test, read by nothing here) is left out."""
    env = {name: value for name, value in env.items() if name != "PYTEST_CURRENT_TEST"}
    key = tuple(sorted(env.items()))
    warm = _warm.pop(key, None)
    if warm is None or warm.proc.poll() is not None:
        warm = WarmInterpreter(env)
    _warm[key] = warm
    while len(_warm) > _KEEP:
        _warm.popitem(last=False)[1].close()
    try:
        return warm.run(argv, timeout)
    except BaseException:
        _warm.pop(key, None)
        warm.close()
        raise


def run_command_lines(
    argvs: Sequence[Sequence[str]], env: Mapping[str, str], timeout: float = 120
) -> list[CommandLine]:
    """Each `manage.py ARGV` in turn; their outcomes, in order."""
    return [run_command_line(argv, env, timeout) for argv in argvs]
