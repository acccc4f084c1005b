"""The ops API's list filters: one django-filter FilterSet per list, strict about what it takes.

An unknown or blank query parameter is a 400 naming it, not a silently unfiltered list; each
filter's `schema` becomes the list's OpenAPI query parameters (StrictFilterBackendSchema).
A FilterSet names no model: it filters the queryset of its view (or of `matching`), and takes
only the filters it declares.
"""

from __future__ import annotations

from datetime import UTC

from django import forms
from django.core.exceptions import ValidationError as FormValidationError
from django_filters import fields as filter_fields
from django_filters import rest_framework as filters
from drf_spectacular.extensions import OpenApiFilterExtension
from rest_framework.exceptions import ValidationError

from mailops.models import MailEvent, address_key


class _PresentMeansSomething:
    """A form field for which a parameter sent empty is an error; only an absent one means "any"."""

    def to_python(self, value):
        # A text field strips its value: only blanks sent is as blank as nothing sent.
        if value == "" or (isinstance(value, str) and super().to_python(value) in ("", None)):
            raise FormValidationError("This field may not be blank.", code="blank")
        return super().to_python(value)


class _TextField(_PresentMeansSomething, forms.CharField):
    pass


class _ChoiceField(_PresentMeansSomething, filter_fields.ChoiceField):
    pass


class _MomentField(_PresentMeansSomething, filter_fields.IsoDateTimeField):
    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:  # absent: any time
            return moment
        try:
            # The database compares in UTC: a moment that has no UTC date (9999-12-31T23:59-14:00,
            # 0001-01-01T00:00+01:00) would raise OverflowError in the query, a 500.
            moment.astimezone(UTC)
        except OverflowError:
            raise FormValidationError("This date/time is out of range in UTC.", code="overflow") from None
        return moment


class Text(filters.CharFilter):
    field_class = _TextField

    def __init__(self, *args, max_length: int, **kwargs):
        super().__init__(*args, max_length=max_length, **kwargs)
        self.schema = {"type": "string", "minLength": 1, "maxLength": max_length}


class Choice(filters.ChoiceFilter):
    field_class = _ChoiceField

    def __init__(self, *args, choices, **kwargs):
        super().__init__(*args, choices=choices, **kwargs)
        self.schema = {"enum": [value for value, _ in choices], "type": "string", "minLength": 1}
        self.description = "\n".join(f"* `{value}` - {label}" for value, label in choices)


class Address(Text):
    """An address, matched as the lists store it (mailops' address_key: case does not count)."""

    def filter(self, queryset, value):
        return queryset if value in (None, "") else queryset.filter(**{self.field_name: address_key(value)})


class Moment(filters.IsoDateTimeFilter):
    field_class = _MomentField
    schema = {"type": "string", "format": "date-time"}


class StrictFilterBackend(filters.DjangoFilterBackend):
    """django-filter's backend for list actions (a detail lookup takes no filter), refusing query
    parameters the list does not know (the page number aside)."""

    def filter_queryset(self, request, queryset, view):
        if getattr(view, "action", None) != "list":
            return queryset
        filterset_class = self.get_filterset_class(view, queryset)
        known = set(filterset_class.base_filters) if filterset_class else set()
        if view.paginator is not None:
            known.add(getattr(view.paginator, "page_query_param", None) or view.paginator.cursor_query_param)
        unknown = {
            name: ["This field cannot be set here."] for name in request.query_params if name not in known
        }
        if unknown:
            raise ValidationError(unknown)
        return super().filter_queryset(request, queryset, view)


class StrictFilterBackendSchema(OpenApiFilterExtension):
    """The query parameters of a list: each filter's own schema (the filters above are what the
    ops API's lists use; drf-spectacular's generic guess from the model would be looser)."""

    target_class = StrictFilterBackend
    priority = 1  # before drf-spectacular's own extension for every django-filter backend

    def get_schema_operation_parameters(self, auto_schema, *args, **kwargs):
        filterset_class = self.target.get_filterset_class(auto_schema.view)
        if filterset_class is None:
            return []
        parameters = []
        for name, field in filterset_class.base_filters.items():
            parameter = {"in": "query", "name": name, "schema": dict(field.schema)}
            if getattr(field, "description", None):
                parameter["description"] = field.description
            parameters.append(parameter)
        return parameters


class FailedJobFilter(filters.FilterSet):
    """Also the filters of flush and bulk retry (their JSON body carries the same keys)."""

    queue = Text(max_length=255)
    task = Text(max_length=255)
    exception = Text(field_name="exception", lookup_expr="icontains", max_length=255)
    failed_after = Moment(field_name="failed_at", lookup_expr="gte")
    failed_before = Moment(field_name="failed_at", lookup_expr="lt")


class AlertFilter(filters.FilterSet):
    state = Choice(choices=[("open", "open"), ("resolved", "resolved")], method="by_state")

    def by_state(self, queryset, name, value):
        return queryset.filter(resolved_at__isnull=value == "open")


class MailEventFilter(filters.FilterSet):
    type = Choice(field_name="event_type", choices=[(value, value) for value in MailEvent.Type.values])
    recipient = Address(field_name="recipient_key", max_length=320)


class SuppressionFilter(filters.FilterSet):
    address = Address(field_name="address_key", max_length=320)


class AuditFilter(filters.FilterSet):
    action = Text(max_length=100)
    username = Text(max_length=150)
