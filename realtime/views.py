"""HTTP side of realtime: channel authorization (Laravel Echo's path) and missed-event history.

Both authenticate like the API (DRF token or the Django session, CSRF-checked for POST).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from opsproject.json_parser import JSONParser
from realtime.authorization import Refused, authorize, subscription_auth
from realtime.broadcasting import history

HISTORY_LIMIT = 1000
_EVENT_ID = re.compile(r"[0-9]{1,20}")


class ChannelAuthView(APIView):
    """POST socket_id and channel_name (form-encoded, as pusher-js sends them, or JSON)."""

    # Refusals are answered and logged by realtime.authorization, anonymous ones included.
    permission_classes = [AllowAny]
    parser_classes = [FormParser, MultiPartParser, JSONParser]

    def post(self, request):
        if not isinstance(request.data, Mapping):  # JSON that is a list, a string, a number
            return Response({"detail": "expected an object with socket_id and channel_name"}, status=400)
        socket_id = request.data.get("socket_id", "")
        channel = request.data.get("channel_name", "")
        try:
            return Response(subscription_auth(request.user, socket_id, channel))
        except Refused as refused:
            return Response({"detail": refused.reason}, status=refused.status)


class HistoryView(APIView):
    """GET ?channel=C&after=ID: the events after ID still kept, authorized like subscribing."""

    permission_classes = [AllowAny]

    def get(self, request):
        channel = request.query_params.get("channel", "")
        after = request.query_params.get("after", "0")
        if not _EVENT_ID.fullmatch(after):  # str.isdigit() takes "²", which int() refuses
            return Response({"detail": "after must be an event_id (a non-negative integer)"}, status=400)
        try:
            authorize(request.user, channel)
        except Refused as refused:
            return Response({"detail": refused.reason}, status=refused.status)
        events = history(channel, int(after), HISTORY_LIMIT)
        return Response({"channel": channel, "after": int(after), "events": events})
