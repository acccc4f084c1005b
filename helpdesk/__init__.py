"""The helpdesk domain the operations serve: tickets, replies, notes, SLA and their events."""
