"""API tokens: hashed and expiring (django-rest-knox), their endpoint, admin and command."""
