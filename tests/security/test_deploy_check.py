"""`manage.py check --deploy` is clean in the production profile; the TLS settings do what they say."""

import json

from tests.opsproject.test_production_settings import _start

# Plain HTTP requests as a probe inside the cluster sends them, through Django's whole stack.
PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
client = Client(HTTP_HOST="helpdesk.example.com")
paths = ("/up", "/health/live", "/metrics", "/no-such-page/")
answers = {path: client.get(path).status_code for path in paths}
answers["proxy_header"] = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
answers["https_via_header"] = client.get("/no-such-page/", headers={"x-forwarded-proto": "https"}).status_code
print(json.dumps(answers))
"""


def _probe(overrides):
    done = _start({"DJANGO_SETTINGS_MODULE": "opsproject.settings", **overrides}, "-c", PROBE)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_deploy_check_has_no_warning_in_the_production_profile():
    done = _start({}, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout


def test_deploy_check_fails_when_hsts_is_turned_off():
    done = _start({"SECURE_HSTS_SECONDS": "0"}, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode != 0
    assert "security.W004" in done.stderr


def test_plain_http_is_redirected_except_probes_and_the_forwarded_header_is_ignored_by_default():
    answers = _probe({})
    assert answers["/no-such-page/"] == 301
    assert answers["/up"] == 200 and answers["/health/live"] == 200
    assert answers["/metrics"] == 403  # answered (no token), not redirected
    # Untrusted: a client claiming https through the header is still redirected.
    assert answers["proxy_header"] is None
    assert answers["https_via_header"] == 301


def test_the_forwarded_header_counts_only_when_trusted():
    answers = _probe({"SECURE_PROXY_SSL_HEADER_TRUSTED": "true"})
    assert answers["proxy_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert answers["https_via_header"] == 404  # served over "https": not redirected
