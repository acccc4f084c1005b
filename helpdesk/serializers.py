"""The REST API's payloads: what each kind of user sees of a ticket, and what they may send."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from rest_framework import serializers

from helpdesk.models import Note, Reply, Ticket
from helpdesk.permissions import is_agent
from opsproject.serializers import StrictSerializer

BODY_MAX_LENGTH = 20_000


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.SerializerMethodField()

    def get_name(self, user) -> str:
        return user.get_full_name() or user.get_username()


class UserIdField(serializers.PrimaryKeyRelatedField):
    """An active user, by id. An unknown id and an inactive user get the same answer, which does
    not repeat the id: the error tells nobody which ids exist."""

    default_error_messages = {
        "does_not_exist": "No such user.",
        "incorrect_type": "Expected a user id, got {data_type}.",
    }

    def get_queryset(self):
        return get_user_model().objects.filter(is_active=True)


class NoteSerializer(serializers.ModelSerializer):
    author = UserSerializer(read_only=True)

    class Meta:
        model = Note
        fields = ["id", "author", "body", "created_at"]


class ReplySerializer(NoteSerializer):
    class Meta:
        model = Reply
        fields = ["id", "author", "body", "public", "created_at"]


class TicketSerializer(serializers.ModelSerializer):
    """A ticket as lists show it: no thread."""

    requester = UserSerializer(read_only=True)
    assignee = UserSerializer(read_only=True)
    collaborators = UserSerializer(many=True, read_only=True)

    class Meta:
        model = Ticket
        fields = [
            *("id", "subject", "description", "status", "priority", "requester", "assignee", "collaborators"),
            *Ticket.CLOCK_FIELDS,
        ]
        read_only_fields = fields


class TicketDetailSerializer(TicketSerializer):
    """A ticket with its thread: public replies for everyone, internal ones and notes for agents."""

    replies = serializers.SerializerMethodField()
    notes = serializers.SerializerMethodField()

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "replies", "notes"]

    def get_fields(self):
        fields = super().get_fields()
        if not self.context["agent"]:
            del fields["notes"]
        return fields

    def get_replies(self, ticket) -> list:
        replies = ticket.replies.select_related("author")
        if not self.context["agent"]:
            replies = replies.filter(public=True)
        return ReplySerializer(replies, many=True).data

    def get_notes(self, ticket) -> list:
        return NoteSerializer(ticket.notes.select_related("author"), many=True).data


class TicketCreateSerializer(StrictSerializer):
    subject = serializers.CharField(max_length=200)
    description = serializers.CharField(
        allow_blank=True, required=False, default="", max_length=BODY_MAX_LENGTH
    )
    priority = serializers.ChoiceField(choices=Ticket.Priority.choices, required=False)


class TicketUpdateSerializer(StrictSerializer):
    subject = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(allow_blank=True, required=False, max_length=BODY_MAX_LENGTH)
    status = serializers.ChoiceField(choices=Ticket.Status.choices, required=False)
    priority = serializers.ChoiceField(choices=Ticket.Priority.choices, required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Send at least one of: " + ", ".join(self.fields) + ".")
        return attrs


class AssignSerializer(StrictSerializer):
    assignee = UserIdField()

    def validate_assignee(self, user):
        if not is_agent(user):
            raise serializers.ValidationError(f"User {user.pk} is not an agent.")
        return user


class CollaboratorSerializer(StrictSerializer):
    user = UserIdField()

    def validate_user(self, user):
        if user.pk == self.context["ticket"].requester_id:
            raise serializers.ValidationError("This user is the ticket's requester.")
        return user


class NoteCreateSerializer(StrictSerializer):
    body = serializers.CharField(max_length=BODY_MAX_LENGTH)


class ReplyCreateSerializer(NoteCreateSerializer):
    public = serializers.BooleanField(required=False, default=True)


class TicketFilterSerializer(StrictSerializer):
    """The list's query parameters: ?status=open&assignee=<id>|none&breached=true&page=2."""

    status = serializers.ChoiceField(choices=Ticket.Status.choices, required=False)
    priority = serializers.ChoiceField(choices=Ticket.Priority.choices, required=False)
    assignee = serializers.CharField(required=False)
    breached = serializers.BooleanField(required=False)
    page = serializers.CharField(required=False)  # read by the paginator

    def validate_assignee(self, value: str) -> int | None:
        if value == "none":
            return None
        if not re.fullmatch(r"[0-9]+", value):
            raise serializers.ValidationError('Expected a user id or "none".')
        return int(value)

    def filter(self, tickets):
        params = dict(self.validated_data)
        params.pop("page", None)  # the paginator's
        if "assignee" in params:
            params["assignee_id"] = params.pop("assignee")
        if "breached" in params:
            params["sla_breached_at__isnull"] = not params.pop("breached")
        return tickets.filter(**params)
