"""Periodic jobs of mailops: mail the broker refused published again, the credential check's
cached answer kept warm, history pruned."""

from scheduler.periodic import PeriodicJob, cron, every

JOBS = [
    PeriodicJob(
        "mailops.republish_pending",
        task="mailops.republish_pending",
        schedule=every(60),
        description="Publish again the mail whose send task the broker did not take "
        "(it was down when the mail was committed); sent once however often published.",
    ),
    PeriodicJob(
        "mailops.refresh_credentials",
        task="mailops.refresh_credentials",
        schedule=every(3600),
        description="Ask Mailgun for the sender domain's state, cache it for the mail health check, "
        "alert (mail.credentials) while it fails.",
    ),
    PeriodicJob(
        "mailops.prune_history",
        task="mailops.prune_history",
        schedule=cron("45 3 * * *"),
        description="Delete MailEvents and OutboundMessages older than MAIL_RETENTION_DAYS "
        "(the suppression list is kept).",
    ),
]
