"""What every ops API endpoint shares: permissions, throttles, paging, the documented errors.

Every endpoint needs an authenticated operator (token or session; 401 without credentials, 403
without the read permission, the `ops` group's); every POST and DELETE also needs its action's
permission (audit.rights, the `ops-admin` group's; 403 before anything is looked up) and writes
an audit entry. Bad input is a 400 naming the field; a missing object a 404; a broker that refuses a
message a 503 with nothing changed.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from operations.api.filters import StrictFilterBackend
from operations.api.pagination import KeysFirstPaginator
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
BUSY = {409: OpenApiResponse(ErrorSerializer, description="Another operator is acting on it right now.")}


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


class PageNumbers(PageNumberPagination):
    """DRF's page numbers, where a page that is not a positive integer is bad input (400 naming
    `page`), and a page past the end is a 404 as DRF has it."""

    field = serializers.IntegerField(min_value=1)
    django_paginator_class = KeysFirstPaginator  # deep pages read the ordering index first

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        try:
            return self.field.run_validation(raw)
        except ValidationError as exc:
            raise ValidationError({self.page_query_param: exc.detail}) from None

    def get_schema_operation_parameters(self, view):
        return [{"in": "query", "name": self.page_query_param, "schema": {"type": "integer", "minimum": 1}}]


class OpsViewSet(GenericViewSet):
    # (No docstring: drf-spectacular would print it as every operation's description.)
    permission_classes = [IsOps, MayAct]
    # A viewset action -> the audit.rights action it takes (operations.permissions.MayAct).
    acts: dict[str, str] = {}
    # Rates: API_THROTTLE_ANON / API_THROTTLE_USER; 429 with Retry-After past them.
    throttle_classes = [AnonThrottle, UserThrottle]
    pagination_class = PageNumbers
    filter_backends = [StrictFilterBackend]

    def paginated(self, queryset) -> Response:
        page = self.paginate_queryset(self.filter_queryset(queryset))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class NotFoundView(APIView):
    """The JSON 404 of every path under /api/ops/ that names no endpoint (`failed-jobs/-1/`, a
    typo), after the usual authentication, not Django's HTML page."""

    permission_classes = [IsOps]
    throttle_classes = [AnonThrottle, UserThrottle]
    schema = None  # not an operation of the API

    def _missing(self, request, *args, **kwargs):
        raise NotFound(f"No ops API endpoint at {request.path}.")

    get = post = put = patch = delete = _missing
