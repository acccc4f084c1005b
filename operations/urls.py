"""The operations routes: /metrics, the ops API under /api/ops/, the OpenAPI schema and its docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from operations.views import metrics

urlpatterns = [
    path("metrics", metrics, name="metrics"),
    path("api/ops/", include("operations.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
