"""The OpenAPI schema and the docs page: served, valid OpenAPI 3, covering the ops API, no CDN."""

from __future__ import annotations

import pytest
import yaml
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_schema_is_openapi_3_and_documents_every_ops_operation():
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert all(path.startswith("/api/") for path in paths)
    assert {"post"} <= set(paths["/api/ops/failed-jobs/{id}/retry/"])
    assert {"get", "post"} <= set(paths["/api/ops/mail/suppressions/"])
    assert set(paths["/api/ops/schedules/{name}/pause/"]) == {"post"}
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_the_docs_page_loads_swagger_ui_from_this_server():
    client = Client()
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/api/schema/" in html
    assert "cdn" not in html.lower()
    bundle = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert bundle in html
    served = client.get(bundle)
    assert served.status_code == 200
