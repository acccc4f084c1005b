"""The demo day finds each app's part (helpdesk/demo.py) through the app registry."""

from __future__ import annotations

from helpdesk import demo as helpdesk_demo
from operations import demo
from operations.demo import ops_day


def test_the_helpdesk_part_is_found_and_its_mail_domain_is_the_one_ops_day_writes():
    assert demo.parts() == [helpdesk_demo]
    assert ops_day.DOMAIN == helpdesk_demo.DOMAIN
