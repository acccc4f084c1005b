"""deploy/kubernetes: valid against the pinned Kubernetes schemas, complete, hardened, and in step
with docs/PRODUCTION_ENV.md."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import subprocess

import kubernetes_validate
import pyrage
import pytest
import yaml

from tests.deploy import kubernetes_manifests as k8s
from tests.deploy.test_env_documentation import documented
from tests.support.processes import PYTHON, REPO

# The names health/redact.py treats as secrets; two are not: the browsers' Pusher key and a cache time.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_?KEY|PRIVATE|CREDENTIAL|(^|_)KEY$")
# Named like a secret, but a public key, a lifetime or a length: plain configuration.
PUBLIC = {"REALTIME_APP_KEY", "MAIL_CREDENTIAL_TTL", "API_TOKEN_TTL", "PASSWORD_MIN_LENGTH"}


# The backup jobs' database logins, each in a Secret of its own that only its workload reads
# (none reads opsproject-pitr: a one-off pod of the RUNBOOK's point-in-time restore does).
LOGIN_SECRETS = {
    "opsproject-backup-login": {"worker"},
    "opsproject-drill-login": {"drill-worker"},
    "opsproject-pitr": set(),
}


def config_and_secret() -> tuple[dict, dict]:
    """The ConfigMap's data; the settings of every Secret (the age identity's file aside)."""
    objects = {k8s.key(obj): obj for obj in k8s.base_objects()}
    secret = objects["Secret", "opsproject-secrets"]["stringData"].copy()
    for name in LOGIN_SECRETS:
        secret |= objects["Secret", name]["stringData"]
    return objects["ConfigMap", "opsproject-config"]["data"], secret


@pytest.mark.parametrize(
    "obj",
    k8s.base_objects() + k8s.rendered_overlay(),
    ids=lambda obj: f"{obj['kind']}/{obj['metadata']['name']}/{obj['metadata'].get('namespace', 'base')}",
)
def test_each_object_validates_against_the_kubernetes_schema(obj):
    kubernetes_validate.validate(obj, k8s.KUBERNETES_VERSION, strict=True)


def test_an_invalid_object_is_refused():
    broken = k8s.base_objects()[0] | {"spec": {"replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, k8s.KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("folder", [k8s.BASE, k8s.KEDA], ids=["base", "keda"])
def test_a_kustomization_lists_exactly_the_files_beside_it(folder):
    listed = set(k8s.kustomization(folder)["resources"])
    present = k8s.manifest_files(folder)
    assert listed == present, (
        f"not listed: {sorted(present - listed)}; listed but absent: {sorted(listed - present)}"
    )


def test_the_overlay_lists_its_files_and_patches_only_objects_the_base_has():
    overlay = k8s.kustomization(k8s.OVERLAY)
    own = {name for name in overlay["resources"] if not name.startswith("..")}
    patches = {entry["path"] for entry in overlay["patches"]}
    assert own | patches == k8s.manifest_files(k8s.OVERLAY)
    assert "../../base" in overlay["resources"]
    in_base = {k8s.key(obj) for obj in k8s.base_objects()}
    for patch in k8s.overlay_patches():
        assert k8s.key(patch) in in_base, f"the overlay patches {k8s.key(patch)}, which the base lacks"
    images = {c["image"].split(":")[0] for obj in k8s.base_objects() for c in k8s.all_containers(obj)}
    assert {image["name"] for image in overlay["images"]} == images


def test_the_keda_scaler_targets_the_worker_on_exported_queue_metrics():
    (scaled,) = k8s.documents(k8s.KEDA / "scaledobject.yaml")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1" and scaled["kind"] == "ScaledObject"
    assert ("Deployment", scaled["spec"]["scaleTargetRef"]["name"]) in {
        k8s.key(obj) for obj in k8s.base_objects()
    }
    assert all(
        t["type"] == "prometheus" and "ops_queue_" in t["metadata"]["query"]
        for t in scaled["spec"]["triggers"]
    )


def test_the_configmap_and_secret_keys_are_exactly_the_documented_variables():
    config, secret = config_and_secret()
    keys = set(config) | set(secret)
    doc = documented()
    missing, extra = sorted(doc - keys), sorted(keys - doc)
    assert not missing and not extra, (
        f"docs/PRODUCTION_ENV.md variables missing from deploy/kubernetes/base configmap.yaml or "
        f"secret.yaml: {missing}; keys there that the document does not list: {extra}"
    )
    assert not set(config) & set(secret), sorted(set(config) & set(secret))


def test_secret_settings_live_in_the_secret_not_the_configmap():
    config, secret = config_and_secret()
    in_config = sorted(name for name in config if SECRET_NAME.search(name) and name not in PUBLIC)
    assert not in_config, f"secret settings in the ConfigMap: {in_config}"
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "MAILGUN_API_KEY", "METRICS_TOKEN"} <= set(secret)


def rendered_env(tmp_path) -> dict[str, str]:
    """The environment a pod of the overlay gets, as shipped (placeholders included)."""
    objects = {k8s.key(obj): obj for obj in k8s.rendered_overlay()}
    env = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    env |= objects["ConfigMap", "opsproject-config"]["data"]
    env |= objects["Secret", "opsproject-secrets"]["stringData"]
    env["VAR_DIR"] = str(tmp_path)  # /app/var is the pod's volume, not this machine's
    return env


def operator_filled(env: dict[str, str]) -> dict[str, str]:
    """`env` with every placeholder replaced by a generated value, as an operator supplies them."""
    filled = {}
    for name, value in env.items():
        if name == "BACKUP_AGE_RECIPIENTS":
            value = str(pyrage.x25519.Identity.generate().to_public())
        elif "change-me" in value:
            fresh = secrets.token_urlsafe(48)
            value = value.replace("change-me", fresh) if "://" in value else fresh
        filled[name] = value
    return filled


def load_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    code = "import opsproject.settings as s; print(s.DJANGO_ENV, s.LOG_FORMAT, s.DEBUG)"
    return subprocess.run([PYTHON, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


def test_production_settings_load_from_the_rendered_configmap_and_secret(tmp_path):
    done = load_settings(operator_filled(rendered_env(tmp_path)))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["production", "json", "False"]


def test_the_shipped_placeholders_are_refused_at_start_up(tmp_path):
    done = load_settings(rendered_env(tmp_path))
    assert done.returncode != 0
    error = done.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in error
    for name in ("SECRET_KEY", "REALTIME_APP_SECRET", "MAILGUN_WEBHOOK_SIGNING_KEY", "BACKUP_MANIFEST_KEY"):
        assert name in error
    assert "change-me" not in error  # names only, never a value


WORKLOADS = [obj for obj in k8s.base_objects() if k8s.pod_spec(obj)]


@pytest.mark.parametrize("obj", WORKLOADS, ids=lambda obj: obj["metadata"]["name"])
def test_each_pod_runs_hardened_with_resources_and_every_setting(obj):
    spec = k8s.pod_spec(obj)
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] != 0
    for container in k8s.all_containers(obj):
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert "memory" in container["resources"]["limits"]
        sources = {next(iter(source.values()))["name"] for source in container["envFrom"]}
        main = container in spec["containers"]
        logins = {
            name for name, holders in LOGIN_SECRETS.items() if main and obj["metadata"]["name"] in holders
        }
        assert sources == {"opsproject-config", "opsproject-secrets"} | logins
        # Only the drill worker holds the age identity (not even its migrations wait).
        mounts = {mount["name"] for mount in container["volumeMounts"]}
        holder = obj["metadata"]["name"] == "drill-worker" and container in spec["containers"]
        assert ("age-identity" in mounts) == holder


DEPLOYMENTS = {obj["metadata"]["name"]: obj for obj in WORKLOADS if obj["kind"] == "Deployment"}


def test_each_long_running_process_has_its_deployment_probes_and_graceful_stop():
    assert set(DEPLOYMENTS) == {"web", "realtime", "worker", "drill-worker", "beat"}
    assert DEPLOYMENTS["beat"]["spec"]["replicas"] == 2
    for name, obj in DEPLOYMENTS.items():
        spec = k8s.pod_spec(obj)
        (container,) = spec["containers"]
        assert {"startupProbe", "livenessProbe"} <= set(container), name
        assert spec["terminationGracePeriodSeconds"] >= 30, name
    for name in ("web", "realtime"):
        container = k8s.containers(DEPLOYMENTS[name])[0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert container["startupProbe"]["httpGet"]["path"] == "/health/live"
        assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"


def test_probe_timeouts_outlast_the_health_checks_deadline(settings):
    """A slow dependency must give the probe a 503 answer, not a probe timeout."""
    for name in ("web", "realtime"):
        ready = k8s.containers(DEPLOYMENTS[name])[0]["readinessProbe"]
        assert ready["timeoutSeconds"] > settings.HEALTH_TIMEOUT
    # Graceful stops fit their processes' own drains.
    web_args = k8s.containers(DEPLOYMENTS["web"])[0]["args"]
    graceful = int(next(a for a in web_args if a.startswith("--graceful-timeout=")).split("=")[1])
    assert k8s.pod_spec(DEPLOYMENTS["web"])["terminationGracePeriodSeconds"] > graceful + 5
    realtime_args = k8s.containers(DEPLOYMENTS["realtime"])[0]["args"]
    drain = int(next(a for a in realtime_args if a.startswith("--timeout-graceful-shutdown=")).split("=")[1])
    assert k8s.pod_spec(DEPLOYMENTS["realtime"])["terminationGracePeriodSeconds"] > drain + 5


def test_the_drill_worker_consumes_the_restore_queue_with_the_identity_file():
    container = k8s.containers(DEPLOYMENTS["drill-worker"])[0]
    args = container["args"]
    assert args[args.index("-Q") + 1] == "restore"
    env = {item["name"]: item["value"] for item in container["env"]}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "age-identity")
    assert env["BACKUP_AGE_IDENTITY_FILE"].startswith(mount["mountPath"] + "/")
    # Ordinary workers never take a drill: they consume the default queue only.
    assert "--queues=celery" in k8s.containers(DEPLOYMENTS["worker"])[0]["args"]


def test_the_ingress_sends_websockets_to_realtime_and_the_rest_to_web():
    ingress = next(obj for obj in k8s.base_objects() if obj["kind"] == "Ingress")
    paths = {p["path"]: p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths == {"/app/": "realtime", "/": "web"}


def test_every_workload_has_a_disruption_budget_and_web_an_autoscaler():
    objects = k8s.base_objects()
    budgets = {
        obj["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for obj in objects
        if obj["kind"] == "PodDisruptionBudget"
    }
    assert budgets == {"web", "realtime", "worker", "beat"}
    (hpa,) = [obj for obj in objects if obj["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "web"
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_prometheus_scrapes_every_web_pod_ready_or_not():
    """An outage makes every web pod unready; its /metrics must still reach Prometheus."""
    prometheus = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    (job,) = prometheus["scrape_configs"]
    (name,) = job["dns_sd_configs"][0]["names"]
    service, namespace = name.split(".")[:2]
    overlay = k8s.kustomization(k8s.OVERLAY)
    assert namespace == overlay["namespace"]
    scraped = next(o for o in k8s.base_objects() if k8s.key(o) == ("Service", service))
    assert scraped["spec"]["clusterIP"] == "None"
    assert scraped["spec"]["selector"] == {"app.kubernetes.io/name": "web"}
    assert scraped["spec"].get("publishNotReadyAddresses") is True
    assert job["dns_sd_configs"][0]["port"] == scraped["spec"]["ports"][0]["port"]


@pytest.mark.parametrize("name", ["web", "realtime"])
def test_the_servers_behind_the_ingress_trust_its_forwarded_address_and_no_one_else(name):
    """Without FORWARDED_ALLOW_IPS every client is the ingress controller's address: one shared
    API throttle, login lockout and websocket connection limit for the whole site."""
    (container,) = k8s.containers(DEPLOYMENTS[name])
    env = {item["name"]: item["value"] for item in container.get("env", [])}
    assert "FORWARDED_ALLOW_IPS" in env, f"{name}: X-Forwarded-For from the ingress is ignored"
    networks = [ipaddress.ip_network(part.strip()) for part in env["FORWARDED_ALLOW_IPS"].split(",")]
    assert all(network.is_private and not network.is_loopback for network in networks), networks


def test_no_configmap_value_is_left_with_an_unresolved_variable(tmp_path):
    """Kubernetes does not expand $NAME in envFrom values; what settings does not resolve stays
    literal (a From address of helpdesk@$MAILGUN_SENDER_DOMAIN that Mailgun refuses)."""
    config, secret = config_and_secret()
    env = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    env = operator_filled(env | config | secret | {"VAR_DIR": str(tmp_path)})
    code = (
        "import json, opsproject.settings as s; print(json.dumps({n: str(getattr(s, n)) for n in "
        f"{sorted(config)!r} if hasattr(s, n)}}))"
    )
    done = subprocess.run([PYTHON, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert "DEFAULT_FROM_EMAIL" in loaded and "HEALTH_STATE_DIR" in loaded
    literal = {name: value for name, value in loaded.items() if "$" in value}
    assert not literal, literal


def test_every_long_running_pod_waits_for_the_migrations_first():
    """The migrate Job and the Deployments are applied together: new code must not start first."""
    (migrate,) = [obj for obj in k8s.base_objects() if obj["kind"] == "Job"]
    assert "manage.py migrate" in " ".join(k8s.containers(migrate)[0]["args"])
    (web_wait,) = k8s.init_containers(DEPLOYMENTS["web"])
    assert "migrate --check" in web_wait["args"][-1]  # tests/deploy/test_kubernetes_probes.py runs it
    for name, obj in DEPLOYMENTS.items():
        (wait,) = k8s.init_containers(obj)
        assert wait["args"] == web_wait["args"], name
        assert wait["image"] == k8s.containers(obj)[0]["image"], name


def test_the_realtime_transport_limit_is_the_configured_message_limit():
    """--ws-max-size is written out in realtime.yaml; it must follow REALTIME_MAX_MESSAGE_BYTES."""
    config, _ = config_and_secret()
    args = k8s.containers(DEPLOYMENTS["realtime"])[0]["args"]
    (flag,) = [arg for arg in args if arg.startswith("--ws-max-size=")]
    assert flag.split("=", 1)[1] == config["REALTIME_MAX_MESSAGE_BYTES"]


def test_the_ingress_passes_every_body_the_app_accepts():
    """ingress-nginx refuses bodies over 1 MiB by default: below WEB_BODY_MAX_BYTES (2.5 MiB),
    so a Mailgun webhook with an attachment would be refused before the app saw it."""
    config, _ = config_and_secret()
    ingress = next(obj for obj in k8s.base_objects() if obj["kind"] == "Ingress")
    size = ingress["metadata"]["annotations"].get("nginx.ingress.kubernetes.io/proxy-body-size", "1m")
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", size.lower()).groups()
    allowed = int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]
    assert allowed >= int(config["WEB_BODY_MAX_BYTES"]), size
