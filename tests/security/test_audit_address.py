"""The audited client address: the forwarded one only from a trusted proxy (FORWARDED_ALLOW_IPS),
the connection's own otherwise; an X-Forwarded-For a client writes itself changes nothing."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from tests.operations.conftest import make_user
from tests.security.sessions import Session, server

pytestmark = pytest.mark.django_db(transaction=True)

FORGED = {"X-Forwarded-For": "203.0.113.9"}


def _add_suppression(base: str, address: str) -> AuditEntry:
    operator = Session(base, make_user(f"ops-{address.split('@')[0]}", ops_admin=True))
    status, answer = operator.call(
        "post", "/api/ops/mail/suppressions/", {"address": address}, headers=FORGED
    )
    assert status == 201, answer
    return AuditEntry.objects.get(target=address)


def test_behind_a_trusted_proxy_the_forwarded_address_is_audited(tmp_path):
    # The test client is the proxy here: it connects from 127.0.0.1, which is trusted.
    with server(tmp_path, FORWARDED_ALLOW_IPS="127.0.0.1") as base:
        entry = _add_suppression(base, "trusted@example.com")
    assert (entry.action, entry.remote_addr) == ("suppression.add", "203.0.113.9")


def test_from_an_untrusted_peer_its_own_address_is_audited_not_the_header(tmp_path):
    with server(tmp_path, FORWARDED_ALLOW_IPS="192.0.2.1") as base:
        entry = _add_suppression(base, "untrusted@example.com")
    assert (entry.action, entry.remote_addr) == ("suppression.add", "127.0.0.1")


def test_a_forwarded_address_that_is_no_address_is_not_audited_as_one(tmp_path):
    # The test client is the trusted proxy; the header is what a client wrote, passed along.
    forged = {"X-Forwarded-For": "not-an-address-" * 4}
    with server(tmp_path, FORWARDED_ALLOW_IPS="127.0.0.1") as base:
        operator = Session(base, make_user("oscar-ops", ops_admin=True))
        status, answer = operator.call(
            "post", "/api/ops/mail/suppressions/", {"address": "odd@example.com"}, headers=forged
        )
    assert status == 201, answer
    entry = AuditEntry.objects.get(action="suppression.add")
    assert (entry.target, entry.remote_addr) == ("odd@example.com", None)
