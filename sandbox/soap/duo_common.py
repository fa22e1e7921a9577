"""What the DUO stand-ins share: the Bedrijfsdocument header of an answer."""

from __future__ import annotations

import datetime as dt
import uuid

from lxml import etree

from .base import Exchange, text

DUO_OIN = "00000001800866472000"


def answer_header(request: etree._Element, exchange: Exchange, own_oin: str | None, *, echo_id: bool) -> dict:
    """DUO answers with its own Bedrijfsdocument; RIO echoes the request's id, ROD issues a new one."""
    return {
        "identificatiecodeBedrijfsdocument": text(request, "identificatiecodeBedrijfsdocument") if echo_id else str(uuid.uuid4()),
        "verzendendeInstantie": own_oin or DUO_OIN,
        "ontvangendeInstantie": text(request, "verzendendeInstantie") or exchange.sender_oin,
        "datumTijdBedrijfsdocument": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }
