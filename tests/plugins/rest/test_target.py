"""Writing: multi-step deliveries (Signhost), bodies, batches, OpenAPI checks and dry-run."""

from __future__ import annotations

import pytest

from plugins.rest import plugin
from runtime import paths
from runtime.errors import ContractError, RecordError
from runtime.plugin import Item

from .conftest import ROOT, context

SPECS = paths.specs_dir(ROOT)


def _target(url: str, **spec):
    model = plugin.target_spec.model_validate({"type": "rest", **spec})
    return plugin.create_target(model, context(url))


def _items(*payloads) -> list[Item]:
    return [Item(key=f"k{n}", payload=p, source_key=f"s{n}") for n, p in enumerate(payloads)]


@pytest.fixture
def signhost(peer):
    """Signhost's three calls: create the transaction, PUT the PDF, start."""
    state = {"n": 0, "files": {}}

    @peer.route("POST", "/api/transaction")
    def create(request):
        body = request.json()
        if not body.get("Signers"):
            return 400, {"Message": "At least one signer is required when Seal is false"}
        state["n"] += 1
        return 200, {"Id": f"tx-{state['n']}", "Status": 5, "Reference": body.get("Reference")}

    def upload(request):
        state["files"][request.path] = (request.headers["content-type"], request.body)
        return 201, None

    def start(request):
        return 204, None

    for n in (1, 2, 3):
        peer.route("PUT", f"/api/transaction/tx-{n}/file/onderwijsovereenkomst.pdf")(upload)
        peer.route("PUT", f"/api/transaction/tx-{n}/start")(start)
    peer.state = state
    return peer


STEPS = [
    {"method": "POST", "path": "transaction", "body": "transaction", "save": {"transaction_id": "Id"}},
    {"method": "PUT", "path": "transaction/{transaction_id}/file/{file_name}", "file": "file", "content_type": "application/pdf"},
    {"method": "PUT", "path": "transaction/{transaction_id}/start"},
]


def _signing(tmp_path, signers=True, reference="OOK-1") -> dict:
    pdf = tmp_path / f"{reference}.pdf"
    pdf.write_bytes(b"%PDF-1.7 onderwijsovereenkomst")
    transaction = {"Seal": False, "Reference": reference}
    if signers:
        transaction["Signers"] = [{"Email": "student@example.nl", "SendSignRequest": True}]
    return {"transaction": transaction, "file_name": "onderwijsovereenkomst.pdf", "file": str(pdf)}


def test_signhost_steps_carry_saved_values_and_fail_per_record(signhost, tmp_path) -> None:
    target = _target(f"{signhost.url}/api", steps=STEPS, reference="transaction_id")
    outcomes = target.write(_items(_signing(tmp_path), _signing(tmp_path, signers=False), _signing(tmp_path, reference="OOK-3")))
    assert outcomes[0].ok and outcomes[0].reference == "tx-1"
    assert isinstance(outcomes[1].error, RecordError) and "signer is required" in str(outcomes[1].error)
    assert outcomes[2].reference == "tx-2"
    assert signhost.state["files"]["/api/transaction/tx-1/file/onderwijsovereenkomst.pdf"] == (
        "application/pdf",
        b"%PDF-1.7 onderwijsovereenkomst",
    )
    calls = [(r.method, r.path) for r in signhost.requests]
    assert calls[:3] == [
        ("POST", "/api/transaction"),
        ("PUT", "/api/transaction/tx-1/file/onderwijsovereenkomst.pdf"),
        ("PUT", "/api/transaction/tx-1/start"),
    ]
    assert signhost.requests[0].headers["idempotency-key"] == "k0:1"


@pytest.mark.specs
def test_signhost_steps_checked_against_the_openapi_document(signhost, tmp_path) -> None:
    if not (SPECS / "signhost" / "openapi.yaml").exists():
        pytest.skip(f"the Signhost OpenAPI document is absent ({SPECS}/signhost/openapi.yaml)")
    target = _target(
        f"{signhost.url}/api",
        steps=STEPS,
        reference="transaction_id",
        openapi="${specs}/signhost/openapi.yaml",
        operation="createTransaction",
    )
    bad = _signing(tmp_path)
    bad["transaction"]["Seal"] = "nee"
    bad["transaction"]["DaysToExpire"] = "dertig"
    outcomes = target.write(_items(_signing(tmp_path), bad))
    assert outcomes[0].ok
    error = outcomes[1].error
    assert isinstance(error, ContractError) and error.path in ("Seal", "DaysToExpire")
    assert "nee" not in str(error) and "1 more" in str(error)
    assert len([r for r in signhost.requests if r.method == "POST"]) == 1, "a refused body was sent"


@pytest.mark.specs
def test_ooapi_program_schema(peer) -> None:
    if not (SPECS / "ooapi" / "v5" / "ooapi.yaml").exists():
        pytest.skip(f"the OOAPI v5 document is absent ({SPECS}/ooapi/v5/ooapi.yaml)")
    peer.route("PUT", "/programs/p1")(lambda request: (200, request.json()))
    program = {
        "programId": "123e4567-e89b-12d3-a456-426614174000",
        "programType": "program",
        "name": [{"language": "nl-NL", "value": "Software developer"}],
        "abbreviation": "SD",
        "description": [{"language": "nl-NL", "value": "Niveau 4"}],
        "primaryCode": {"codeType": "crohoCreboCode", "code": "25604"},
        "teachingLanguage": "nld",
    }
    target = _target(peer.url, method="PUT", path="programs/{abbrev}", openapi="${specs}/ooapi/v5/ooapi.yaml", schema_ref="Program")
    outcomes = target.write(_items({**program, "abbrev": "p1"}, {k: v for k, v in program.items() if k != "name"} | {"abbrev": "p1"}))
    # The first fits except for our routing field, which OOAPI's Program allows (no additionalProperties).
    assert outcomes[0].ok, outcomes[0].error
    assert isinstance(outcomes[1].error, ContractError) and "'name' is a required property" in str(outcomes[1].error)


def test_batches_give_each_item_its_reference_and_isolate_a_refused_one(peer) -> None:
    @peer.route("POST", "/bulk")
    def bulk(request):
        rows = request.json()
        if any(r.get("amount", 0) < 0 for r in rows):
            return 422, {"errors": [{"message": "amount must be positive"}]}
        return 200, [{"id": f"X{r['n']}"} for r in rows]

    target = _target(peer.url, path="bulk", batch=3, reference="id")
    payloads = [{"n": n, "amount": -1 if n == 4 else 10} for n in range(7)]
    outcomes = target.write(_items(*payloads))
    assert [o.reference for o in outcomes] == ["X0", "X1", "X2", "X3", None, "X5", "X6"]
    assert isinstance(outcomes[4].error, RecordError) and "positive" in str(outcomes[4].error)
    sizes = [len(r.json()) if isinstance(r.json(), list) else 1 for r in peer.requests]
    assert sizes == [3, 3, 1, 1, 1, 1]  # the refused array is re-sent one by one
    assert peer.requests[0].headers["idempotency-key"] != peer.requests[1].headers["idempotency-key"]


def test_xml_and_form_bodies_and_path_placeholders(peer) -> None:
    seen = []

    def record(request):
        seen.append((request.path, request.headers["content-type"], request.body))
        return 200, "<ok><id>9</id></ok>", {"Content-Type": "application/xml"}

    peer.route("PUT", "/students/a%2Fb")(record)
    peer.route("POST", "/forms")(record)
    xml_target = _target(peer.url, method="PUT", path="students/{student.nr}", body="xml", reference="ok.id")
    outcome = xml_target.write(_items({"student": {"nr": "a/b", "naam": "Eva", "vakken": ["NE", "EN"]}}))[0]
    assert outcome.reference == "9"
    assert seen[0][1].startswith("application/xml")
    assert b"<student><nr>a/b</nr><naam>Eva</naam><vakken>NE</vakken><vakken>EN</vakken></student>" in seen[0][2]
    _target(peer.url, path="forms", body="form").write(_items({"a": "1 2", "b": None}))
    assert seen[1][1] == "application/x-www-form-urlencoded" and seen[1][2] == b"a=1+2"
    missing = _target(peer.url, path="students/{nr}").write(_items({"naam": "x"}))[0]
    assert isinstance(missing.error, RecordError) and missing.error.path == "nr"


def test_render_shows_method_url_body_without_auth_or_bsn(peer, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("T_RENDER_TOKEN", "render-secret-token")
    model = plugin.target_spec.model_validate({"type": "rest", "path": "students/{nr}", "method": "PUT"})
    target = plugin.create_target(model, context(peer.url, auth={"type": "bearer", "token": "${env:T_RENDER_TOKEN}"}))
    text = target.render(Item(key="k1", payload={"nr": "S1", "bsn": "111222333"}, source_key="S1"))
    assert text.splitlines()[0] == f"PUT {peer.url}/students/S1"
    assert "Idempotency-Key: k1" in text and '"nr": "S1"' in text
    assert "Authorization" not in text and "render-secret-token" not in text and "111222333" not in text
    steps = _target(f"{peer.url}/api", steps=STEPS).render(Item(key="k", payload=_signing(tmp_path), source_key="k"))
    assert "# step 3" in steps and "bytes from OOK-1.pdf" in steps
    assert peer.requests == [], "render must not call the peer"


def test_openapi_30_nullable_and_shapes(tmp_path) -> None:
    from plugins.rest import openapi

    document = tmp_path / "api.yaml"
    document.write_text(
        """openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /things:
    post:
      operationId: createThing
      requestBody:
        $ref: '#/components/requestBodies/Thing'
      responses: {"201": {description: ok}}
components:
  requestBodies:
    Thing:
      content:
        application/json:
          schema: {$ref: '#/components/schemas/Thing'}
  schemas:
    Thing:
      type: object
      required: [code]
      properties:
        code: {type: string, nullable: true}
        size: {type: integer, minimum: 0, exclusiveMinimum: true}
        kind:
          oneOf:
            - {type: string, enum: [a]}
            - {type: string, enum: [b]}
"""
    )
    validator = openapi.load(document).validator(operation="createThing")
    assert validator.errors({"code": None, "size": 1, "kind": "a"}) == []
    assert validator.errors({"code": "x", "size": 0}) == [("size", 'violates exclusiveMinimum: 0')]
    assert validator.errors({"code": "x", "kind": "c"}) == [("kind", "matches none of the allowed shapes (oneOf)")]
    assert validator.errors({}) == [("", "'code' is a required property")]


def test_a_missing_file_fails_the_record_before_any_call(signhost, tmp_path) -> None:
    payload = _signing(tmp_path)
    payload["file"] = str(tmp_path / "absent.pdf")
    outcome = _target(f"{signhost.url}/api", steps=STEPS).write(_items(payload))[0]
    assert isinstance(outcome.error, RecordError) and "cannot read the file" in str(outcome.error)
    assert signhost.requests == [], "a transaction was created for a document that cannot be uploaded"


def test_attach_embeds_the_named_file_as_base64_and_leaves_the_path_out(peer, tmp_path) -> None:
    import base64

    (tmp_path / "var" / "documents").mkdir(parents=True)
    pdf = b"%PDF-1.4\n% onderwijsovereenkomst\n%%EOF\n"
    (tmp_path / "var" / "documents" / "ook-1.pdf").write_bytes(pdf)
    seen = []

    @peer.route("POST", "/CreateDocument")
    def create(request):
        seen.append(request.json())
        return 200, {"DocNo": 100 + len(seen), "VersionNo": 1}

    spec = plugin.target_spec.model_validate(
        {"type": "rest", "path": "CreateDocument", "reference": "DocNo",
         "attach": {"field": "Streams", "path": "file_path", "required": True}}
    )
    target = plugin.create_target(spec, context(peer.url, root=tmp_path))
    outcomes = target.write(_items(
        {"CategoryNo": 2, "file_path": "var/documents/ook-1.pdf"},
        {"CategoryNo": 2, "file_path": "var/documents/missing.pdf"},
        {"CategoryNo": 2},
    ))
    assert outcomes[0].ok and outcomes[0].reference == "101"
    assert seen[0] == {"CategoryNo": 2, "Streams": [{"FileName": "ook-1.pdf",
                                                     "FileDataBase64JSON": base64.b64encode(pdf).decode()}]}
    assert isinstance(outcomes[1].error, RecordError) and "cannot read the file" in str(outcomes[1].error)
    assert isinstance(outcomes[2].error, RecordError)  # required, and no file named
    assert len(seen) == 1  # nothing was sent for the records without a file
    shown = target.render(_items({"CategoryNo": 2, "file_path": "var/documents/ook-1.pdf"})[0])
    assert "<38 bytes from ook-1.pdf>" in shown or "bytes from ook-1.pdf" in shown
