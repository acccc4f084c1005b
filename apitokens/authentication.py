"""DRF authentication by knox token (`Authorization: Token <token>`), refusing malformed ones.

knox decodes the token as UTF-8 before looking it up, so bytes that are not UTF-8 (the header
is the client's) raised UnicodeDecodeError, a 500. A token is hexadecimal of a known length:
anything else is refused as invalid, the same 401 as a wrong token, without a query.
"""

from __future__ import annotations

import string

from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.settings import knox_settings
from rest_framework.exceptions import AuthenticationFailed

_HEX = frozenset(string.hexdigits.encode())


class TokenAuthentication(KnoxTokenAuthentication):
    def authenticate_credentials(self, token: bytes):
        prefix = knox_settings.TOKEN_PREFIX.encode()
        body = token[len(prefix) :] if prefix and token.startswith(prefix) else token
        if len(body) != knox_settings.AUTH_TOKEN_CHARACTER_LENGTH or not set(body) <= _HEX:
            raise AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(token)
