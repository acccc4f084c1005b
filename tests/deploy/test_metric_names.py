"""Every metric an alert rule, a Grafana panel or the KEDA scaler names is one a live /metrics exports."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy import kubernetes_manifests as k8s
from tests.realtime.support import asgi_server
from tests.support.processes import REPO

RULES = REPO / "deploy" / "prometheus" / "rules" / "opsproject.rules.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "opsproject.json"
# Series Prometheus itself makes for every scrape target.
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
# Label matchers and strings hold label values, not metric names.
_MATCHERS = re.compile(r"\{[^}]*\}|\"[^\"]*\"|\[[^\]]*\]")
_NAME = re.compile(r"(?<![\w:])([a-z_][a-z0-9_]*:[a-z0-9_:]+|ops_[a-z0-9_]+)(?![\w(])")


def names_in(expr: str) -> set[str]:
    """Metric names in a PromQL expression: ours (ops_*), recorded (a:b:c), and Prometheus' own."""
    bare = _MATCHERS.sub(" ", expr)
    found = set(_NAME.findall(bare))
    found |= {word for word in re.findall(r"[a-z_]+", bare) if word in PROMETHEUS_OWN}
    return found


def rule_groups() -> list[dict]:
    return yaml.safe_load(RULES.read_text())["groups"]


def recorded() -> set[str]:
    return {rule["record"] for group in rule_groups() for rule in group["rules"] if "record" in rule}


def expressions() -> dict[str, str]:
    """Where each expression lives -> the expression."""
    found = {}
    for group in rule_groups():
        for rule in group["rules"]:
            found[f"rule {rule.get('alert') or rule.get('record')}"] = rule["expr"]
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            found[f"panel {panel['title']!r}"] = target["expr"]
    (scaled,) = k8s.documents(k8s.KEDA / "scaledobject.yaml")
    for number, trigger in enumerate(scaled["spec"]["triggers"]):
        found[f"KEDA trigger {number}"] = trigger["metadata"]["query"]
    return found


def exported(text: str) -> set[str]:
    """Series names a scrape of this exposition gives: a counter family `x` is the series `x_total`."""
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        names |= {sample.name for sample in family.samples}
    return names


def test_names_are_found_in_expressions():
    expr = 'max without (instance) (increase(ops_websocket_dropped_messages_total{reason="ops_x"}[10m])) > 1'
    assert names_in(expr) == {"ops_websocket_dropped_messages_total"}
    assert names_in("ops:queue_size:max > on() max(up) and time() - max(ops_beat_leader)") == {
        "ops:queue_size:max",
        "up",
        "ops_beat_leader",
    }


@pytest.mark.django_db(transaction=True)
def test_every_metric_the_rules_dashboard_and_scaler_name_is_in_a_live_scrape():
    # METRICS_ALLOWED_IPS admits 127.0.0.1 outside production.
    with asgi_server() as server, urllib.request.urlopen(f"{server.base}/metrics", timeout=60) as response:
        assert response.status == 200
        text = response.read().decode()
    available = exported(text) | recorded() | PROMETHEUS_OWN
    assert "ops_queue_size" in available and "ops_task_outcomes_total" in available
    unknown = {
        where: sorted(names_in(expr) - available)
        for where, expr in expressions().items()
        if names_in(expr) - available
    }
    assert not unknown, f"metric names that /metrics does not export: {unknown}"
    # Every alert and panel names at least one metric: none was left as a bare constant.
    assert all(names_in(expr) for expr in expressions().values())


def test_the_dashboard_covers_each_area():
    titles = {
        panel["title"] for panel in json.loads(DASHBOARD.read_text())["panels"] if panel["type"] == "row"
    }
    assert titles == {
        "Health and HTTP",
        "Queues and workers",
        "Scheduler",
        "Mail",
        "Realtime",
        "Backups",
        "Scrape",
    }
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}" and panel["targets"], panel["title"]
