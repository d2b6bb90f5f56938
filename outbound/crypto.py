"""Secrets at rest and on the wire: members' addresses and endpoint secrets are encrypted with
the configured key (Fernet: AES-128-CBC + HMAC-SHA256, from `cryptography`); webhook secrets are
`whsec_` + base64 of 32 random bytes (the Standard Webhooks form); addresses are masked for
operators unless revealed."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import msgspec
from cryptography.fernet import Fernet, InvalidToken

from activities.config import Settings, address_key
from outbound.model import Address


class Sealer:
    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    @classmethod
    def of(cls, settings: Settings) -> Sealer:
        return cls(settings.address_key or address_key(Path(settings.var_dir)))

    def seal(self, plain: bytes) -> str:
        return self._fernet.encrypt(plain).decode()

    def open(self, sealed: str) -> bytes:
        try:
            return self._fernet.decrypt(sealed.encode())
        except InvalidToken:
            raise ValueError("sealed with another key (PROMO_ADDRESS_KEY changed?)") from None

    def seal_address(self, address: Address) -> str:
        return self.seal(msgspec.json.encode(address))

    def open_address(self, sealed: str) -> Address:
        return msgspec.json.decode(self.open(sealed), type=Address)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _keep(text: str, head: int, tail: int = 0) -> str:
    if len(text) <= head + tail:
        return text[:1] + "*" * max(len(text) - 1, 0)
    return text[:head] + "*" * (len(text) - head - tail) + (text[-tail:] if tail else "")


def mask(address: Address) -> Address:
    """What an operator sees by default: the name's first character, the phone's first 3 and last
    4 digits, the province and city; the district and street hidden."""
    return Address(
        name=_keep(address.name, 1),
        phone=_keep(address.phone, 3, 4),
        province=address.province,
        city=address.city,
        district="***",
        street="***",
        postal_code=address.postal_code,
    )
