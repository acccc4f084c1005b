#!/bin/sh
# `manage.py check --deploy` in the production profile: zero warnings, or exit 1 naming them.
# The values are throwaway: generated secrets and unreachable hosts (the deploy checks read the
# settings, they connect to nothing). The deploy workflow runs the same check with production's
# real env file on the host before it rolls anything out.
set -eu
PYTHON=${PYTHON:-.venv/bin/python}
generated() { "$PYTHON" -c "import secrets; print(secrets.token_urlsafe(48))"; }
exec env -u VAR_DIR -u DEBUG \
	DJANGO_ENV=production \
	SECRET_KEY="$(generated)" \
	DATABASE_URL=mysql://ops@db.invalid:3306/ops \
	REDIS_URL=redis://cache.invalid:6379/0 \
	ALLOWED_HOSTS=helpdesk.example.com \
	REALTIME_APP_KEY=helpdesk-production-key \
	REALTIME_APP_SECRET="$(generated)" \
	MAILGUN_API_KEY="$(generated)" \
	MAILGUN_SENDER_DOMAIN=mg.example.com \
	MAILGUN_WEBHOOK_SIGNING_KEY="$(generated)" \
	DEFAULT_FROM_EMAIL=helpdesk@mg.example.com \
	BACKUP_AGE_RECIPIENTS=age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p \
	BACKUP_MANIFEST_KEY="$(generated)" \
	BACKUP_ALLOW_LOCAL=true \
	"$PYTHON" manage.py check --deploy --fail-level WARNING
