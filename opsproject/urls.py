"""Top-level URL map: each app mounts its own urls module here."""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]
