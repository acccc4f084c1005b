"""POST /api/auth/token/: a username and password for a new API token (knox), shown once.

The password is checked through django.contrib.auth's authenticate() with the request, so
django-axes counts failures and locks out an IP address and username pair (AXES_* settings);
the anonymous throttle (API_THROTTLE_ANON) bounds how fast anyone may try.
"""

from __future__ import annotations

from django.conf import settings
from knox.views import LoginView
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from opsproject.json_parser import JSONParser
from opsproject.throttling import AnonThrottle

LOCKED_OUT = "Too many failed logins for this username from this address: locked out for {seconds} s."


class TokenSerializer(AuthTokenSerializer):
    """DRF's, with the username no longer than a username can be: a longer one reached
    django-axes, whose 255-character column refused it on MariaDB (a 500)."""

    username = serializers.CharField(label="Username", max_length=150, write_only=True)


class TokenObtainView(LoginView):
    """Answers `{"token": ..., "expiry": ...}`; the token is stored only as a hash."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AnonThrottle,)
    parser_classes = (JSONParser, FormParser)
    serializer_class = TokenSerializer

    def post(self, request, format=None):
        serializer = TokenSerializer(data=request.data, context={"request": request})
        valid = serializer.is_valid()
        # Set by axes' backend on the request it was given when the pair is locked out; the
        # middleware cannot see it on DRF's Request, so the refusal is answered here.
        if getattr(request, "axes_locked_out", False):
            seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
            detail = LOCKED_OUT.format(seconds=seconds)
            return Response({"detail": detail}, status=429, headers={"Retry-After": str(seconds)})
        if not valid:
            raise ValidationError(serializer.errors)
        request.user = serializer.validated_data["user"]
        return super().post(request, format=format)
