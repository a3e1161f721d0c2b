"""The live-API fixtures of the HTTP tests, for the security tests too."""

from tests.http.conftest import api, make_api

__all__ = ["api", "make_api"]
