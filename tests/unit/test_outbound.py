"""The outbound side's pure rules: signatures, quiet hours, sealing and masking addresses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from outbound.crypto import Sealer, mask, new_secret
from outbound.fanout import quiet_until
from outbound.model import Address
from outbound.signing import Signer

SHANGHAI = ZoneInfo("Asia/Shanghai")
ADDRESS = Address("李四", "13912345678", "浙江省", "杭州市", "西湖区", "文三路 1 号", "310000")


def test_signature_is_the_standard_one_and_verifies() -> None:
    secret = new_secret()
    now = int(time.time())
    body = '{"type":"prize.won","timestamp":"2026-06-01T04:00:00.000Z","data":{}}'
    headers = Signer([secret]).headers("msg_won_d1", now, body)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, f"msg_won_d1.{now}.{body}".encode(), hashlib.sha256).digest())
    assert headers["webhook-signature"] == "v1," + expected.decode()
    assert Webhook(secret).verify(body, headers)["type"] == "prize.won"
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("won", "lost"), headers)


def test_during_a_rotation_both_secrets_sign() -> None:
    old, new = new_secret(), new_secret()
    headers = Signer([new, old]).headers("msg_1", int(time.time()), "{}")
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify("{}", headers) == {} and Webhook(new).verify("{}", headers) == {}


def test_quiet_hours_in_the_local_zone() -> None:
    def at(day: int, hour: int, minute: int = 0) -> int:
        return int(datetime(2026, 6, day, hour, minute, tzinfo=SHANGHAI).timestamp() * 1000)

    assert quiet_until(at(1, 21, 59), SHANGHAI, (22, 8)) is None
    assert quiet_until(at(1, 22, 0), SHANGHAI, (22, 8)) == at(2, 8)
    assert quiet_until(at(2, 7, 59), SHANGHAI, (22, 8)) == at(2, 8)
    assert quiet_until(at(2, 8, 0), SHANGHAI, (22, 8)) is None
    assert quiet_until(at(2, 13, 0), SHANGHAI, (12, 14)) == at(2, 14)
    assert quiet_until(at(2, 23, 0), SHANGHAI, None) is None


def test_address_sealed_round_trip_and_masked() -> None:
    sealer = Sealer(Fernet.generate_key().decode())
    sealed = sealer.seal_address(ADDRESS)
    assert "13912345678" not in sealed and sealer.open_address(sealed) == ADDRESS
    with pytest.raises(ValueError, match="another key"):
        Sealer(Fernet.generate_key().decode()).open_address(sealed)
    masked = mask(ADDRESS)
    assert (masked.name, masked.phone, masked.street, masked.district) == ("李*", "139****5678", "***", "***")
    assert masked.city == "杭州市"


def test_the_readme_verification_snippet_works() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- verify-webhook -->\n```python\n(?P<code>.*?)\n```", readme, re.DOTALL)
    assert found, "the README's webhook verification snippet is missing"
    scope: dict[str, Any] = {}
    exec(found["code"], scope)
    secret, other = new_secret(), new_secret()
    body = b'{"type":"prize.won","timestamp":"2026-06-01T04:00:00.000Z","data":{"member":"u1"}}'
    headers = Signer([secret, other]).headers("msg_won_d1", int(time.time()), body.decode())
    assert scope["verify"](secret, body, headers)["data"] == {"member": "u1"}
    assert scope["verify_by_hand"](secret, body, headers) and scope["verify_by_hand"](other, body, headers)
    assert not scope["verify_by_hand"](new_secret(), body, headers)
    assert not scope["verify_by_hand"](secret, body + b" ", headers)
