"""The ops REST API under /api/ops/: serializers, views and routes."""
