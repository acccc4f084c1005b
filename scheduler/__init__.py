"""The scheduler: the leader-locked beat, the periodic-job registry, its run log and schedule_* commands."""
