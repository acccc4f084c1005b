"""The Django admin for tickets: triage, assignment, the thread inline; events as in the API."""

from django import forms
from django.contrib import admin

from helpdesk import services
from helpdesk.models import Note, Reply, Ticket
from helpdesk.permissions import agents


class ReplyInline(admin.TabularInline):
    model = Reply
    extra = 0
    fields = ["created_at", "author", "public", "body"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # replies go through the API, which stamps the first response and emits events


class NoteInline(ReplyInline):
    model = Note
    fields = ["created_at", "author", "body"]
    readonly_fields = fields


class TicketForm(forms.ModelForm):
    class Meta:
        model = Ticket
        fields = ["subject", "description", "status", "priority", "requester", "assignee", "collaborators"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = agents()


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    form = TicketForm
    list_display = [
        "id",
        "subject",
        "status",
        "priority",
        "requester",
        "assignee",
        "created_at",
        "sla_breached_at",
    ]
    list_filter = ["status", "priority", "sla_breach_kind", ("assignee", admin.EmptyFieldListFilter)]
    search_fields = ["subject", "requester__username", "requester__email"]
    list_select_related = ["requester", "assignee"]
    raw_id_fields = ["requester", "collaborators"]
    readonly_fields = Ticket.CLOCK_FIELDS
    date_hierarchy = "created_at"
    inlines = [ReplyInline, NoteInline]

    def save_model(self, request, obj, form, change):
        # The admin view runs in a transaction, so the events below go out after it commits.
        if change and "priority" in form.changed_data:
            obj.apply_sla_policy()
        super().save_model(request, obj, form, change)
        if "assignee" in form.changed_data and obj.assignee_id:
            previous = form.initial.get("assignee") if change else None
            services.notify_assigned(obj.pk, obj.assignee_id, previous, request.user.pk)

    def save_related(self, request, form, formsets, change):
        before = set(form.instance.collaborators.values_list("pk", flat=True)) if change else set()
        super().save_related(request, form, formsets, change)
        for user_id in set(form.instance.collaborators.values_list("pk", flat=True)) - before:
            services.notify_collaborator_added(form.instance.pk, user_id, request.user.pk)
