"""Names of queueops' entries in the shared key-value store (`keyvalue`)."""

PREFIX = "queueops:"
WORKERS_BOARD = PREFIX + "workers"
