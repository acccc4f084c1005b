"""The production compose file and the workflows: valid against their schemas, and operable."""

import os
import re
import subprocess

import pytest

from tests.deploy.compose_file import COMPOSE, env_files, long_running, seconds, services, workflow
from tests.support.processes import BIN, PYTHON, REPO

SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|API_KEY|_KEY$|ACCESS_KEY)", re.I)


def _check_schema(schema: str, path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_compose_file_is_valid_against_the_compose_specification():
    done = _check_schema("vendor.compose-spec", COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_workflows_are_valid_github_workflows(name):
    done = _check_schema("vendor.github-workflows", workflow(name))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_really_rejects_a_broken_file(tmp_path):
    broken = tmp_path / "compose.yml"
    broken.write_text(COMPOSE.read_text().replace("    healthcheck:", "    helthcheck:", 1))
    assert _check_schema("vendor.compose-spec", broken).returncode != 0


def test_the_expected_services_exist():
    assert set(services()) == {
        "mariadb", "redis", "rabbitmq", "migrate", "web", "realtime", "worker", "drill", "beat", "pitr",
    }  # fmt: skip


@pytest.mark.parametrize("name", sorted(long_running()))
def test_every_long_running_service_is_operable(name):
    spec = long_running()[name]
    check = spec.get("healthcheck")
    assert check and check.get("test"), f"{name} has no healthcheck"
    assert check["test"][0] in ("CMD", "CMD-SHELL")
    # A healthcheck must cost under 2 s; its timeout is the hard stop when it hangs.
    assert seconds(check["timeout"]) <= 3
    assert check["retries"] >= 2 and seconds(check["interval"]) <= 30
    assert spec["restart"] == "unless-stopped"
    assert seconds(spec["stop_grace_period"]) >= 20
    logging = spec["logging"]
    assert (
        logging["driver"] == "json-file" and logging["options"]["max-size"] and logging["options"]["max-file"]
    )


@pytest.mark.parametrize("name", ["web", "realtime", "worker", "drill", "beat"])
def test_app_services_wait_for_healthy_dependencies_and_the_migration(name):
    depends = services()[name]["depends_on"]
    assert depends["mariadb"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["rabbitmq"]["condition"] == "service_healthy"
    assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_migrate_is_one_shot_and_syncs_the_schedule():
    migrate = services()["migrate"]
    assert migrate["restart"] == "no"
    command = " ".join(migrate["command"])
    assert "migrate --noinput" in command and "schedule_sync" in command


def test_no_secret_in_the_file():
    for name, spec in services().items():
        assert spec.get("env_file") or name == "redis", f"{name} takes its settings from env_file"
        for key in spec.get("environment") or {}:
            assert not SECRET_NAME.search(key), f"{name} sets {key} inline"
    assert not re.search(r"(?i)(password|secret|token)\s*[:=]\s*\S+", COMPOSE.read_text())


def test_service_specifics():
    s = services()
    # The database image runs the major version the tests run against (this machine's, CI's).
    version = subprocess.run(["mariadb", "--version"], capture_output=True, text=True, check=True).stdout
    major = re.search(r"Distrib (\d+\.\d+)\.", version)[1]
    assert s["mariadb"]["image"] == f"mariadb:{major}"
    assert "./mariadb-init:/docker-entrypoint-initdb.d:ro" in s["mariadb"]["volumes"]
    assert "--log-bin=binlog" in s["mariadb"]["command"]
    redis_command = " ".join(s["redis"]["command"])
    assert "--appendonly yes" in redis_command and "--maxmemory-policy noeviction" in redis_command
    assert s["beat"]["deploy"]["replicas"] == 2
    assert "schedule_beat_alive" in s["beat"]["healthcheck"]["test"]
    assert "queue_worker_alive" in s["worker"]["healthcheck"]["test"]
    web = " ".join(s["web"]["command"])
    assert web.startswith("gunicorn") and "uvicorn_worker.UvicornWorker" in web
    assert "--port=8080" in s["realtime"]["command"] and "8080:8080" in s["realtime"]["ports"]
    for name in ("web", "realtime"):
        assert "/health/live" in " ".join(s[name]["healthcheck"]["test"])
    # Celery warm shutdown needs time to finish running tasks.
    assert seconds(s["worker"]["stop_grace_period"]) >= 120


def test_deploy_is_gated_on_health_and_rolls_back():
    import yaml

    deploy = yaml.safe_load(workflow("deploy.yml").read_text())
    steps = deploy["jobs"]["deploy"]["steps"]
    gate = next(step for step in steps if "health_gate" in step.get("run", ""))
    assert "--timeout 300" in gate["run"] and "--consecutive 3" in gate["run"]
    # The token by environment only: not on the runner's nor the container's command line.
    assert "--token" not in gate["run"] and "$APP_URL/health" in gate["run"]
    assert "-e HEALTH_TOKEN " in gate["run"] and "HEALTH_TOKEN" in gate["env"]
    assert "$HEALTH_TOKEN" not in gate["run"] and "${{" not in gate["run"]
    names = [step.get("name", "") for step in steps]
    rollback = steps[next(i for i, n in enumerate(names) if "Roll back" in n)]
    assert names.index(rollback["name"]) > steps.index(gate)
    assert "failure()" in rollback["if"] and "exit 1" in rollback["run"]


def test_ci_workflow_runs_make_test_on_mariadb_and_redis():
    import yaml

    ci = yaml.safe_load(workflow("ci.yml").read_text())
    job = ci["jobs"]["test"]
    assert {"mariadb", "redis"} <= set(job["services"])
    assert any("make test" in step.get("run", "") for step in job["steps"])


def test_no_workflow_puts_a_secret_on_a_command_line():
    for name in ("ci.yml", "deploy.yml"):
        text = workflow(name).read_text()
        for run in re.findall(r"run: \|\n((?:\s{10,}.*\n)+)", text):
            assert "secrets." not in run, (name, run)
            assert not re.search(r"--token|--password|\$\{?[A-Z_]*(TOKEN|PASSWORD|SECRET)\b", run), (
                name,
                run,
            )


def test_the_deploy_check_runs_before_the_rollout_and_in_make_test():
    import yaml

    steps = yaml.safe_load(workflow("deploy.yml").read_text())["jobs"]["deploy"]["steps"]
    runs = [step.get("run", "") for step in steps]
    check = next(i for i, run in enumerate(runs) if "check --deploy --fail-level WARNING" in run)
    rollout = next(i for i, run in enumerate(runs) if "up -d" in run)
    assert check < rollout
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^test: .*\bdeploy-check\b", makefile, re.M)
    assert "check --deploy --fail-level WARNING" in (REPO / "scripts" / "deploy-check.sh").read_text()


def test_only_the_drill_worker_and_pitr_hold_the_age_identity_and_drill_consumes_the_restore_queue():
    s = services()
    drill = s["drill"]
    command = drill["command"]
    assert command[command.index("-Q") + 1] == "restore"
    assert drill["secrets"] == ["age_identity"]
    assert drill["environment"]["BACKUP_AGE_IDENTITY_FILE"] == "/run/secrets/age_identity"
    assert seconds(drill["stop_grace_period"]) >= 600  # a running drill restores a whole copy
    for name, spec in s.items():
        if name not in ("drill", "pitr"):
            assert "secrets" not in spec and "BACKUP_AGE_IDENTITY_FILE" not in (spec.get("environment") or {})
    assert "--queues=celery" in s["worker"]["command"]  # never the restore queue


def test_local_backups_live_on_a_named_volume():
    s = services()
    for name in ("web", "worker", "drill"):
        assert "backups-data:/app/var/backups" in s[name]["volumes"], name
    template = (COMPOSE.parent / "production.env.example").read_text()
    assert "BACKUP_ALLOW_LOCAL=false" in template and "BACKUP_S3_BUCKET=" in template


def _env_file_names(spec: dict) -> set[str]:
    """The variable names a service's env_file(s) set, read from their committed .example."""
    names = set()
    for env_file in env_files(spec):
        template = COMPOSE.parent / f"{env_file}.example"
        assert template.exists(), f"{env_file} has no committed {template.name}"
        for line in template.read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#") and "=" in line:
                names.add(line.partition("=")[0].strip())
    return names


def test_each_backup_login_reaches_only_the_services_that_use_it():
    """web, realtime, beat and migrate hold no backup job's login; the replay login (BINLOG REPLAY
    writes any table) only the one-off pitr service."""
    holders = {
        "BACKUP_DATABASE_URL": {"worker"},
        "BACKUP_RESTORE_DATABASE_URL": {"drill", "pitr"},
        "BACKUP_DRILL_DATABASE_URL": {"drill", "pitr"},
        "BACKUP_PITR_DATABASE_URL": {"pitr"},
    }
    for variable, expected in holders.items():
        have = {
            name
            for name, spec in services().items()
            if variable in _env_file_names(spec) | set(spec.get("environment") or {})
        }
        assert have == expected, variable
    assert services()["pitr"]["profiles"] == ["pitr"]  # never started by `up`


def test_the_database_passwords_reach_the_database_service_only():
    """An app container (web, workers, beat) that held MARIADB_ROOT_PASSWORD or the users'
    passwords of 01-users.sh would undo the least-privilege users; the database container needs
    none of the app's secrets."""
    s = services()
    for name, spec in s.items():
        names = _env_file_names(spec)
        if name == "mariadb":
            assert "MARIADB_ROOT_PASSWORD" in names and "MARIADB_BACKUP_PASSWORD" in names
            assert not {"SECRET_KEY", "DATABASE_URL", "BACKUP_MANIFEST_KEY"} & names, names
        else:
            held = sorted(n for n in names if n.startswith("MARIADB_") and "PASSWORD" in n)
            assert not held, f"{name} gets {held}"


def test_the_broker_service_gets_none_of_the_apps_secrets():
    """RabbitMQ needs its user, password and vhost; not SECRET_KEY, the database logins or keys."""
    names = _env_file_names(services()["rabbitmq"])
    assert {"RABBITMQ_DEFAULT_USER", "RABBITMQ_DEFAULT_PASS", "RABBITMQ_DEFAULT_VHOST"} <= names
    leaked = sorted(n for n in names if not n.startswith("RABBITMQ_") and SECRET_NAME.search(n))
    assert not leaked and "DATABASE_URL" not in names, leaked


def test_up_needs_no_env_file_that_only_a_profiled_service_reads():
    """Compose reads the env files of every service, also of a profile that is off: a file only
    the one-off pitr service reads is optional, so `up` works for an operator without pitr.env."""
    default = {file for spec in services().values() if not spec.get("profiles") for file in env_files(spec)}
    for name, spec in services().items():
        if spec.get("profiles"):
            required = set(env_files(spec, required_only=True))
            assert required <= default, f"`up` fails without {sorted(required - default)} ({name})"
    pitr = services()["pitr"]
    assert "pitr.env" in env_files(pitr) and "pitr.env" not in env_files(pitr, required_only=True)
    # `required:` is Compose 2.24's: older versions refuse the file, so the docs name the minimum.
    assert "Docker Compose 2.24" in (REPO / "docs" / "PRODUCTION_ENV.md").read_text()


def _as_compose_runs_it(argv: list[str]) -> list[str]:
    """The argv compose gives the container: `$$` is a literal `$`; no other `$` (interpolation)."""
    for arg in argv:
        assert "$" not in arg.replace("$$", ""), f"compose would interpolate {arg!r}"
    return [arg.replace("$$", "$") for arg in argv]


def _run_pitr(command: list[str], **env: str) -> subprocess.CompletedProcess:
    """`docker compose --profile pitr run --rm pitr COMMAND` as a local process: its entrypoint."""
    base = {key: value for key, value in os.environ.items() if key != "BACKUP_PITR_DATABASE_URL"}
    argv = [*_as_compose_runs_it(services()["pitr"]["entrypoint"]), *command]
    return subprocess.run(argv, env=base | env, cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("login", [None, ""])
def test_the_pitr_service_refuses_in_one_line_without_its_login(login):
    env = {} if login is None else {"BACKUP_PITR_DATABASE_URL": login}
    done = _run_pitr([PYTHON, "manage.py", "backup_restore", "--help"], **env)
    assert done.returncode == 2 and done.stdout == "", done.stdout + done.stderr
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1, line
    assert "BACKUP_PITR_DATABASE_URL is not set" in line and "compose/pitr.env" in line


def test_the_pitr_service_runs_the_operators_command_with_its_login():
    done = _run_pitr(
        [PYTHON, "manage.py", "backup_restore", "--help"], BACKUP_PITR_DATABASE_URL="mysql://u:p@mariadb/x"
    )
    assert done.returncode == 0, done.stderr
    assert "--until" in done.stdout
