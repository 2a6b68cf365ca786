"""Optional bearer-token auth from ``SUMMARIZER_API_KEYS``; with no keys configured every route is open.

Tokens are compared in constant time against every configured key (no early exit, no length leak
beyond what ``hmac.compare_digest`` allows), and neither the keys nor the token are ever logged.

Each key is a tenant: the request's caller is the key's fingerprint (a hash, never the key), which owns the
batches it creates and holds its own share of the request slots. Keys in ``SUMMARIZER_API_ADMIN_KEYS`` are
accepted too and see every tenant's batches.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from ..errors import ErrorCode
from ._errors import ApiError

_bearer = HTTPBearer(auto_error=False, description="One of the keys in SUMMARIZER_API_KEYS.")


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


@dataclass(frozen=True)
class Caller:
    """Who makes a request: the fingerprint of its key (None when auth is off) and whether it is an admin key."""

    tenant: str | None
    admin: bool

    def sees(self, owner: str | None) -> bool:
        """Whether this caller may see a batch owned by ``owner``."""
        return self.admin or self.tenant is None or owner == self.tenant


ANYONE = Caller(tenant=None, admin=True)


def fingerprint(token: str) -> str:
    """A key's tenant id: part of its SHA-256, never the key itself."""
    return "key_" + hashlib.sha256(b"summarizer-tenant:" + token.encode("utf-8")).hexdigest()[:24]


class KeyChecker:
    """Holds digests of the configured keys; equal-length digests make each comparison constant-time."""

    def __init__(self, keys: Sequence[SecretStr], admin_keys: Sequence[SecretStr] = ()) -> None:
        self._digests = [_digest(k.get_secret_value()) for k in keys]
        self._admin = [_digest(k.get_secret_value()) for k in admin_keys]

    @property
    def enabled(self) -> bool:
        return bool(self._digests or self._admin)

    @staticmethod
    def _matches(offered: bytes, digests: list[bytes]) -> bool:
        matched = False
        for digest in digests:
            matched |= hmac.compare_digest(offered, digest)
        return matched

    def caller(self, token: str) -> Caller | None:
        """The caller a token stands for, or None when no configured key matches it (each digest compared)."""
        offered = _digest(token)
        admin = self._matches(offered, self._admin)
        if not (self._matches(offered, self._digests) | admin):
            return None
        return Caller(fingerprint(token), admin)


def require_key(checker: KeyChecker) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency that answers 401 unless the request carries an accepted bearer token; it records the
    request's ``Caller`` in ``request.state.caller``."""

    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> None:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ApiError(
                401,
                ErrorCode.UNAUTHORIZED,
                "missing bearer token: send 'Authorization: Bearer <key>'",
                {"WWW-Authenticate": "Bearer"},
            )
        caller = checker.caller(credentials.credentials)
        if caller is None:
            raise ApiError(401, ErrorCode.UNAUTHORIZED, "invalid bearer token", {"WWW-Authenticate": "Bearer"})
        request.state.caller = caller

    return dependency


def caller_of(request: Request) -> Caller:
    """The request's caller (everyone is the same caller when auth is off)."""
    return getattr(request.state, "caller", ANYONE)
