"""The JSON parser of every DRF view: DRF's, with JSON nested past Python's recursion limit a 400.

DRF's JSONParser turns a ValueError into its ParseError (400), but `[[[[...` a hundred thousand
deep raises RecursionError, which left the view as a 500 with a traceback, anonymously, on the
token endpoint and /broadcasting/auth.
"""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
