"""Queue operations: task retry policy, failed jobs, backlog alerts, worker heartbeats."""
