"""The README's first five minutes in headless Chromium, on the embedded profile (`make run`'s).

Open `/`, sign in with what local_operator printed, see every dashboard panel filled by `demo`,
open a ticket's live page and watch a reply posted through the API arrive over the websocket.
With OPS_SCREENSHOT_DIR set (`make screenshot`) the dashboard's screenshot is kept there as
dashboard.png, the one the README shows; otherwise under var/artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest

from helpdesk.models import Reply, Ticket
from tests.operations.test_dashboard_browser import ARTIFACTS, browser, text_of  # noqa: F401 (fixture)
from tests.support.celery_worker import child_env
from tests.support.processes import BIN, PYTHON, REPO, free_port, running
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(transaction=True)]

PANELS = ("health", "queues", "failed", "alerts", "scheduler", "mail", "backups", "realtime")


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=REPO,
        env={**os.environ, **child_env(**env)},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def server():
    port = free_port()
    argv = [str(BIN / "uvicorn"), "opsproject.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
    with running([*argv, "--lifespan", "off"], env=child_env(DEBUG="0", OPS_DASHBOARD_REFRESH="2")) as web:
        web.wait_for_line(r"Uvicorn running on", timeout=60)
        yield f"http://127.0.0.1:{port}"


def panel_texts(driver) -> dict[str, str]:
    return {name: text_of(driver, f"#panel-{name}") for name in PANELS}


def test_sign_in_see_the_demo_day_and_watch_a_reply_arrive(server, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    # What `make run` does before it starts the stack: the account, then the demo.
    made = manage("local_operator", "--url", f"{server}/", VAR_DIR=str(tmp_path / "checkout-var"))
    assert made.returncode == 0, made.stderr
    assert f"Open {server}/ and sign in as `operator`." in made.stdout
    password = re.search(r"^Password: (\S+)", made.stdout, re.M).group(1)
    demo = manage("demo")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert manage("demo").returncode == 2  # once is enough; --reset to load it again

    wait = WebDriverWait(browser, 60)
    browser.get(f"{server}/")
    wait.until(seen.presence_of_element_located((By.NAME, "username")))
    assert "/admin/login/" in browser.current_url
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait.until(seen.presence_of_element_located((By.ID, "ops-dashboard")))
    assert browser.current_url == f"{server}/admin/operations/dashboard/"

    texts = panel_texts(browser)
    assert "database" in texts["health"] and "migrations" in texts["health"]
    assert browser.execute_script(
        "return document.querySelectorAll('#panel-queues svg polyline.ops-line-size').length;"
    ), texts["queues"]
    assert not re.search(r"Last hour: 0 succeeded", texts["queues"]), texts["queues"]
    assert text_of(browser, "#ops-failed-count") != "0" and "AnymailRequestsAPIError" in texts["failed"]
    assert "Mail: a bounce" in texts["alerts"]
    assert "morning peak" in texts["alerts"]  # the resolved one
    assert "backups.daily" in texts["scheduler"] and "failure" in texts["scheduler"]
    assert re.search(r"Sent in 24 h: [1-9]", texts["mail"]) and "bounced: 1" in texts["mail"]
    assert "suppressed addresses: 1" in texts["mail"]
    assert "default" in texts["backups"] and "passed" in texts["backups"], texts["backups"]
    assert "Open websocket connections" in texts["realtime"]
    screenshots = Path(os.environ.get("OPS_SCREENSHOT_DIR") or ARTIFACTS)
    screenshots.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(screenshots / "dashboard.png"))
    assert (screenshots / "dashboard.png").stat().st_size > 10_000

    # The live page of the breached ticket: Echo subscribes over our websocket server.
    ticket = Ticket.objects.get(subject="Export to CSV times out")
    assert ticket.sla_breached_at is not None
    browser.get(f"{server}/tickets/{ticket.pk}/live")
    wait.until(seen.text_to_be_present_in_element((By.ID, "live-channel"), "subscribed"))
    assert text_of(browser, "#live-state") == "connected"

    # A reply through the API, as the signed-in operator's browser session would post it.
    cookies = {cookie["name"]: cookie["value"] for cookie in browser.get_cookies()}
    request = urllib.request.Request(
        f"{server}/api/tickets/{ticket.pk}/replies/",
        data=json.dumps({"body": "We found the slow query; a fix is deploying now."}).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Cookie": f"sessionid={cookies['sessionid']}; csrftoken={cookies['csrftoken']}",
            "X-CSRFToken": cookies["csrftoken"],
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
        reply_id = json.load(response)["id"]
    assert Reply.objects.filter(pk=reply_id, ticket=ticket).exists()

    event = "#live-events li[data-event='ticket.reply_created']"
    wait_until(lambda: text_of(browser, event), 60, "the reply's event on the live page")
    assert f'"reply_id":{reply_id}' in text_of(browser, event)

    # The page's own form posts to the same API: an internal reply reaches the agents' channel.
    browser.find_element(By.CSS_SELECTOR, "#live-reply textarea").send_keys("Internal: ping the DBA.")
    browser.find_element(By.CSS_SELECTOR, "#live-reply input[name=public]").click()
    browser.find_element(By.CSS_SELECTOR, "#live-reply button").click()
    wait.until(seen.text_to_be_present_in_element((By.ID, "live-reply-status"), "sent"))
    internal = Reply.objects.get(ticket=ticket, body="Internal: ping the DBA.")
    assert internal.public is False and internal.author.username == "operator"
    wait_until(
        lambda: f'"reply_id":{internal.pk}' in text_of(browser, event),
        60,
        "the internal reply's event on the live page",
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "live-ticket.png"))
