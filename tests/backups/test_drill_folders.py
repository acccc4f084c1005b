"""A drill killed mid-run leaves its scratch folder; the next drill removes it, not a live drill's."""

from __future__ import annotations

import signal
import tempfile
from pathlib import Path

from backups import drill_scratch
from tests.support.processes import PYTHON, running

# A drill's folder with a fetched binlog in it, held until the process ends.
HOLDER = """
import time
import django
django.setup()
from backups import drill_scratch
with drill_scratch.folder() as path:
    (path / "binlog.000001").write_bytes(b"events")
    print(path, flush=True)
    time.sleep(600)
"""


def test_a_killed_drills_folder_is_removed_and_a_live_drills_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    env = {"TMPDIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "opsproject.settings"}
    with running([PYTHON, "-c", HOLDER], env=env) as killed, running([PYTHON, "-c", HOLDER], env=env) as live:
        dead = Path(killed.wait_for_line(r"backup-drill-").string)
        alive = Path(live.wait_for_line(r"backup-drill-").string)
        killed.signal(signal.SIGKILL)
        killed.proc.wait(timeout=60)
        assert (dead / "binlog.000001").exists(), "SIGKILL runs no cleanup"

        assert drill_scratch.remove_abandoned_folders() == [dead]
        assert not dead.exists()
        assert (alive / "binlog.000001").exists()


def test_a_finished_drill_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with drill_scratch.folder() as path:
        assert path.name.startswith(drill_scratch.FOLDER_PREFIX)
        assert drill_scratch.remove_abandoned_folders() == [], "its own folder is held"
    assert list(tmp_path.iterdir()) == []
