"""How Koppel authenticates to a system (outbound) or a caller to Koppel (inbound webhooks)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from runtime.models.common import Duration, Model, SecretRef


class NoAuth(Model):
    type: Literal["none"]


class BearerAuth(Model):
    type: Literal["bearer"]
    token: SecretRef


class ApiKeyAuth(Model):
    """Fixed headers, e.g. Signhost's ``Application`` / ``Authorization`` pair or an
    ``Ocp-Apim-Subscription-Key``."""

    type: Literal["api_key"]
    headers: dict[str, SecretRef] = Field(min_length=1)
    #: header values are written as ``prefix + secret`` (Signhost: ``APPKey ``)
    prefixes: dict[str, str] = Field(default_factory=dict)


class BasicAuth(Model):
    type: Literal["basic"]
    username: str
    password: SecretRef


class OAuth2ClientCredentials(Model):
    type: Literal["oauth2_client_credentials"]
    token_url: str
    client_id: str
    client_secret: SecretRef
    scope: str | None = None
    #: renew this long before the token expires
    renew_before: Duration = 60.0
    #: extra headers sent on every API call (e.g. Xedule's subscription key)
    headers: dict[str, SecretRef] = Field(default_factory=dict)


class OAuth2RefreshToken(Model):
    """Exact Online: every refresh returns a new refresh token that must be kept."""

    type: Literal["oauth2_refresh_token"]
    token_url: str
    client_id: str
    client_secret: SecretRef
    refresh_token: SecretRef
    renew_before: Duration = 30.0


class SshKeyAuth(Model):
    type: Literal["ssh_key"]
    username: str
    private_key: SecretRef = Field(description="Reference to the private key: ${file:...}")
    passphrase: SecretRef | None = None


class HmacAuth(Model):
    """Inbound: the caller signs the raw body with a shared secret."""

    type: Literal["hmac"]
    secret: SecretRef
    header: str = "X-Signature"
    algorithm: Literal["sha256", "sha1", "sha512"] = "sha256"
    #: text before the hex digest in the header, e.g. ``sha256=``
    prefix: str = ""


class SignhostChecksumAuth(Model):
    """Inbound: Signhost postbacks. Signhost does not sign the body: it sends
    ``Checksum = sha1_hex(Id + "||" + Status + "|" + secret)`` as a body property and, for the
    global postback URL, as a header. Koppel recomputes it from the body's ``Id`` and ``Status``
    and compares in constant time; when both the header and the property are there, both must match."""

    type: Literal["signhost_checksum"]
    secret: SecretRef = Field(description="The postback secret shared with Signhost (the portal's shared secret).")
    header: str = Field("Checksum", description="The header that may carry the checksum.")


class StandardWebhooksAuth(Model):
    """Inbound: Standard Webhooks (https://www.standardwebhooks.com), Koppel's own scheme for
    partners without one of their own. The sender signs ``<webhook-id>.<webhook-timestamp>.<body>``
    with HMAC-SHA256 and sends ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
    ``webhook-signature: v1,<base64>``. A timestamp further than ``tolerance`` from now is refused,
    and a ``webhook-id`` already accepted is answered 2xx without being stored again."""

    type: Literal["standard_webhooks"]
    secret: SecretRef = Field(description="The shared secret, ``whsec_`` followed by base64 (24 to 64 random bytes).")
    tolerance: int = Field(300, ge=1, le=300, description="Seconds a call's timestamp may lie before or after "
                           "Koppel's clock (at most 300, the standardwebhooks library's own limit).")


class MutualTlsAuth(Model):
    """Inbound: the caller's certificate subject must be one of these (checked by the proxy or
    the server that terminates TLS and passes the subject on)."""

    type: Literal["mutual_tls"]
    subjects: list[str] = Field(min_length=1)
    header: str = "X-Client-Cert-Subject"


OutboundAuth = Annotated[
    NoAuth | BearerAuth | ApiKeyAuth | BasicAuth | OAuth2ClientCredentials | OAuth2RefreshToken | SshKeyAuth,
    Field(discriminator="type"),
]

InboundAuth = Annotated[
    StandardWebhooksAuth | HmacAuth | SignhostChecksumAuth | BearerAuth | ApiKeyAuth | BasicAuth | MutualTlsAuth | NoAuth,
    Field(discriminator="type"),
]
