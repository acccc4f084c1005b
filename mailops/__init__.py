"""Mail operations: Mailgun via Anymail, webhooks, suppression list and the send task."""
