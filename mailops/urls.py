"""URLs of mailops, mounted under /anymail/ where Anymail's own webhooks would live."""

from django.urls import path

from mailops.webhook import MailgunTrackingWebhook

app_name = "mailops"

urlpatterns = [path("mailgun/tracking/", MailgunTrackingWebhook.as_view(), name="mailgun_tracking")]
