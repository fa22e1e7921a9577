"""``state:`` in catalog.yaml (data keys per environment, retention defaults) and ``retention:``
in an interface's delivery policy.

    state:
      retention: {delivered: 90d, lineage: 365d, dead_open: 180d, dead_closed: 30d, inbox: 7d, outbox: 30d}
      keys:
        sandbox: [{id: k1, key: "${file:sandbox/secrets/state-key-1}"}]
        productie: [{id: prod-2026, key: "${env:KOPPEL_STATE_KEY_PROD_2026}"}]

A key is 32 random bytes, base64 (``koppel state new-key``). The first key of an environment
encrypts; all of them decrypt (runtime/engine/state/crypto.py).

Retention decisions: a period is how long after a row's last change it is kept; ``null`` keeps
it for ever. An interface's ``retention:`` overrides the catalog's per field. Run history and
counts (``koppel_runs``) carry no payload and are not purged; the audit trail is append-only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from runtime.models.common import Duration, Model, SecretRef

_DAY = 86400.0


class StateKey(Model):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$", description="Tags every ciphertext sealed with this key.")
    key: SecretRef = Field(description="Reference to 32 random bytes, base64: ${env:...} or ${file:...}.")


class Retention(Model):
    """How long Koppel keeps each kind of stored row (a period after the row's last change)."""

    delivered: Duration | None = Field(None, description="Ledger rows of delivered records (koppel_deliveries).")
    lineage: Duration | None = Field(None, description="Delivery history (koppel_lineage).")
    dead_open: Duration | None = Field(None, description="Dead letters still open.")
    dead_closed: Duration | None = Field(None, description="Dead letters replayed, discarded or superseded.")
    inbox: Duration | None = Field(None, description="Webhook, SCIM and callback bodies already read.")
    outbox: Duration | None = Field(None, description="SIS outbox rows every active interface has read.")

    def over(self, defaults: Retention | None) -> Retention:
        """This retention with each unset field taken from ``defaults``."""
        if defaults is None:
            return self
        mine = self.model_dump(exclude_unset=True)
        return Retention(**{**defaults.model_dump(), **mine})


#: used when the catalog names no retention: the periods a privacy officer would expect first
DEFAULT_RETENTION = Retention(delivered=90 * _DAY, lineage=365 * _DAY, dead_open=180 * _DAY,
                              dead_closed=30 * _DAY, inbox=7 * _DAY, outbox=30 * _DAY)


class StateSettings(Model):
    keys: dict[Literal["sandbox", "acceptatie", "productie"], list[StateKey]] = Field(
        default_factory=dict, description="Data keys per environment (sandbox, acceptatie, productie); the first "
        "encrypts, all decrypt.")
    retention: Retention = Field(default_factory=lambda: DEFAULT_RETENTION.model_copy(),
                                 description="Defaults for every interface's delivery.retention.")
