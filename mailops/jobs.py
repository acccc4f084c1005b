"""Periodic jobs of mailops: keeping the credential check's cached answer warm."""

from queueops.periodic import PeriodicJob, every

JOBS = [
    PeriodicJob(
        "mailops.refresh_credentials",
        task="mailops.refresh_credentials",
        schedule=every(3600),
        description="Ask Mailgun for the sender domain's state, cache it for the mail health check, "
        "alert (mail.credentials) while it fails.",
    ),
]
