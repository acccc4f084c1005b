"""Admin pages of mail: lists load, records are read-only, a duplicate suppression is a form error."""

from __future__ import annotations

import pytest

from mailops.models import MailEvent, OutboundMessage, Suppression
from scheduler.periodic import registered_jobs

pytestmark = pytest.mark.django_db


def test_the_lists_and_a_message_page_load(admin_client):
    message = OutboundMessage.objects.create(
        from_email="a@mg.example.com", to=["x@example.com"], subject="Hi"
    )
    MailEvent.objects.create(
        event_id="t1", event_type="delivered", recipient="x@example.com", outbound=message
    )
    Suppression.objects.create(address="x@example.com", reason="bounced", source="webhook")

    for url in (
        "/admin/mailops/outboundmessage/",
        "/admin/mailops/mailevent/",
        "/admin/mailops/suppression/",
    ):
        assert admin_client.get(url).status_code == 200, url
    page = admin_client.get(f"/admin/mailops/outboundmessage/{message.pk}/change/")
    assert page.status_code == 200 and b"delivered" in page.content
    assert admin_client.get("/admin/mailops/outboundmessage/add/").status_code == 403


def test_adding_a_suppression_by_hand_and_again_in_other_case(admin_client):
    added = admin_client.post(
        "/admin/mailops/suppression/add/", {"address": "Rita@Example.com", "reason": "manual"}
    )
    again = admin_client.post(
        "/admin/mailops/suppression/add/", {"address": "rita@example.com", "reason": "manual"}
    )

    assert added.status_code == 302
    assert again.status_code == 200 and b"on the suppression list already" in again.content
    row = Suppression.objects.get()
    assert (row.address_key, row.source) == ("rita@example.com", "operator")


def test_the_credential_refresh_is_an_hourly_periodic_job():
    [job] = [job for job in registered_jobs() if job.name == "mailops.refresh_credentials"]
    assert job.task == "mailops.refresh_credentials" and job.schedule.seconds == 3600
