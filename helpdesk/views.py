"""The helpdesk REST API under /api/tickets/: who may see and do what, as HTTP.

Order of refusals: a ticket the user may not see is 404 (its existence is not revealed), an
action the user may not take on a ticket they see is 403, bad input is 400 with field errors.
Only agents add collaborators (a requester could otherwise probe user ids and mail whoever they
found); a non-agent's replies, which mail the ticket's people, are rate limited (429).
"""

from __future__ import annotations

from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response

from helpdesk import services
from helpdesk.models import Ticket
from helpdesk.permissions import is_agent, visible_tickets
from helpdesk.serializers import (
    AssignSerializer,
    CollaboratorSerializer,
    NoteCreateSerializer,
    NoteSerializer,
    ReplyCreateSerializer,
    ReplySerializer,
    TicketCreateSerializer,
    TicketDetailSerializer,
    TicketFilterSerializer,
    TicketSerializer,
    TicketUpdateSerializer,
)
from helpdesk.throttles import RequesterMailThrottle
from opsproject.throttling import AnonThrottle, UserThrottle

# Fields only agents may send: the SLA and workflow are theirs to set.
AGENT_ONLY_FIELDS = frozenset({"status", "priority", "public"})


class TicketViewSet(viewsets.GenericViewSet):
    serializer_class = TicketSerializer
    lookup_value_regex = "[0-9]+"
    # Rates: API_THROTTLE_ANON / API_THROTTLE_USER; 429 with Retry-After past them.
    throttle_classes = [AnonThrottle, UserThrottle]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authenticates and checks IsAuthenticated
        self.agent = is_agent(request.user)

    def get_throttles(self):
        mail = [RequesterMailThrottle()] if self.action == "replies" else []
        return [*super().get_throttles(), *mail]

    def get_queryset(self):
        return (
            visible_tickets(self.request.user, agent=self.agent)
            .select_related("requester", "assignee")
            .prefetch_related("collaborators")
        )

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "agent": self.agent}

    # --- helpers -----------------------------------------------------------------------------

    def _valid(self, serializer_class, data, **context):
        if not self.agent and isinstance(data, dict):
            denied = sorted(AGENT_ONLY_FIELDS & data.keys() & serializer_class().fields.keys())
            if denied:
                raise PermissionDenied(f"Only agents can set: {', '.join(denied)}.")
        serializer = serializer_class(data=data, context={**self.get_serializer_context(), **context})
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _require_agent(self) -> None:
        if not self.agent:
            raise PermissionDenied("Only agents can do this.")

    def _detail(self, ticket: Ticket, status_code: int = status.HTTP_200_OK) -> Response:
        ticket = self.get_queryset().get(pk=ticket.pk)  # fresh, after the change
        return Response(
            TicketDetailSerializer(ticket, context=self.get_serializer_context()).data, status_code
        )

    # --- tickets -----------------------------------------------------------------------------

    def list(self, request):
        filters = TicketFilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        page = self.paginate_queryset(filters.filter(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def create(self, request):
        data = self._valid(TicketCreateSerializer, request.data)
        ticket = Ticket.objects.create(requester=request.user, **data)
        return self._detail(ticket, status.HTTP_201_CREATED)

    def retrieve(self, request, pk=None):
        return self._detail(self.get_object())

    def partial_update(self, request, pk=None):
        ticket = self.get_object()
        if not self.agent and ticket.requester_id != request.user.pk:
            raise PermissionDenied("Only agents and the requester can edit a ticket.")
        services.update_ticket(ticket, **self._valid(TicketUpdateSerializer, request.data))
        return self._detail(ticket)

    # --- actions on a ticket -----------------------------------------------------------------

    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        ticket = self.get_object()
        self._require_agent()
        data = self._valid(AssignSerializer, request.data)
        services.assign(ticket, data["assignee"], actor=request.user)
        return self._detail(ticket)

    @action(detail=True, methods=["post"])
    def collaborators(self, request, pk=None):
        ticket = self.get_object()
        self._require_agent()
        user = self._valid(CollaboratorSerializer, request.data, ticket=ticket)["user"]
        added = services.add_collaborator(ticket, user, actor=request.user)
        return self._detail(ticket, status.HTTP_201_CREATED if added else status.HTTP_200_OK)

    @action(detail=True, methods=["delete"], url_path="collaborators/(?P<user_id>[0-9]+)")
    def remove_collaborator(self, request, pk=None, user_id=None):
        ticket = self.get_object()
        user_id = int(user_id)
        if not (self.agent or request.user.pk in (ticket.requester_id, user_id)):
            raise PermissionDenied(
                "Only agents, the requester and the collaborator can remove a collaborator."
            )
        if not services.remove_collaborator(ticket, user_id):
            raise NotFound("This user is not a collaborator on this ticket.")
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def replies(self, request, pk=None):
        ticket = self.get_object()
        reply = services.add_reply(
            ticket, author=request.user, **self._valid(ReplyCreateSerializer, request.data)
        )
        return Response(ReplySerializer(reply).data, status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def notes(self, request, pk=None):
        ticket = self.get_object()
        self._require_agent()
        note = services.add_note(
            ticket, author=request.user, **self._valid(NoteCreateSerializer, request.data)
        )
        return Response(NoteSerializer(note).data, status.HTTP_201_CREATED)
