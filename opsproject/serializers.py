"""The API-wide input rule: a serializer that refuses keys it does not accept.

DRF ignores unknown keys by default, so a typo (`asignee`) or a read-only field sent by a client
would be silently dropped. Every API in the project (helpdesk, ops) answers 400 instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """A serializer whose unknown or read-only keys are field errors, not ignored."""

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        writable = {name for name, field in self.fields.items() if not field.read_only}
        unknown = {name: ["This field cannot be set here."] for name in data if name not in writable}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value
