"""The OpenAPI schema and the docs page: served, valid OpenAPI 3, covering the ops API, no CDN."""

from __future__ import annotations

from pathlib import Path

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


def test_the_operations_keep_their_paths_ids_and_query_parameters():
    """The list a generated client depends on (tests/operations/api_operations.txt, taken from the
    schema before the API became ViewSets): a route or filter refactoring must not change it."""
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    served = set()
    for path, operations in yaml.safe_load(response.content)["paths"].items():
        if not path.startswith("/api/ops/"):
            continue
        for method, operation in operations.items():
            query = ",".join(sorted(p["name"] for p in operation.get("parameters", []) if p["in"] == "query"))
            served.add(" ".join(filter(None, [method.upper(), path, operation["operationId"], query])))
    pinned = Path(__file__).with_name("api_operations.txt").read_text().splitlines()
    assert served == {" ".join(line.split()) for line in pinned if not line.startswith("#")}
