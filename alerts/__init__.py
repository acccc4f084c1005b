"""Alerts: the Alert model, raise/resolve (alerts.notices) and the notifiers every app uses."""
