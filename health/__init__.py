"""The health framework: check registry, runner, probe endpoints and the health commands."""
