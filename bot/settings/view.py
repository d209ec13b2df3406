"""The settings as plain data with every secret masked, for ``config check`` and start-up logs."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from bot.redact import MASK, mask_url, scrub
from bot.settings import Settings
from bot.settings.sections import MASKED_SECRET_PATHS

_URL_FIELDS = {("chain", "rpc_url"), ("exchange", "api_url")}


def masked_view(settings: Settings) -> dict[str, Any]:
    """Nested dict of plain values (Decimals kept); secrets are ``"********"`` when set, None when not."""
    return _plain(settings, ())


def secret_status(settings: Settings) -> dict[str, bool]:
    """Which secrets are set, by dotted key path (``wallet.private_key`` → True)."""
    status = {
        f"{section}.{name}": getattr(getattr(settings, section), name) is not None
        for section, name in MASKED_SECRET_PATHS
    }
    status["notify.webhook_url"] = settings.notify.webhook_url is not None
    return status


def _plain(value: Any, path: tuple[str, ...]) -> Any:
    if isinstance(value, BaseModel):
        return {name: _plain(getattr(value, name), (*path, name)) for name in type(value).model_fields}
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        # A webhook keeps its host visible so one can tell which service it points at.
        return mask_url(secret) if path == ("notify", "webhook_url") and MASK in (mask_url(secret) or "") else MASK
    if path in _URL_FIELDS and isinstance(value, str):
        return mask_url(value)
    if isinstance(value, dict):
        return {key: _plain(val, (*path, key)) for key, val in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(val, path) for val in value]
    if isinstance(value, Path):
        return scrub(str(value))  # a path may hold a secret (a key in a file name)
    if isinstance(value, Decimal):
        return value  # kept exact; print_json writes Decimals as strings
    if isinstance(value, str):
        return scrub(value)
    return value
