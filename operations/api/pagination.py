"""The ops API's pagination: page numbers for short lists, cursors for the ones that grow.

A page number costs a COUNT(*) and a deep OFFSET; the growing lists (failed jobs, mail events,
audit log, alerts) use DRF's CursorPagination: one index range per page, whatever its depth.
"""

from __future__ import annotations

from datetime import UTC

from django.core.exceptions import ValidationError as ModelValidationError
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination


class OpsPagination(PageNumberPagination):
    """DRF's page numbers (PAGE_SIZE, `?page=`), where a page that is not a positive integer is
    bad input (400 naming `page`), and a page past the end is a 404 as DRF has it."""

    field = serializers.IntegerField(min_value=1)

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


class NewestFirst(CursorPagination):
    """Cursor pages in the order of the view's `ordering` (`-failed_at`, `-id`: its index's order).
    A cursor that does not decode, or whose position is no value of the ordering field, is a 404
    as DRF has an invalid cursor, never a 500 from the query."""

    def paginate_queryset(self, queryset, request, view=None):
        # The page's keys from the ordering's index alone, then its rows by primary key: MariaDB
        # would otherwise often sort whole rows (a filesort) rather than walk the index.
        self.field = queryset.model._meta.get_field(view.ordering[0].lstrip("-"))
        keys = super().paginate_queryset(queryset.values("pk", self.field.name), request, view)
        rows = queryset.order_by().in_bulk([key["pk"] for key in keys])
        self.page = [rows[key["pk"]] for key in keys if key["pk"] in rows]
        return self.page

    def get_ordering(self, request, queryset, view):
        return tuple(view.ordering)

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            try:
                value = self.field.to_python(cursor.position)
                if hasattr(value, "astimezone"):  # the database compares in UTC: it must have one
                    value.astimezone(UTC)
            except (ModelValidationError, OverflowError):
                raise NotFound(self.invalid_cursor_message) from None
        return cursor
