"""Running a command under a pseudo-terminal, to see what it shows a person at a terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from collections.abc import Mapping, Sequence

from tests.support.processes import REPO


def run_in_terminal(
    argv: Sequence[str], env: Mapping[str, str], timeout: float = 300, answer: tuple[str, bytes] | None = None
) -> tuple[int, str]:
    """(exit code, everything written to the terminal): stdin, stdout and stderr are one pty.
    `answer` (prompt, keys): the keys are typed once the prompt has been shown."""
    controller, terminal = pty.openpty()
    # 24 rows x 100 columns, as a terminal window has: a fresh pty says 0 x 0.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        process = subprocess.Popen(
            list(argv), cwd=REPO, env=dict(env), stdin=terminal, stdout=terminal, stderr=terminal
        )
        os.close(terminal)
        terminal = -1
        chunks = []
        deadline = time.monotonic() + timeout
        while True:
            if not select.select([controller], [], [], max(deadline - time.monotonic(), 0))[0]:
                process.kill()  # silent past the deadline: put it down, fail with what it wrote
                process.wait()
                raise AssertionError(f"{argv} still running after {timeout} s:\n{b''.join(chunks).decode()}")
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the child closed its side of the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
            if answer and answer[0].encode() in b"".join(chunks):
                os.write(controller, answer[1])
                answer = None
        return process.wait(), b"".join(chunks).decode(errors="replace")
    finally:
        if terminal != -1:
            os.close(terminal)
        os.close(controller)
