"""deploy/prometheus: promtool checks and unit-tests the rules; every alert is complete and tested."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from tests.support.processes import REPO

RULES = REPO / "deploy" / "prometheus" / "rules" / "opsproject.rules.yml"
TESTS = REPO / "deploy" / "prometheus" / "tests" / "opsproject.test.yml"
RUNBOOK = REPO / "docs" / "RUNBOOK.md"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def alerts() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def github_anchor(heading: str) -> str:
    """The id GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def runbook_anchors() -> set[str]:
    return {
        github_anchor(line.lstrip("#")) for line in RUNBOOK.read_text().splitlines() if line.startswith("#")
    }


def promtool(*args: str, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_promtool_accepts_the_rules():
    done = promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_accepts_the_scrape_configuration():
    # --syntax-only: the token file exists only where Prometheus runs.
    done = promtool("check", "config", "--syntax-only", str(RULES.parents[1] / "prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests_pass():
    done = promtool("test", "rules", TESTS.name, cwd=TESTS.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_a_broken_rule_fails_the_unit_tests(tmp_path):
    """The unit tests can fail: a rule whose threshold is off no longer fires when expected."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    text = RULES.read_text().replace("ops_queue_consumers) == 0", "ops_queue_consumers) == 1")
    (tmp_path / "rules" / RULES.name).write_text(text)
    (tmp_path / "tests" / TESTS.name).write_text(TESTS.read_text())
    done = promtool("test", "rules", TESTS.name, cwd=tmp_path / "tests")
    assert done.returncode != 0
    assert "OpsNoLiveWorker" in done.stdout + done.stderr


@pytest.mark.parametrize("rule", alerts(), ids=lambda rule: rule["alert"])
def test_each_alert_has_severity_summary_and_a_runbook_section(rule):
    assert rule["labels"]["severity"] in ("critical", "warning")
    assert rule["annotations"]["summary"].strip()
    url = rule["annotations"]["runbook_url"]
    path, _, anchor = url.partition("#")
    assert path.endswith("/docs/RUNBOOK.md")
    assert anchor in runbook_anchors(), f"{rule['alert']}: no RUNBOOK.md section #{anchor}"


def test_each_alert_is_unit_tested_firing_and_resolved():
    fired, resolved = set(), set()
    for case in yaml.safe_load(TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check["exp_alerts"] else resolved).add(check["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names - fired == set(), f"never seen firing: {sorted(names - fired)}"
    assert names - resolved == set(), f"never seen resolved: {sorted(names - resolved)}"
