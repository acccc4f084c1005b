"""What a newcomer meets first: `/`, the local operator account, the demo command and its progress."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess

import pytest
from django.contrib.auth.models import User
from django.test import Client

from helpdesk.models import Ticket
from mailops.models import Suppression
from queueops.models import FailedJob
from tests.opsproject.test_production_settings import GOOD
from tests.opsproject.test_production_settings import _start as start_production
from tests.support.celery_worker import child_env
from tests.support.processes import PYTHON, REPO
from tests.support.terminal import run_in_terminal

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def quick_passwords():
    """Not here: local_operator hashes with the default hashers, which this process checks."""


OPS_LISTS = (
    "failed-jobs/",
    "queues/",
    "alerts/",
    "schedules/",
    "backups/",
    "backups/drills/",
    "mail/events/",
    "mail/suppressions/",
    "audit/",
)


def manage(*args: str, production: bool = False, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, **child_env(**env)}
    if production:
        environment = {k: v for k, v in environment.items() if k != "VAR_DIR"} | GOOD
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=REPO, env=environment, capture_output=True, text=True, timeout=300
    )


def test_root_sends_operators_to_the_dashboard_other_staff_to_the_admin_and_everyone_else_to_the_login():
    assert Client().get("/")["Location"] == "/admin/login/?next=%2Fadmin%2Foperations%2Fdashboard%2F"
    operator, staff, plain = Client(), Client(), Client()
    operator.force_login(User.objects.create_superuser("root-operator", "", "x"))
    staff.force_login(User.objects.create_user("root-staff", is_staff=True))  # an agent, not an operator
    plain.force_login(User.objects.create_user("root-plain"))
    assert operator.get("/")["Location"] == "/admin/operations/dashboard/"
    assert operator.get("/", follow=True).status_code == 200
    assert staff.get("/", follow=True).status_code == 200  # not the dashboard's 403
    assert staff.get("/")["Location"] == "/admin/"
    assert plain.get("/")["Location"].startswith("/admin/login/")
    assert staff.post("/").status_code == 405
    assert Client().get("/health/live").status_code == 200  # the probes' paths are unchanged


def test_live_ticket_page_is_for_agents_only():
    requester = User.objects.create_user("live-requester")
    ticket = Ticket.objects.create(subject="Live", requester=requester)
    assert (
        Client().get(f"/tickets/{ticket.pk}/live")["Location"]
        == f"/admin/login/?next=/tickets/{ticket.pk}/live"
    )
    own = Client()
    own.force_login(requester)  # may follow the ticket, but the page shows the agents' channel
    assert own.get(f"/tickets/{ticket.pk}/live").status_code == 403
    agent = Client()
    agent.force_login(User.objects.create_user("live-agent", is_staff=True))
    page = agent.get(f"/tickets/{ticket.pk}/live", HTTP_HOST="127.0.0.1:8123")
    assert page.status_code == 200
    config = json.loads(page.content.decode().split('type="application/json">')[1].split("</script>")[0])
    assert config["channel"] == f"ticket.{ticket.pk}.agents"
    assert (config["host"], config["port"], config["tls"]) == ("127.0.0.1", 8123, False)
    assert "opsproject-development-secret" not in page.content.decode()
    assert agent.get("/tickets/999999/live").status_code == 404


def test_live_page_connects_where_realtime_public_url_says(settings):
    settings.REALTIME_PUBLIC_URL = "wss://ws.example.com"
    ticket = Ticket.objects.create(subject="Elsewhere", requester=User.objects.create_user("ws-requester"))
    agent = Client()
    agent.force_login(User.objects.create_user("ws-agent", is_staff=True))
    page = agent.get(f"/tickets/{ticket.pk}/live").content.decode()
    config = json.loads(page.split('type="application/json">')[1].split("</script>")[0])
    assert (config["host"], config["port"], config["tls"]) == ("ws.example.com", 443, True)


def test_a_malformed_realtime_public_url_is_refused_at_start_up():
    done = start_production({"REALTIME_PUBLIC_URL": "https://ws.example.com/app"})
    assert done.returncode != 0
    assert "REALTIME_PUBLIC_URL must be ws://host[:port] or wss://host[:port]" in done.stderr
    assert start_production({"REALTIME_PUBLIC_URL": "wss://ws.example.com:8443"}).returncode == 0


def test_local_operator_is_made_once_with_a_private_generated_password(tmp_path):
    var = tmp_path / "checkout"
    var.mkdir()
    first = manage("local_operator", "--url", "http://127.0.0.1:8000/", VAR_DIR=str(var))
    assert first.returncode == 0, first.stderr
    stored = json.loads((var / "local-operator.txt").read_text())
    assert stat.S_IMODE((var / "local-operator.txt").stat().st_mode) == 0o600
    assert f"Password: {stored['password']}" in first.stdout and len(stored["password"]) >= 20
    operator = User.objects.get(username="operator")
    assert operator.is_superuser and operator.is_staff and operator.check_password(stored["password"])

    again = manage("local_operator", VAR_DIR=str(var))
    assert again.returncode == 0 and stored["password"] not in again.stdout
    assert "The password is in" in again.stdout
    other = tmp_path / "other-checkout"
    other.mkdir()
    manage("local_operator", VAR_DIR=str(other))
    assert json.loads((other / "local-operator.txt").read_text())["password"] != stored["password"]


def test_local_operator_file_removed_for_a_new_password_signs_in_with_the_printed_one(tmp_path):
    assert manage("local_operator", VAR_DIR=str(tmp_path)).returncode == 0
    (tmp_path / "local-operator.txt").unlink()  # what the command's own advice says to do
    again = manage("local_operator", VAR_DIR=str(tmp_path))
    assert again.returncode == 0, again.stderr
    printed = re.search(r"Password: (\S+)", again.stdout).group(1)
    assert User.objects.get(username="operator").check_password(printed)
    assert json.loads((tmp_path / "local-operator.txt").read_text())["password"] == printed


def test_local_operator_tightens_a_widened_file_and_refuses_a_foreign_one(tmp_path):
    assert manage("local_operator", VAR_DIR=str(tmp_path)).returncode == 0
    stored = tmp_path / "local-operator.txt"
    stored.chmod(0o644)
    assert manage("local_operator", VAR_DIR=str(tmp_path)).returncode == 0
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    for foreign in ("[]\n", '{"username": "operator"}\n', "not json\n"):
        stored.write_text(foreign)
        done = manage("local_operator", VAR_DIR=str(tmp_path))
        assert done.returncode == 2, (foreign, done.stdout, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and "remove it" in done.stderr
        assert "Password:" not in done.stdout and "Traceback" not in done.stderr
        assert stored.read_text() == foreign  # not overwritten


def test_local_operator_does_not_follow_a_link_left_in_place_of_its_file(tmp_path):
    elsewhere = tmp_path / "elsewhere.txt"
    (tmp_path / "local-operator.txt").symlink_to(elsewhere)  # dangling: reads as missing
    done = manage("local_operator", VAR_DIR=str(tmp_path))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not elsewhere.exists() and "Password:" not in done.stdout


@pytest.mark.parametrize("command", ["local_operator", "demo"])
def test_refused_in_production_with_one_line(command):
    done = manage(command, production=True)
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "development only" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["local_operator", "demo"])
def test_refused_in_production_with_one_line_even_before_it_is_configured(command):
    bare = {k: v for k, v in os.environ.items() if k not in (*GOOD, "VAR_DIR")}
    done = subprocess.run(
        [PYTHON, "manage.py", command],
        cwd=REPO,
        env={**bare, "DJANGO_ENV": "production"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "DJANGO_ENV=production" in done.stderr and "SECRET_KEY" in done.stderr
    assert "Traceback" not in done.stderr


def test_demo_loads_once_shows_progress_on_a_terminal_and_reloads_with_reset():
    env = {**os.environ, **child_env()}
    code, shown = run_in_terminal([PYTHON, "manage.py", "demo"], env)
    assert code == 0, shown
    assert "demo:" in shown and "part" in shown and "|" in shown and "9/9" in shown, shown
    assert "Demo day loaded" in shown
    assert Ticket.objects.filter(sla_breached_at__isnull=False).count() == 1
    assert FailedJob.objects.count() == 1 and Suppression.objects.count() == 1

    twice = manage("demo")
    assert twice.returncode == 2 and "already loaded" in twice.stderr

    code, shown = run_in_terminal([PYTHON, "manage.py", "demo", "--reset", "--json"], env)
    assert code == 0, shown
    assert "9/9" not in shown and "part" not in shown.split("{", 1)[0], shown
    piped = manage("demo", "--reset")
    assert piped.returncode == 0 and "9/9" not in piped.stderr + piped.stdout
    assert Ticket.objects.count() == 5 and FailedJob.objects.count() == 1
    assert Suppression.objects.count() == 1

    # The ops API's lists and ops_report show the day too.
    operator = Client()
    operator.force_login(User.objects.create_superuser("demo-reader", "", "x"))
    for path in OPS_LISTS:
        listing = operator.get(f"/api/ops/{path}")
        assert listing.status_code == 200, (path, listing.content[:300])
        body = listing.json()
        rows = body.get("results", body) if isinstance(body, dict) else body
        assert rows, (path, body)
    report = manage("ops_report")
    assert "| Recent backup | ✅ |" in report.stdout and "| Restore drill | ✅ |" in report.stdout
    assert "1 job(s) failed in the last 24 h" in report.stdout


def test_every_api_address_the_readme_sends_a_newcomer_to_answers():
    run_it = (REPO / "README.md").read_text().split("## Run it", 1)[1].split("\n## ", 1)[0]
    addresses = set(re.findall(r"(?<!POST )`(/api/[^`\s]*)`", run_it))
    assert addresses, "the README's Run it section names no API address"
    operator = Client()
    operator.force_login(User.objects.create_superuser("readme-reader", "", "x"))
    for address in sorted(addresses):
        assert operator.get(address).status_code == 200, address


@pytest.mark.parametrize("keys", [b"\x04", b"n\n"], ids=["ctrl-d", "no"])
def test_demo_offer_declined_on_a_terminal_lets_make_run_go_on(keys):
    env = {**os.environ, **child_env()}
    argv = [PYTHON, "manage.py", "demo", "--offer"]
    code, shown = run_in_terminal(argv, env, answer=("[Y/n]", keys))
    assert code == 0, shown  # make run starts the stack only after a 0
    assert "Traceback" not in shown and "`make demo`" in shown.split("[Y/n]", 1)[1], shown
    assert not Ticket.objects.exists()


def test_backup_run_draws_its_bar_on_a_terminal_only_without_json():
    env = {**os.environ, **child_env()}
    code, shown = run_in_terminal([PYTHON, "manage.py", "backup_run"], env)
    assert code == 0, shown
    assert re.search(r"\rbackup \S+ .*B/s", shown), shown
    code, shown = run_in_terminal([PYTHON, "manage.py", "backup_run", "--json"], env)
    assert code == 0, shown
    assert not re.search(r"\rbackup \S+ .*B/s", shown), shown
    piped = manage("backup_run")
    assert piped.returncode == 0 and "B/s" not in piped.stdout + piped.stderr
