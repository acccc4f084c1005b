"""OpenAPI generation hooks: the schema at /api/schema/ documents the REST API under /api/ only."""


def api_only(endpoints, **kwargs):
    """drf-spectacular preprocessing hook: drop DRF views outside /api/ (broadcasting auth, say)."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/")]
