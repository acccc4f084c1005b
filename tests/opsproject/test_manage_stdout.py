"""manage.py and a stdout whose reader went away (`manage.py ... | head -1`): a command that ended
well, or with its own exit status, ends quietly; a command that failed still says why."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support.processes import PYTHON, REPO


def _into_a_closed_pipe(code: str, tmp_path) -> tuple[int, str]:
    """Run `manage.py shell -c code` with stdout a pipe nobody reads any more."""
    env = {**os.environ, "DATABASE_URL": "", "REDIS_URL": "", "VAR_DIR": str(tmp_path)}
    env.pop("PYTHONUNBUFFERED", None)  # buffered, as a pipe is by default: the flush at the end meets it
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the command writes a byte
    try:
        command = subprocess.Popen(
            [PYTHON, "manage.py", "shell", "--no-imports", "-c", code],
            cwd=REPO,
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        os.close(write_end)
    _, stderr = command.communicate(timeout=120)
    return command.returncode, stderr


def test_a_command_that_ends_well_into_a_closed_pipe_ends_quietly(tmp_path):
    assert _into_a_closed_pipe("print('row')", tmp_path) == (1, "")


@pytest.mark.parametrize("status", [2, 3])
def test_a_command_exit_status_is_kept_when_its_output_meets_a_closed_pipe(tmp_path, status):
    assert _into_a_closed_pipe(f"print('row'); raise SystemExit({status})", tmp_path) == (status, "")


def test_a_command_that_fails_says_why_even_when_its_output_meets_a_closed_pipe(tmp_path):
    """The failure is the error to report; the closed pipe, met while flushing after it, is not."""
    returncode, stderr = _into_a_closed_pipe("print('row'); raise RuntimeError('the real error')", tmp_path)

    assert returncode == 1
    assert "RuntimeError: the real error" in stderr, stderr
    assert "BrokenPipeError" not in stderr, stderr
