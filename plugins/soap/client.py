"""One SOAP endpoint: zeep builds and reads the bodies, Koppel does addressing, signing and HTTP.

zeep is used for what it is good at: loading the WSDL and its schemas, putting a mapped payload
into the right element order, and reading answers. The envelope then gets Edukoppeling headers
(and a signature) from ``edukoppeling``, goes out over a ``requests`` session with mutual TLS,
and the answer is parsed by ``xmlsafe`` before zeep sees it. Failures come back as the error
taxonomy (``faults``).

Payloads are dicts shaped like the request element: child element names as keys, lists for
repeated elements. An XSD substitution group is written with the concrete element's name, as
in the real XML (``aangebodenMboOpleiding: {...}`` for RIO's abstract ``aangebodenOpleiding``):
zeep would otherwise write the abstract element with ``xsi:type``, which DUO's XSD rejects.
Bedrijfsdocument fields (``identificatiecodeBedrijfsdocument``, ``verzendendeInstantie``,
``ontvangendeInstantie``, ``datumTijdBedrijfsdocument``) are filled in when the request type
has them and the payload leaves them out.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from runtime import paths, redact
from runtime.errors import ConfigError, ContractError, KoppelError, RecordError, TransientError

from . import edukoppeling, faults, wsdl, xmlsafe
from .bodies import Bodies, plain, xml_to_dict
from .settings import SoapSettings

BEDRIJFSDOCUMENT = (
    "identificatiecodeBedrijfsdocument",
    "verzendendeInstantie",
    "ontvangendeInstantie",
    "datumTijdBedrijfsdocument",
)

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def resolve_wsdl(location: str, project_root: Path) -> str:
    """A file path or URL for ``location``. ``${specs}/x`` falls back to ``contracts/fallback/x``."""
    if "://" in location:
        return location
    path = paths.expand(location, project_root)
    if not path.exists() and location.startswith(paths.SPECS_PLACEHOLDER):
        fallback = project_root / "contracts" / "fallback" / location[len(paths.SPECS_PLACEHOLDER) :].lstrip("/")
        if fallback.exists():
            return str(fallback)
    if not path.exists():
        raise ConfigError(f"WSDL {location} not found ({path})")
    return str(path)


def zeep_client(location: str):
    """A zeep client per WSDL, shared: loading a large WSDL costs more than a hundred calls."""
    with _clients_lock:
        client = _clients.get(location)
        if client is None:
            import zeep

            settings = zeep.Settings(
                strict=True, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True, forbid_external=True
            )
            try:
                client = zeep.Client(location, settings=settings)
            except Exception as exc:  # zeep raises many kinds; all mean the contract is unusable
                raise ConfigError(f"WSDL {location} cannot be loaded: {exc}") from None
            _clients[location] = client
        return client


@dataclass
class CallResult:
    answer: dict[str, Any]
    message_id: str | None
    document_id: str | None


class SoapEndpoint:
    def __init__(self, wsdl_location: str, settings: SoapSettings, *, service: str | None = None, port: str | None = None):
        self.settings = settings
        self.location = resolve_wsdl(wsdl_location, settings.project_root)
        self.client = zeep_client(self.location)
        try:
            self.binding_service = (
                self.client.bind(service, port) if service or port else self.client.service
            )
        except Exception as exc:
            raise ConfigError(f"WSDL {wsdl_location}: service {service!r} / port {port!r} not found ({exc})") from None
        self.binding = self.binding_service._binding
        self.endpoint = settings.endpoint or self.binding_service._binding_options.get("address")
        self.bodies = Bodies(self.client, self._substitution_map())
        self._session = None
        self._signing: tuple[bytes, bytes] | None = None
        self._trust = None  # the system's trust store (2W-be-S), loaded by open() before the first call

    # -- set-up -----------------------------------------------------------------------------

    def _substitution_map(self) -> dict[str, tuple[str, str]]:
        if "://" in self.location:
            return {}
        return wsdl.read(Path(self.location)).substitutions

    def operation(self, name: str):
        op = self.binding.get(name) if name in self.binding._operations else None
        if op is None:
            known = ", ".join(sorted(self.binding._operations))
            raise ConfigError(f"operation {name!r} is not in the WSDL (known: {known})")
        return op

    def open(self) -> None:
        if self._session is not None:
            return
        import requests

        session = requests.Session()
        tls = self.settings.tls
        # verify and cert go with every request, not on the session: requests lets the
        # REQUESTS_CA_BUNDLE environment variable override a session's verify (psf/requests#3829)
        self._verify: bool | str = True
        self._cert: tuple[str, str | None] | None = None
        if tls is not None:
            self._verify = str(paths.expand(tls.ca_file, self.settings.project_root)) if tls.ca_file else tls.verify
            if tls.client_cert:
                self._cert = (
                    str(paths.expand(tls.client_cert, self.settings.project_root)),
                    self._key_file(tls.client_key),
                )
        self._session = session
        if self.settings.signed:
            self._signing = self.settings.signing_material()
            # before anything is sent: an answer that cannot be verified must not be asked for
            self._trust = self.settings.trust_store()

    def _key_file(self, reference: str | None) -> str | None:
        """requests wants a key *file*: use the file of ${file:...}, else a private temp file."""
        if not reference:
            return None
        from runtime import secrets

        value = secrets.resolve(reference, base=self.settings.project_root)
        if reference.startswith("${file:"):
            return str(paths.expand(reference[7:-1], self.settings.project_root))
        import os
        import tempfile

        fd, name = tempfile.mkstemp(prefix="koppel-key-", suffix=".pem")
        os.write(fd, value.encode("ascii"))
        os.close(fd)
        self._temp_key = name
        return name

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
        temp = getattr(self, "_temp_key", None)
        if temp:
            Path(temp).unlink(missing_ok=True)

    # -- building ---------------------------------------------------------------------------

    def build(self, operation: str, payload: dict[str, Any], *, sign: bool) -> tuple[etree._Element, str, str | None]:
        """The envelope for one call, its wsa:MessageID and its identificatiecodeBedrijfsdocument."""
        op = self.operation(operation)
        body_type = op.input.body.type
        payload = dict(payload or {})
        document_id = self._fill_bedrijfsdocument(payload, body_type)
        prepared = self.bodies.prepare(payload, body_type)
        try:
            serialized = op.create(**prepared)
        except TypeError as exc:
            raise ContractError(f"payload does not fit {operation}: {redact.text(str(exc))}") from None
        except Exception as exc:  # zeep.exceptions.ValidationError and friends
            path = getattr(exc, "path", None)
            message = getattr(exc, "message", None) or str(exc)
            raise ContractError(f"payload does not fit {operation}: {redact.text(str(message))}", path=_dotted(path)) from None
        envelope = serialized.content
        self.bodies.name_substitutions(envelope)
        message_id = None
        if self.settings.edukoppeling:
            message_id = edukoppeling.new_message_id(self.settings.messageid_form)
            edukoppeling.add_addressing(
                envelope,
                edukoppeling.Addressing(
                    to=self.settings.wsa_to(self.endpoint or ""),
                    action=op.soapaction,
                    sender_oin=self.settings.sender_oin or "",
                    message_id=message_id,
                ),
            )
            if sign and self.settings.signed:
                key, cert = self._signing or self.settings.signing_material()
                edukoppeling.sign(envelope, key, cert)
        return envelope, message_id, document_id

    def _fill_bedrijfsdocument(self, payload: dict[str, Any], body_type) -> str | None:
        names = {name for name, _ in getattr(body_type, "elements", [])}
        if not set(BEDRIJFSDOCUMENT) <= names:
            return None
        payload.setdefault("identificatiecodeBedrijfsdocument", str(uuid.uuid4()))
        if self.settings.sender_oin:
            payload.setdefault("verzendendeInstantie", self.settings.sender_oin)
        if self.settings.receiver_oin:
            payload.setdefault("ontvangendeInstantie", self.settings.receiver_oin)
        payload.setdefault("datumTijdBedrijfsdocument", dt.datetime.now(dt.timezone.utc).replace(microsecond=0))
        return str(payload["identificatiecodeBedrijfsdocument"])

    # -- calling ----------------------------------------------------------------------------

    def call(self, operation: str, payload: dict[str, Any]) -> CallResult:
        if self._session is None:
            self.open()
        envelope, message_id, document_id = self.build(operation, payload, sign=True)
        op = self.operation(operation)
        body = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{op.soapaction}"'}
        status, content, retry_after = self._post(body, headers)
        answer = self._read_answer(op, status, content, retry_after, message_id)
        return CallResult(answer=answer, message_id=message_id, document_id=document_id)

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str | None]:
        import requests

        name = self.settings.system
        if not self.endpoint:
            raise ConfigError(f"system {name}: no endpoint url and none in the WSDL")
        try:
            response = self._session.post(
                self.endpoint, data=body, headers=headers, timeout=self.settings.timeout, stream=True,
                verify=self._verify, cert=self._cert,
            )
        except requests.exceptions.SSLError as exc:
            raise ConfigError(f"{name}: TLS handshake failed ({_tls_reason(exc)}); check certificates") from None
        except requests.exceptions.Timeout:
            raise TransientError(f"{name}: no answer within {self.settings.timeout:g}s", code="timeout") from None
        except requests.exceptions.ConnectionError:
            raise TransientError(f"{name}: cannot connect to {self.endpoint}", code="connection") from None
        limit = self.settings.max_response_bytes
        chunks, size = [], 0
        try:
            for chunk in response.iter_content(65536):
                size += len(chunk)
                if size > limit:
                    raise RecordError(f"{name}: answer larger than {limit} bytes; refused", code="too-large")
                chunks.append(chunk)
        except requests.exceptions.RequestException:
            raise TransientError(f"{name}: connection broke while reading the answer", code="connection") from None
        finally:
            response.close()
        return response.status_code, b"".join(chunks), response.headers.get("Retry-After")

    def _read_answer(self, op, status: int, content: bytes, retry_after: str | None,
                     message_id: str | None = None) -> dict[str, Any]:
        name = self.settings.system
        if not content.strip():
            if status == 200:
                return {}
            raise faults.from_http_status(status, system=name, retry_after=retry_after)
        try:
            root = xmlsafe.parse(content, max_bytes=self.settings.max_response_bytes)
        except xmlsafe.UnsafeXML as exc:
            raise RecordError(f"{name}: unsafe answer ({exc}); possible XXE attack or broken peer", code="unsafe-xml") from None
        except xmlsafe.MalformedXML as exc:
            if xmlsafe.is_refusal(exc):  # too large or too deep: the same answer again is refused again
                raise RecordError(f"{name}: answer refused ({exc})", code=exc.code) from None
            if status != 200:
                raise faults.from_http_status(status, system=name, retry_after=retry_after) from None
            raise TransientError(f"{name}: malformed answer ({exc})", code="malformed-response") from None
        if root.tag != f"{{{edukoppeling.SOAP_ENV}}}Envelope":
            if status != 200:
                raise faults.from_http_status(status, system=name, retry_after=retry_after)
            raise TransientError(f"{name}: answer is not a SOAP 1.1 envelope", code="malformed-response")
        body = root.find(f"{{{edukoppeling.SOAP_ENV}}}Body")
        fault = body.find(f"{{{edukoppeling.SOAP_ENV}}}Fault") if body is not None else None
        if fault is not None:
            raise faults.from_fault(fault.findtext("faultcode") or "", fault.findtext("faultstring") or "", system=name)
        if status != 200:
            raise faults.from_http_status(status, system=name, retry_after=retry_after)
        if self.settings.signed:  # 2W-be-S: DUO's answer counts only when it verifies (trust.py)
            if self._trust is None:
                self._trust = self.settings.trust_store()
            self._trust.check_answer(root, message_id)
        element = next((child for child in body if isinstance(child.tag, str)), None) if body is not None else None
        if element is None:
            return {}
        return self._deserialise(op, element)

    def _deserialise(self, op, element: etree._Element) -> dict[str, Any]:
        """zeep reads the answer against the schema; where it cannot (RIO's substitution groups),
        a plain reading of the XML is returned instead: one key per child, lists for repeats."""
        from zeep.helpers import serialize_object

        try:
            value = op.output.body.parse(element, self.client.wsdl.types)
            return plain(serialize_object(value, dict))
        except Exception:
            return xml_to_dict(element)


def _dotted(path: Any) -> str | None:
    if not path:
        return None
    return ".".join(str(p) for p in path) if isinstance(path, (list, tuple)) else str(path)


__all__ = ["CallResult", "KoppelError", "SoapEndpoint", "plain", "resolve_wsdl", "xml_to_dict", "zeep_client"]


def _tls_reason(exc: Exception) -> str:
    """The OpenSSL reason of a TLS failure (e.g. 'certificate verify failed'), without paths."""
    import re

    found = re.search(r"\[SSL: [A-Z_]+\] ([^(]+)", str(exc)) or re.search(r"(certificate verify failed[^)'\"]*)", str(exc))
    return found.group(1).strip() if found else type(exc).__name__
