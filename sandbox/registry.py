"""Which stand-in plays which system of catalog.yaml, and how it is started.

``http``: ``create_app(ctx: StandinContext) -> ASGI app``, served on the port of the system's
sandbox ``url``. ``sshd``: one OpenSSH server for every SFTP system (``sandbox.sftp``), each
system in its own ``options.base_dir``. ``database``: schemas in the data layer database.
Pushers (IAM's SCIM calls, the aanmeldmodule's and B3Net's webhooks, Signhost's postbacks)
are part of their system's stand-in.
"""

from __future__ import annotations

HTTP_STANDINS: dict[str, str] = {
    "iam": "sandbox.rest.iam:create_app",
    "website": "sandbox.rest.website:create_app",
    "centraal-aanmelden": "sandbox.rest.centraal_aanmelden:create_app",
    "intergrip": "sandbox.rest.intergrip:create_app",
    "vva": "sandbox.rest.vva:create_app",
    "signhost": "sandbox.rest.signhost:create_app",
    "dms": "sandbox.rest.dms:create_app",
    "crm": "sandbox.rest.crm:create_app",
    "exact": "sandbox.rest.exact:create_app",
    "xedule": "sandbox.rest.xedule:create_app",
    "b3net": "sandbox.rest.b3net:create_app",
    "remindo": "sandbox.rest.remindo:create_app",
    "dlo": "sandbox.rest.dlo:create_app",
    "sbb": "sandbox.soap.sbb:create_app",
    "sbb-lijsten": "sandbox.rest.sbb_lijsten:create_app",
    "kennisnet": "sandbox.soap.eckid:create_app",
    "duo-rod": "sandbox.soap.duo_rod:create_app",
    "duo-verzuim": "sandbox.soap.duo_verzuim:create_app",
    "duo-rio": "sandbox.soap.duo_rio:create_app",
}

#: Facet is not here: DUO's web application takes files from the exam office, not over SFTP
SFTP_SYSTEMS: tuple[str, ...] = ("aanmeldmodule", "toa")

DATABASE_SYSTEMS: tuple[str, ...] = ("datalaag", "mip")

#: the aanmeldmodule is an SFTP drop (interface 5) and a webhook caller (interface 6)
PUSHERS: dict[str, str] = {
    "aanmeldmodule": "sandbox.rest.aanmeldmodule:push_applications",
}
