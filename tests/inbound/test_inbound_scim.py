"""SCIM 2.0 on Koppel's server (interfaces 1 and 3 of the project, real mappings, a real SIS
store, uvicorn on 127.0.0.1): checked before 201, answered from the SIS, PATCH, filters, and a
DELETE that closes the account and never deletes a person, student or staff member."""

from __future__ import annotations

import contextlib

import httpx
import pytest
from inbound_helpers import (
    ENTERPRISE,
    GROUP,
    PATCH_OP,
    ROOT,
    SCIM,
    USER,
    ThreadServer,
    make_sis,
    query,
    secret,
)


@pytest.fixture(scope="module")
def project():
    from runtime.project import load_project

    return load_project(ROOT)  # problems elsewhere in the definitions do not concern these interfaces


@contextlib.contextmanager
def running_college(project, tmp, monkeypatch):
    """Koppel's server on a fresh SIS and state; a client with the IAM's token and helpers."""
    from runtime.engine import Engine
    from runtime.engine.server import create_app

    sis_url = f"sqlite:///{tmp / 'sis.db'}"
    monkeypatch.setenv("KOPPEL_SIS_URL", sis_url)
    monkeypatch.setenv("KOPPEL_VAR_DIR", str(tmp / "var"))
    make_sis(sis_url)
    engine = Engine(project, environment="sandbox", state_url=f"sqlite:///{tmp / 'state.db'}")
    with ThreadServer(create_app(engine)) as server:
        client = httpx.Client(base_url=server.url + SCIM, timeout=10,
                              headers={"Authorization": "Bearer " + secret("iam-scim-token"),
                                       "Content-Type": "application/scim+json"})
        client.engine, client.sis_url = engine, sis_url
        client.sql = lambda statement, **p: query(sis_url, statement, **p)
        client.inbox = lambda: [(i, k, op, _opened(b)) for i, k, op, b in query(
            engine.state_url, "SELECT interface_id, key, operation, body FROM koppel_inbox ORDER BY id")]
        yield client
        client.close()
    engine.close()


def _opened(body):
    """A stored inbox body as the readers see it: sealed at rest (runtime/engine/state/crypto.py)."""
    import json

    from runtime.engine.state import crypto

    value = json.loads(body) if isinstance(body, str) else body
    assert crypto.is_sealed(value), "an inbox body is stored in plain text"
    return crypto.unseal(value)


@pytest.fixture
def college(project, tmp_path, monkeypatch):
    with running_college(project, tmp_path, monkeypatch) as client:
        yield client


@pytest.fixture(scope="module")
def refusing(project, tmp_path_factory):
    """One server for the tests of calls that must be refused: they store nothing, so they can share it."""
    monkeypatch = pytest.MonkeyPatch()
    with running_college(project, tmp_path_factory.mktemp("refusing"), monkeypatch) as client:
        yield client
    monkeypatch.undo()


def user(number: str = "P100001", account: str = "s100001", **extra) -> dict:
    return {"schemas": [USER, ENTERPRISE], "externalId": number, "userName": account,
            "name": {"givenName": "Emma", "familyName": "Jansen"}, "displayName": "Emma Jansen", "active": True,
            "emails": [{"value": f"{account}@student.kw1c.nl", "type": "work", "primary": True}],
            ENTERPRISE: {"employeeNumber": "S100001", "organization": "KW1C"}, **extra}


def error_of(response: httpx.Response) -> dict:
    assert response.headers["content-type"].startswith("application/scim+json"), response.headers
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == str(response.status_code)
    return body


def provision(college, *users: dict) -> None:
    for resource in users:
        assert college.post("/Users", json=resource).status_code == 201
    summary = college.engine.run_interface(3, "webhook")
    assert (summary.dead, summary.outcome) == (0, "ok"), summary


def test_a_user_without_username_is_400_invalid_value_and_nothing_is_stored(refusing):
    broken = {k: v for k, v in user().items() if k != "userName"}
    response = refusing.post("/Users", json=broken)
    assert response.status_code == 400
    assert error_of(response) | {} == {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400",
                                       "scimType": "invalidValue", "detail": "userName: required"}
    assert refusing.inbox() == []


@pytest.mark.parametrize("change, detail", [
    ({"emails": {"value": "x@y.nl"}}, "emails: multi-valued, must be a list"),
    ({"active": "yes"}, "active: must be boolean"),
    ({"name": "Emma"}, "name: must be an object"),
    ({"emails": [{"value": "a@b.nl", "primary": True}, {"value": "c@d.nl", "primary": True}]},
     "emails: at most one value may be primary"),
    ({"schemas": [GROUP]}, f"schemas: must list {USER}"),
    ({"externalId": None}, "externalId: required"),
    ({"externalId": "P999999"}, "externalId: no person P999999 in the SIS"),
    ({ENTERPRISE: "KW1C"}, f"{ENTERPRISE}: must be an object"),
    # what the SIS would refuse after a 201 (the interface's mappings and their contracts)
    ({"userName": "Emma Jansen"}, ("the SIS cannot take this resource (mapping scim-gebruiker-naar-persoon): "
                                  "account_name: does not match the pattern")),
    ({"emails": [{"value": "emma@", "type": "work", "primary": True}]},
     "the SIS cannot take this resource (mapping scim-gebruiker-naar-persoon): email_school: does not match"),
])
def test_a_user_with_a_wrong_value_is_400_invalid_value(refusing, change, detail):
    response = refusing.post("/Users", json=user() | change)
    assert response.status_code == 400, response.text
    body = error_of(response)
    assert (body["scimType"], body["detail"][:len(detail)]) == ("invalidValue", detail)
    assert refusing.inbox() == []


@pytest.mark.parametrize("body, content_type, status, scim_type", [
    (b"[" * 100_000, "application/scim+json", 400, "invalidSyntax"),
    (b"", "application/scim+json", 400, "invalidSyntax"),
    (b"[]", "application/scim+json", 400, "invalidSyntax"),
    (b'{"userName": "x"', "application/json", 400, "invalidSyntax"),
    (b'{"userName": "x"}', "text/plain", 415, None),
    (b"x" * 5_000_001, "application/scim+json", 413, None),
])
def test_a_body_that_is_no_resource_is_refused_with_a_scim_error(refusing, body, content_type, status, scim_type):
    response = refusing.post("/Users", content=body, headers={"Content-Type": content_type})
    assert response.status_code == status
    assert error_of(response).get("scimType") == scim_type
    assert refusing.inbox() == []


def test_without_the_token_nothing_is_read_or_answered(refusing):
    anonymous = {"Authorization": "Bearer wrong"}
    assert refusing.post("/Users", json=user(), headers=anonymous).status_code == 401
    assert refusing.get("/Users", headers=anonymous).status_code == 401
    assert refusing.get("/Users/P100001", headers=anonymous).status_code == 401
    assert refusing.delete("/Users/P100001", headers=anonymous).status_code == 401
    assert refusing.get("/ServiceProviderConfig", headers=anonymous).status_code == 401
    assert refusing.inbox() == []


def test_unknown_attributes_and_the_password_are_neither_stored_nor_echoed(college):
    resource = user(password="Geheim123!", favouriteColour="blue", id="chosen-by-client",
                    meta={"resourceType": "Hacked"}, groups=[{"value": "admins"}])
    resource["urn:example:custom:2.0:User"] = {"badge": 7}
    resource["schemas"].append("urn:example:custom:2.0:User")
    resource["name"]["nickname"] = "Em"  # not a sub-attribute of name
    response = college.post("/Users", json=resource)
    assert response.status_code == 201
    echoed = response.json()
    assert response.headers["location"].endswith("/scim/v2/Users/P100001")
    assert echoed["id"] == "P100001" and echoed["meta"]["resourceType"] == "User"
    for gone in ("password", "favouriteColour", "groups", "urn:example:custom:2.0:User"):
        assert gone not in echoed
    assert echoed["schemas"] == [USER, ENTERPRISE]
    assert echoed["name"] == {"givenName": "Emma", "familyName": "Jansen"}
    [(iid, key, op, stored)] = college.inbox()
    assert (iid, key, op) == (3, "P100001", "upsert")
    text = str(stored)
    assert "Geheim123!" not in text and "favouriteColour" not in text and "badge" not in text and "Hacked" not in text


def test_a_provisioned_user_is_found_by_id_and_by_filter(college):
    provision(college, user(), user("P200001", "f.elamrani", displayName="Fatima El Amrani"))
    assert college.sql("SELECT person_number, account_name, email_school FROM person WHERE account_name IS NOT NULL "
                       "ORDER BY 1") == [("P100001", "s100001", "s100001@student.kw1c.nl"),
                                         ("P200001", "f.elamrani", "f.elamrani@student.kw1c.nl")]
    found = college.get("/Users/P100001").json()
    assert (found["id"], found["userName"], found["active"], found["displayName"]) == ("P100001", "s100001", True,
                                                                                        "Emma Jansen")
    assert found["emails"] == [{"value": "s100001@student.kw1c.nl", "type": "work", "primary": True}]
    assert "bsn" not in str(found)

    def ids(expression: str, **params) -> list[str]:
        response = college.get("/Users", params={"filter": expression, **params})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
        assert body["itemsPerPage"] == len(body["Resources"])
        return [r["id"] for r in body["Resources"]]

    assert ids('userName eq "S100001"') == ["P100001"]  # userName is caseExact false
    assert ids('externalId eq "P200001"') == ["P200001"]
    assert ids('displayName eq "Fatima El Amrani"') == ["P200001"]
    assert ids('emails.value eq "s100001@student.kw1c.nl"') == ["P100001"]
    assert ids('userName sw "s1" or userName eq "f.elamrani"') == ["P100001", "P200001"]
    assert ids('userName eq "nobody"') == []
    assert ids('externalId eq "P300001"') == []  # a person without an account is no User
    assert ids("userName pr", startIndex="2", count="1") == ["P200001"]
    response = college.get("/Users", params={"filter": 'userName eq'})
    assert response.status_code == 400 and error_of(response)["scimType"] == "invalidFilter"
    assert college.get("/Users/P300001").status_code == 404


def test_a_second_post_for_the_same_person_or_account_is_409_uniqueness(college):
    provision(college, user())
    again = college.post("/Users", json=user())
    assert again.status_code == 409 and error_of(again)["scimType"] == "uniqueness"
    taken = college.post("/Users", json=user("P100002", "s100001"))
    assert taken.status_code == 409 and error_of(taken)["detail"] == "userName: another person has this account name"
    assert [k for _, k, _, _ in college.inbox()] == ["P100001"]


def test_put_replaces_and_patch_applies_to_what_the_sis_knows(college):
    provision(college, user())
    assert college.put("/Users/P100001", json=user(account="emma.jansen")).status_code == 200
    patch = {"schemas": [PATCH_OP], "Operations": [
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "emma.jansen@kw1c.nl"},
        {"op": "add", "path": "name.middleName", "value": "Maria"},
        {"op": "remove", "path": "displayName"}]}
    response = college.patch("/Users/P100001", json=patch)
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["emails"] == [{"value": "emma.jansen@kw1c.nl", "type": "work", "primary": True}]
    assert patched["name"]["middleName"] == "Maria" and "displayName" not in patched
    college.engine.run_interface(3, "webhook")
    # the PATCH built on the PUT, stored and not yet applied to the SIS
    assert college.sql("SELECT account_name, email_school FROM person WHERE person_number = 'P100001'") == [
        ("emma.jansen", "emma.jansen@kw1c.nl")]
    for bad, scim_type in ((["not a PatchOp"], "invalidSyntax"),
                           ({"schemas": [PATCH_OP], "Operations": [{"op": "remove"}]}, "noTarget"),
                           ({"schemas": [PATCH_OP], "Operations": [{"op": "move", "path": "x"}]}, "invalidSyntax"),
                           ({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "shoeSize", "value": 9}]},
                            "invalidPath"),
                           ({"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "userName"}]},
                            "invalidValue")):
        response = college.patch("/Users/P100001", json=bad)
        assert (response.status_code, error_of(response).get("scimType")) == (400, scim_type), bad
    assert college.patch("/Users/P300001", json=patch).status_code == 404


def test_active_false_in_a_patch_closes_the_account(college):
    provision(college, user())
    college.sql("INSERT INTO role_assignment (person_number, role, scope, source) VALUES ('P100001', 'wifi', '', 'iam')")
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": "False"}}]}  # Entra's string
    response = college.patch("/Users/P100001", json=patch)
    assert response.status_code == 200 and response.json()["active"] is False
    summary = college.engine.run_interface(3, "webhook")
    assert (summary.read, summary.dead) == (1, 0)
    assert college.sql("SELECT account_name, email_school FROM person WHERE person_number = 'P100001'") == [(None, None)]
    assert college.sql("SELECT role, source FROM role_assignment WHERE person_number = 'P100001'") == [("student", "sis")]


def test_delete_of_a_students_account_closes_it_and_keeps_person_and_student(college):
    provision(college, user(), user("P100002", "s100002"))
    college.sql("INSERT INTO role_assignment (person_number, role, scope, source) VALUES "
                "('P100001', 'studentassistent', '', 'iam'), ('P100002', 'studentassistent', '', 'iam')")
    response = college.delete("/Users/P100001")
    assert (response.status_code, response.content) == (204, b"")
    assert college.inbox()[-1][:3] == (3, "P100001", "delete")
    assert college.get("/Users/P100001").status_code == 404  # deleted, even before the run applies it
    assert college.post("/Users", json=user()).status_code == 201 and college.delete("/Users/P100001").status_code == 204
    summary = college.engine.run_interface(3, "webhook")
    assert (summary.read, summary.dead, summary.outcome) == (3, 0, "ok"), summary
    assert college.sql("SELECT person_number, last_name, account_name, email_school FROM person "
                       "WHERE person_number = 'P100001'") == [("P100001", "Jansen", None, None)]
    assert college.sql("SELECT student_number, person_number FROM student ORDER BY 1") == [
        ("S100001", "P100001"), ("S100002", "P100002")]
    assert college.sql("SELECT staff_number FROM staff") == [("M200001",)]
    assert college.sql("SELECT person_number, role, source FROM role_assignment ORDER BY 1, 2") == [
        ("P100001", "student", "sis"), ("P100002", "studentassistent", "iam")]
    assert college.sql("SELECT account_name FROM person WHERE person_number = 'P100002'") == [("s100002",)]
    gone = college.get("/Users/P100001")
    assert gone.status_code == 404 and error_of(gone)["status"] == "404"
    assert college.delete("/Users/P300001").status_code == 404
    assert college.get("/Users", params={"filter": 'userName eq "s100001"'}).json()["totalResults"] == 0


def test_groups_are_roles_searchable_and_patched(college):
    provision(college, user(), user("P100002", "s100002"))
    group = {"schemas": [GROUP], "externalId": "studentassistent", "displayName": "KW1C rol studentassistent",
             "members": [{"value": "P100001", "type": "User"}]}
    created = college.post("/Groups", json=group)
    assert created.status_code == 201 and created.json()["id"] == "studentassistent"
    assert college.post("/Groups", json={k: v for k, v in group.items() if k != "displayName"}).status_code == 400
    stranger = college.post("/Groups", json=group | {"members": [{"value": "P100001"}, {"value": "P999999"}]})
    assert stranger.status_code == 400 and error_of(stranger)["detail"] == "members: no person P999999 in the SIS"
    spaced = college.post("/Groups", json=group | {"externalId": "rol met spaties"})
    assert spaced.status_code == 400 and "mapping scim-groep-naar-rol" in error_of(spaced)["detail"]
    assert college.engine.run_interface(1, "webhook").dead == 0
    found = college.get("/Groups", params={"filter": 'externalId eq "studentassistent"'}).json()
    assert [(g["id"], [m["value"] for m in g["members"]]) for g in found["Resources"]] == [
        ("studentassistent", ["P100001"])]
    assert college.post("/Groups", json=group).status_code == 409
    patch = {"schemas": [PATCH_OP], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": "P100002"}]},
        {"op": "remove", "path": 'members[value eq "P100001"]'}]}
    response = college.patch("/Groups/studentassistent", json=patch)
    assert response.status_code == 200, response.text
    assert [m["value"] for m in response.json()["members"]] == ["P100002"]
    assert college.engine.run_interface(1, "webhook").dead == 0
    assert college.sql("SELECT person_number FROM role_assignment WHERE role = 'studentassistent'") == [("P100002",)]
    assert college.sql("SELECT count(*) FROM person") == [(4,)]


def test_discovery_endpoints(college):
    config = college.get("/ServiceProviderConfig").json()
    assert (config["patch"]["supported"], config["filter"]["supported"], config["bulk"]["supported"]) == (True, True, False)
    types = college.get("/ResourceTypes").json()
    assert sorted(r["id"] for r in types["Resources"]) == ["Group", "User"]
    schemas = college.get("/Schemas").json()
    assert sorted(s["id"] for s in schemas["Resources"]) == sorted([USER, GROUP, ENTERPRISE])


def test_a_scoped_group_is_found_by_its_external_id(college):
    provision(college, user("P200001", "f.elamrani"))
    group = {"schemas": [GROUP], "externalId": "docent@team:ICT-A", "displayName": "Docenten ICT-A",
             "members": [{"value": "P200001", "type": "User"}]}
    assert college.post("/Groups", json=group).status_code == 201
    assert college.engine.run_interface(1, "webhook").dead == 0
    assert college.sql("SELECT person_number, role, scope, granted_by FROM role_assignment WHERE source = 'iam'") == [
        ("P200001", "docent", "team:ICT-A", "docent@team:ICT-A")]
    found = college.get("/Groups/docent@team:ICT-A")
    assert found.status_code == 200 and [m["value"] for m in found.json()["members"]] == ["P200001"]
    listed = college.get("/Groups", params={"filter": 'displayName eq "DOCENT@TEAM:ICT-A"'}).json()
    assert [g["id"] for g in listed["Resources"]] == ["docent@team:ICT-A"]
    assert college.get("/Groups", params={"filter": 'externalId eq "docent"'}).json()["totalResults"] == 0


def test_delete_of_a_group_revokes_what_that_group_granted_and_nothing_else(college):
    """An IAM that deletes a group expects every right it gave through that group gone; a right to
    the same role given through another group, or by the SIS itself, stays."""
    provision(college, user(), user("P100002", "s100002"))
    team_a = {"schemas": [GROUP], "externalId": "docent@team:ICT-A", "displayName": "Docenten ICT-A",
              "members": [{"value": "P100001", "type": "User"}, {"value": "P100002", "type": "User"}]}
    team_b = team_a | {"externalId": "docent@team:ICT-B", "displayName": "Docenten ICT-B",
                       "members": [{"value": "P100002", "type": "User"}]}
    assert college.post("/Groups", json=team_a).status_code == 201
    assert college.post("/Groups", json=team_b).status_code == 201
    assert college.engine.run_interface(1, "webhook").dead == 0
    own = "SELECT person_number, role, scope FROM role_assignment WHERE source = 'sis' ORDER BY 1, 2"
    sis_roles = college.sql(own)
    assert sis_roles  # the students' own role, which no group gave
    granted = "SELECT person_number, role, scope, granted_by FROM role_assignment WHERE source = 'iam' ORDER BY 1, 4"
    assert college.sql(granted) == [("P100001", "docent", "team:ICT-A", "docent@team:ICT-A"),
                                    ("P100002", "docent", "team:ICT-A", "docent@team:ICT-A"),
                                    ("P100002", "docent", "team:ICT-B", "docent@team:ICT-B")]

    response = college.delete("/Groups/docent@team:ICT-A")
    assert (response.status_code, response.content) == (204, b"")
    summary = college.engine.run_interface(1, "webhook")
    assert (summary.dead, summary.outcome) == (0, "ok"), summary
    assert college.sql(granted) == [("P100002", "docent", "team:ICT-B", "docent@team:ICT-B")]
    assert college.sql(own) == sis_roles
    assert college.get("/Groups/docent@team:ICT-A").status_code == 404
    assert college.get("/Groups/docent@team:ICT-B").status_code == 200
    assert college.delete("/Groups/docent@team:ICT-Z").status_code == 404
