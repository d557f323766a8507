"""Which Harvest accounts a token can use: Harvest ID's `GET /accounts`, outside the v2 API.

Harvest answers 401 `invalid_token` both to a bad token and to a good token sent with the
wrong `Harvest-Account-Id`. Its identity service lists the accounts of a token without an
account id (`https://id.getharvest.com/api/v2/accounts`), which tells the two apart: a 401
there means the token; a list without our account id means `HARVEST_ACCOUNT_ID`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import httpx

HARVEST_ID_URL = "https://id.getharvest.com/api/v2"
HARVEST_API_HOST = "api.harvestapp.com"


@dataclass(frozen=True)
class TokenAccounts:
    """What Harvest ID said about a token: valid (with its accounts) or refused."""

    valid: bool
    accounts: dict[str, str]  # account id -> name


def identity_url(harvest_base_url: str, environ: dict[str, str] | None = None) -> str | None:
    """Where to ask: $HARVEST_ID_URL when set, Harvest ID for the real API, else nowhere (a sandbox)."""
    env = os.environ if environ is None else environ
    if env.get("HARVEST_ID_URL"):
        return env["HARVEST_ID_URL"]
    return HARVEST_ID_URL if HARVEST_API_HOST in harvest_base_url else None


def token_accounts(id_url: str, token: str, user_agent: str, timeout_s: float = 10.0) -> TokenAccounts | None:
    """The accounts `token` may use, `valid=False` when Harvest ID refuses it, None when it cannot tell."""
    try:
        response = httpx.get(
            f"{id_url.rstrip('/')}/accounts",
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": user_agent,
                "Accept": "application/json",
            },
            timeout=timeout_s,
        )
    except httpx.HTTPError:
        return None
    if response.status_code in (401, 403):
        return TokenAccounts(False, {})
    if response.status_code != 200:
        return None
    try:
        accounts = response.json().get("accounts") or []
        return TokenAccounts(True, {str(a["id"]): str(a.get("name") or "") for a in accounts})
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
