"""health.redact: `mask` hides URL credentials and configured secrets in text of any length;
`redact` also cuts it to a health output's length."""

from __future__ import annotations

import pytest

from health import redact


@pytest.fixture
def a_secret(settings):
    settings.METRICS_TOKEN = "configured-token-0123456789"
    redact.forget()
    yield settings.METRICS_TOKEN
    redact.forget()


def test_mask_hides_url_credentials_and_configured_secrets_and_keeps_the_rest(a_secret):
    text = f"connect postgres://app:pw-9x@db:5432/ops failed; token {a_secret}\n" + "x" * 2000
    masked = redact.mask(text)
    assert "pw-9x" not in masked and a_secret not in masked
    assert masked.startswith("connect postgres://***@db:5432/ops failed; token ***\n")
    assert masked.endswith("x" * 2000)  # a traceback is kept whole


def test_redact_is_mask_cut_to_a_health_outputs_length(a_secret):
    text = f"{a_secret} " + "y" * 2000
    assert redact.redact(text) == redact.mask(text)[: redact.MAX_OUTPUT - 1] + "…"
