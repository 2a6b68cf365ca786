"""Optional bearer-token auth from ``SUMMARIZER_API_KEYS``; with no keys configured every route is open.

Tokens are compared in constant time against every configured key (no early exit, no length leak
beyond what ``hmac.compare_digest`` allows), and neither the keys nor the token are ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from ._errors import ApiError

_bearer = HTTPBearer(auto_error=False, description="One of the keys in SUMMARIZER_API_KEYS.")


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


class KeyChecker:
    """Holds digests of the configured keys; equal-length digests make each comparison constant-time."""

    def __init__(self, keys: Sequence[SecretStr]) -> None:
        self._digests = [_digest(k.get_secret_value()) for k in keys]

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def accepts(self, token: str) -> bool:
        offered = _digest(token)
        matched = False
        for digest in self._digests:
            matched |= hmac.compare_digest(offered, digest)
        return matched


def require_key(checker: KeyChecker) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency that answers 401 unless the request carries an accepted bearer token."""

    async def dependency(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ApiError(
                401,
                "unauthorized",
                "missing bearer token: send 'Authorization: Bearer <key>'",
                {"WWW-Authenticate": "Bearer"},
            )
        if not checker.accepts(credentials.credentials):
            raise ApiError(401, "unauthorized", "invalid bearer token", {"WWW-Authenticate": "Bearer"})

    return dependency
