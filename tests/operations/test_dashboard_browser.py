"""The dashboard in headless Chromium against a real uvicorn (see a failed job, retry it); /metrics over HTTP.

Debian's chromium and chromedriver (scripts/test-system-deps.sh) drive the page; the server is
a uvicorn child on the test database and Redis. The screenshot is kept in var/artifacts/.
"""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from audit.models import AuditEntry
from operations import history
from opsproject.celery import app
from queueops.models import FailedJob
from tests.operations.conftest import PASSWORD, failed_job, make_user, queue_size
from tests.support.celery_worker import child_env
from tests.support.processes import BIN, free_port, running

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(settings.BASE_DIR) / "var" / "artifacts"
METRICS_TOKEN = "live-server-metrics-token-0123456789"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def quick_passwords():
    """Not here: the server process checks the password with the default hashers."""


@pytest.fixture
def server(clean_queues):
    port = free_port()
    argv = [str(BIN / "uvicorn"), "opsproject.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
    env = child_env(
        DEBUG="0",
        OPS_DASHBOARD_REFRESH="1",
        DJANGO_SETTINGS_MODULE="opsproject.settings",
        METRICS_TOKEN=METRICS_TOKEN,
        METRICS_ALLOWED_IPS="192.0.2.0/24",
    )
    with running([*argv, "--lifespan", "off"], env=env) as process:
        process.wait_for_line(r"Uvicorn running on", timeout=60)
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("Debian's chromium and chromium-driver are missing: run scripts/test-system-deps.sh")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,2200",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def log_in(driver, base: str, username: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/admin/login/?next=/admin/operations/dashboard/")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()


def text_of(driver, selector: str) -> str:
    return (
        driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e && e.textContent.trim();", selector
        )
        or ""
    )


def click(driver, selector: str, tries: int = 5) -> None:
    """A real click on the element, found again if a refresh replaced it meanwhile."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    for attempt in range(tries):
        try:
            driver.find_element(By.CSS_SELECTOR, selector).click()
            return
        except StaleElementReferenceException:
            if attempt == tries - 1:
                raise


def test_staff_see_a_failed_job_retry_it_and_watch_it_leave(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    staff = make_user("dora-staff", staff=True, ops_admin=True)
    job = failed_job(7, message="the probe fell over")
    app.send_task("queueops.probe", args=[0.0], queue="celery")
    history.sample()  # one point of queue history for the chart
    wait = WebDriverWait(browser, 30)

    log_in(browser, server, staff.username)
    wait.until(seen.presence_of_element_located((By.ID, "ops-dashboard")))
    row = f"tr.ops-failed-job[data-job-id='{job.pk}']"
    # The panels are replaced every second: read them in one script call, never through an
    # element handle that the next refresh may have swapped out.
    assert "the probe fell over" in text_of(browser, row)
    assert text_of(browser, "#ops-failed-count") == "1"
    for panel in ("health", "queues", "failed", "alerts", "scheduler", "mail", "backups", "realtime"):
        assert text_of(browser, f"#panel-{panel} h2"), panel
    chart = "#panel-queues svg[aria-label='queue celery history'] polyline.ops-line-size"
    assert browser.execute_script(
        "return document.querySelector(arguments[0]).getAttribute('points');", chart
    )

    # It refreshes itself: a job failing after the page loaded appears without a reload.
    browser.execute_script("window.opsSamePage = 'yes';")
    later = failed_job(8, message="failed while you watched")
    wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, f"tr[data-job-id='{later.pk}']")))
    assert browser.execute_script("return window.opsSamePage;") == "yes"

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "ops-dashboard.png"))

    click(browser, f"{row} button[data-action='retry']")
    wait.until(seen.invisibility_of_element_located((By.CSS_SELECTOR, row)))
    wait.until(seen.text_to_be_present_in_element((By.ID, "ops-message"), f"failed job #{job.pk} sent again"))
    assert browser.execute_script("return window.opsSamePage;") == "yes"
    browser.save_screenshot(str(ARTIFACTS / "ops-dashboard-after-retry.png"))

    assert not FailedJob.objects.filter(pk=job.pk).exists()
    assert FailedJob.objects.filter(pk=later.pk).exists()
    assert queue_size("ops_probe") == 1  # the broker holds the retried message
    entry = AuditEntry.objects.get(action="failed_job.retry")
    assert (entry.username, entry.channel, entry.outcome) == (staff.username, "dashboard", "ok")
    assert (ARTIFACTS / "ops-dashboard.png").stat().st_size > 10_000


def test_metrics_over_real_http_need_the_token_and_parse(server):
    def get(headers):
        request = urllib.request.Request(f"{server}/metrics", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    assert get({})[0] == 403  # 127.0.0.1 is not in the allow-list here
    assert get({"Authorization": "Bearer not-it"})[0] == 403
    status, body = get({"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert status == 200
    names = {family.name for family in text_string_to_metric_families(body)}
    assert {"ops_health_status", "ops_queue_size", "ops_task_outcomes", "ops_websocket_connections"} <= names


def test_non_staff_get_no_dashboard(db):
    job = failed_job(9)
    admin_index_link = "/admin/operations/dashboard/"
    for user in (make_user("plain-user"), make_user("ops-not-staff", ops_group=True)):
        client = Client()
        client.force_login(user)
        for method, path in (
            ("get", "/admin/operations/dashboard/"),
            ("get", "/admin/operations/dashboard/refresh/"),
            ("post", f"/admin/operations/dashboard/failed/{job.pk}/retry/"),
            ("post", f"/admin/operations/dashboard/failed/{job.pk}/forget/"),
        ):
            response = getattr(client, method)(path)
            assert response.status_code == 302, (user.username, path)
            assert response["Location"].startswith("/admin/login/")
    assert FailedJob.objects.filter(pk=job.pk).exists()
    assert not AuditEntry.objects.exists()

    # Staff without the `ops` group: the admin opens, the dashboard does not (staff is not operator).
    staff = Client()
    staff.force_login(make_user("idx-staff", staff=True))
    assert admin_index_link not in staff.get("/admin/").content.decode()
    for method, path in (
        ("get", "/admin/operations/dashboard/"),
        ("get", "/admin/operations/dashboard/refresh/"),
        ("post", f"/admin/operations/dashboard/failed/{job.pk}/retry/"),
        ("post", f"/admin/operations/dashboard/failed/{job.pk}/forget/"),
    ):
        assert getattr(staff, method)(path).status_code == 403, path
    assert FailedJob.objects.filter(pk=job.pk).exists()
    assert not AuditEntry.objects.exists()

    reader = Client()
    reader.force_login(make_user("idx-reader", staff=True, ops_group=True))
    assert admin_index_link in reader.get("/admin/").content.decode()
    assert reader.get("/admin/operations/dashboard/refresh/").json()["html"]


def test_dashboard_buttons_answer_in_json_for_a_job_already_gone(db):
    staff = Client()
    staff.force_login(make_user("btn-staff", staff=True, ops_admin=True))
    job = failed_job(10)
    forgotten = staff.post(f"/admin/operations/dashboard/failed/{job.pk}/forget/")
    assert forgotten.status_code == 200 and "forgotten" in forgotten.json()["detail"]
    for action in ("retry", "forget"):
        gone = staff.post(f"/admin/operations/dashboard/failed/{job.pk}/{action}/")
        assert gone.status_code == 404
        assert "is gone" in gone.json()["detail"]
    assert staff.get(f"/admin/operations/dashboard/failed/{job.pk}/retry/").status_code == 405
    assert list(AuditEntry.objects.values_list("action", "channel")) == [("failed_job.forget", "dashboard")]
