"""The apitokens app's configuration."""

from django.apps import AppConfig


class ApiTokensConfig(AppConfig):
    name = "apitokens"
    verbose_name = "API tokens"

    def ready(self) -> None:
        # drf-spectacular finds schema extensions by their being imported.
        from apitokens import schema  # noqa: F401
