"""The token endpoint, mounted under /api/auth/ by opsproject/urls.py."""

from django.urls import path

from apitokens.views import TokenObtainView

urlpatterns = [path("token/", TokenObtainView.as_view(), name="api-token")]
