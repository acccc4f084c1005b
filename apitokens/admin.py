"""The admin of API tokens: who holds one, since and until when; never a token itself.

knox's own admin lists the digest and searches by the token's first characters; this one shows
the owner and dates only. A token made here is shown once, in the message after saving.
"""

from django.contrib import admin
from knox.admin import AuthTokenAdmin as KnoxAuthTokenAdmin
from knox.models import AuthToken

admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class AuthTokenAdmin(KnoxAuthTokenAdmin):
    list_display = ("user", "created", "expiry")
    search_fields = ("user__username",)
    list_filter = ("created", "expiry")
