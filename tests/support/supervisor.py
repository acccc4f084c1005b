"""A process kept running as compose's `restart: unless-stopped` keeps a container: started again on exit."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from tests.support.processes import ManagedProcess


class Supervised:
    """Runs `argv`, and again each time it exits, until stop(); `supervise=False` lets the next exit stand."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str]):
        self.argv, self.env = list(argv), dict(env)
        self.runs: list[ManagedProcess] = []
        self.supervise = True
        self._stopping = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    @property
    def current(self) -> ManagedProcess:
        with self._changed:
            self._changed.wait_for(lambda: self.runs, timeout=60)
            return self.runs[-1]

    def _loop(self) -> None:
        while not self._stopping.is_set():
            process = ManagedProcess(self.argv, env=self.env)
            with self._changed:
                self.runs.append(process)
                self._changed.notify_all()
            process.proc.wait()
            process.stop()  # reap the group's leftovers, collect the output
            if not self.supervise:
                return

    def stop(self) -> None:
        self._stopping.set()
        self.supervise = False
        with self._changed:
            runs = list(self.runs)
        for process in runs:
            process.stop()
        self._thread.join(30)
        # The loop may have started one more run between the flag and the join.
        for process in self.runs[len(runs) :]:
            process.stop()
