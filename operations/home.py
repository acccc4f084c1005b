"""The site root: where `/` sends a visitor (the dashboard when signed in, the login page otherwise)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_safe


@require_safe
def home(request) -> HttpResponseRedirect:
    dashboard = reverse("admin:operations_dashboard_changelist")
    if request.user.is_authenticated and request.user.is_active and request.user.is_staff:
        return HttpResponseRedirect(dashboard)
    # The admin's login page sends the operator on to the dashboard once signed in.
    return HttpResponseRedirect(f"{reverse('admin:login')}?{urlencode({'next': dashboard})}")


urlpatterns = [path("", home, name="home")]
