"""A RabbitMQ node of the test's own (own node name, ports and data), to kill, stop and restart.

The machine's shared node must keep serving every other test, so the fault tests that take the
broker down or SIGKILL workers by the hundred start one of these instead. It keeps its data
directory across restarts, as a real node does.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
from pathlib import Path

from tests.support.processes import ManagedProcess, free_port
from tests.support.waiting import wait_until

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # the /usr/sbin wrapper re-runs as user rabbitmq


class RabbitMQServer:
    """One rabbitmq-server on 127.0.0.1:<port>, user guest/guest on vhost /; start() and stop() at will."""

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"ops_test_{secrets.token_hex(4)}@localhost"
        self.process: ManagedProcess | None = None
        (root / "enabled_plugins").write_text("[].\n")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def env(self) -> dict[str, str]:
        return {
            "HOME": str(self.root),  # the Erlang cookie of this node lives here
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_PID_FILE": str(self.root / "node.pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
        }

    def start(self) -> None:
        self.process = ManagedProcess([SERVER], env={**os.environ, **self.env()})
        self.process.wait_for_line(r"Starting broker\.\.\. completed", timeout=120)
        wait_until(self._answers, 30, f"RabbitMQ on port {self.port}")

    def _answers(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self, kill: bool = False) -> None:
        """SIGKILL (a crash: only what the node confirmed survives) or SIGTERM (a clean stop)."""
        if self.process is None:
            return
        self.process.signal(signal.SIGKILL if kill else signal.SIGTERM)
        self.process.stop(timeout=60)
        (self.root / "node.log").write_text(self.process.output)
        self.process = None

    def queues(self) -> str:
        """`rabbitmqctl list_queues` of this node for a failure message: name, messages (counting
        those dead-lettered and not yet moved on), ready, unacknowledged."""
        argv = [str(Path(SERVER).with_name("rabbitmqctl")), "-n", self.node, "-q", "list_queues"]
        argv += ["name", "messages", "messages_ready", "messages_unacknowledged"]
        try:
            done = subprocess.run(
                argv, env={**os.environ, **self.env()}, capture_output=True, text=True, timeout=60
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"rabbitmqctl list_queues: {error}"
        return (done.stdout + done.stderr).strip()
