"""What every ops API endpoint shares: permissions, throttles, paging, the documented errors.

401 without credentials, 403 without the `ops` read permission; POST and DELETE also need the
action's audit.rights permission (checked before any lookup) and write an audit entry. Bad input
is a 400 naming the field, a missing object a 404, a refusing broker a 503 with nothing changed.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from operations.api.filters import StrictFilterBackend
from operations.api.serializers import ErrorSerializer
from operations.permissions import IsOps, MayAct
from opsproject.outages import RETRY_AFTER_SECONDS
from opsproject.throttling import AnonThrottle, UserThrottle

ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="Bad input: field -> messages."),
    401: OpenApiResponse(ErrorSerializer, description="No or bad credentials."),
    403: OpenApiResponse(
        ErrorSerializer, description="Not an operator (`ops` group), or lacks the action's permission."
    ),
    404: OpenApiResponse(ErrorSerializer, description="No such object, or no such page."),
}
UNAVAILABLE = {503: OpenApiResponse(ErrorSerializer, description="The broker refused; nothing changed.")}
BUSY_OR_NOT_REPLAYABLE = {
    409: OpenApiResponse(
        ErrorSerializer,
        description="Another operator is retrying it right now, or its arguments were not stored "
        "(only their repr): it can never be sent again.",
    )
}


def responses(ok, *extra: dict, code: int = 200) -> dict:
    merged = {code: ok, **ERRORS}
    for more in extra:
        merged.update(more)
    return merged


def body(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def unavailable(exc: Exception | str) -> Response:
    # Retry-After as the outage middleware sends it: the caller may simply come back.
    return Response(
        {"detail": str(exc)},
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


class OpsViewSet(mixins.ListModelMixin, GenericViewSet):
    # (No docstring: drf-spectacular would print it as every operation's description.)
    permission_classes = [IsOps, MayAct]
    # A viewset action -> the audit.rights action it takes (operations.permissions.MayAct).
    acts: dict[str, str] = {}
    # Rates: API_THROTTLE_ANON / API_THROTTLE_USER; 429 with Retry-After past them.
    throttle_classes = [AnonThrottle, UserThrottle]
    filter_backends = [StrictFilterBackend]  # pages: settings' OpsPagination, or the view's own


def listing(serializer_class, **schema):
    """The decorator documenting a viewset's list: pages of `serializer_class`, and the errors."""
    return extend_schema_view(list=extend_schema(responses=responses(serializer_class(many=True)), **schema))


class NotFoundView(APIView):
    """The JSON 404 of every path under /api/ops/ that names no endpoint (`failed-jobs/-1/`, a
    typo), after the usual authentication, not Django's HTML page."""

    permission_classes = [IsOps]
    throttle_classes = [AnonThrottle, UserThrottle]
    schema = None  # not an operation of the API

    def _missing(self, request, *args, **kwargs):
        raise NotFound(f"No ops API endpoint at {request.path}.")

    get = post = put = patch = delete = _missing
