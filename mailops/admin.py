"""Admin for mail: what was sent, what Mailgun reported, and the suppression list.

Suppression changes need `suppression.add`/`.remove` (audit.rights) and are audited, as in the ops API.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db import transaction

from audit import admin_support
from mailops.models import MailEvent, OutboundMessage, Suppression, address_key


class EventInline(admin.TabularInline):
    model = MailEvent
    fields = ("occurred_at", "event_type", "recipient", "description")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin_support.OperatorsMayRead, admin.ModelAdmin):
    list_display = ("id", "created_at", "kind", "subject", "status", "attempts", "sent_at")
    list_filter = ("status", "kind")
    search_fields = ("subject", "message_id", "to")
    date_hierarchy = "created_at"
    inlines = [EventInline]
    # What was sent is a record: it is read, not edited.
    readonly_fields = [f.name for f in OutboundMessage._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(MailEvent)
class MailEventAdmin(admin_support.OperatorsMayRead, admin.ModelAdmin):
    list_display = ("occurred_at", "event_type", "recipient", "esp_event", "outbound", "reject_reason")
    list_filter = ("event_type", "reject_reason")
    search_fields = ("recipient", "message_id", "event_id")
    date_hierarchy = "occurred_at"
    list_select_related = ("outbound",)
    readonly_fields = [f.name for f in MailEvent._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class SuppressionForm(forms.ModelForm):
    class Meta:
        model = Suppression
        fields = ("address", "reason", "detail")

    def clean_address(self):
        address = self.cleaned_data["address"].strip()
        forms.EmailField().clean(address)
        others = Suppression.objects.filter(address_key=address_key(address))
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError("This address is on the suppression list already.")
        return address


@admin.register(Suppression)
class SuppressionAdmin(admin_support.OperatorsMayRead, admin.ModelAdmin):
    form = SuppressionForm
    list_display = ("address", "reason", "source", "created_at")
    list_filter = ("reason", "source")
    search_fields = ("address", "address_key")
    date_hierarchy = "created_at"
    fields = ("address", "reason", "source", "detail", "event", "created_at")
    raw_id_fields = ("event",)

    def get_readonly_fields(self, request, obj=None):
        # The address is the row's identity: change it by removing and adding.
        return ("address", "source", "event", "created_at") if obj else ("source", "event", "created_at")

    def has_add_permission(self, request) -> bool:
        return admin_support.may(request, "suppression.add")

    def has_change_permission(self, request, obj=None) -> bool:
        return admin_support.may(request, "suppression.add")

    def has_delete_permission(self, request, obj=None) -> bool:
        return admin_support.may(request, "suppression.remove")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.source = Suppression.Source.OPERATOR
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            detail = {"id": obj.pk, "reason": obj.reason, "changed": sorted(form.changed_data)}
            action = "suppression.change" if change else "suppression.add"
            admin_support.record(request, action, obj.address, detail)

    def delete_model(self, request, obj):
        self.delete_queryset(request, Suppression.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            rows = list(queryset.values("pk", "address", "reason"))
            super().delete_queryset(request, queryset)
            for row in rows:
                detail = {"id": row["pk"], "address": row["address"], "reason": row["reason"]}
                admin_support.record(request, "suppression.remove", row["address"], detail)
