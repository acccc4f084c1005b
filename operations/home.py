"""The site root: where `/` sends a visitor (the dashboard to who may read it, the login page otherwise)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_safe

from audit import rights


@require_safe
def home(request) -> HttpResponseRedirect:
    dashboard = reverse("admin:operations_dashboard_changelist")
    user = request.user
    if user.is_authenticated and user.is_active and user.is_staff:
        # Staff is not operator: the dashboard would answer 403 to an agent; the admin is theirs.
        return HttpResponseRedirect(dashboard if rights.may_read(user) else reverse("admin:index"))
    # The admin's login page sends the operator on to the dashboard once signed in.
    return HttpResponseRedirect(f"{reverse('admin:login')}?{urlencode({'next': dashboard})}")


urlpatterns = [path("", home, name="home")]
