"""System checks of the operations settings: a bad METRICS_ALLOWED_IPS entry stops start-up."""

from django.core.checks import Error, register


@register()
def metrics_allowed_ips(app_configs=None, **kwargs):
    from operations.access import bad_allowed_ips

    return [
        Error(
            f"METRICS_ALLOWED_IPS entry {entry!r} is not an IP address or network",
            hint="Use addresses or CIDR networks: 10.0.0.5,10.0.0.0/8,::1",
            id="operations.E001",
        )
        for entry in bad_allowed_ips()
    ]
