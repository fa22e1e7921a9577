"""The pieces the inbound server is built from, each with inputs that vary (hypothesis): the
depth-limited JSON parse, record keys, Standard Webhooks verification, SCIM filters and PATCH,
and Koppel's SCIM attribute definitions against RFC 7643's own schema files."""

from __future__ import annotations

import base64
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.engine.inbound import scim_filter, scim_patch
from runtime.engine.inbound.body import Refusal, depth_exceeds, parse_json, record_key
from runtime.engine.inbound.scim_schema import (
    ENTERPRISE,
    GROUP,
    PATCH_OP,
    SCHEMAS,
    USER,
    clean,
)

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                           max_leaves=20)


def nest(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@given(st.integers(min_value=1, max_value=200))
def test_depth_is_refused_exactly_past_the_limit(depth):
    if depth <= 32:
        assert parse_json(nest(depth - 1) if depth > 1 else b"{}") is not None
    else:
        with pytest.raises(Refusal) as refused:
            parse_json(nest(depth))
        assert (refused.value.status, refused.value.detail) == (400, "the JSON is nested deeper than 32 levels")


def test_a_hundred_thousand_levels_are_a_400_not_a_recursion_error():
    for body in (b"[" * 100_000, b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000):
        with pytest.raises(Refusal) as refused:
            parse_json(body)
        assert refused.value.status == 400


@given(json_values)
def test_any_json_parses_back_to_itself_within_the_depth(value):
    body = json.dumps(value).encode()
    if depth_exceeds(value, 32):
        with pytest.raises(Refusal):
            parse_json(body)
    elif not body.strip():
        pytest.skip("empty")
    else:
        assert parse_json(body) == value


@given(st.one_of(st.dictionaries(st.text(max_size=2), st.integers(), max_size=2), st.lists(st.integers(), max_size=2),
                 st.booleans(), st.floats(allow_nan=False)))
def test_a_key_that_is_not_text_or_an_integer_is_refused(value):
    with pytest.raises(Refusal) as refused:
        record_key(value, "aanmeldId")
    assert refused.value.status in (400, 422)


@given(st.text(min_size=1, max_size=500) | st.integers())
def test_a_text_or_integer_key_is_kept_as_text(value):
    assert record_key(value, "k") == str(value)


@settings(max_examples=30, deadline=None)
@given(body=st.binary(min_size=1, max_size=200), tamper=st.binary(min_size=1, max_size=5),
       age=st.integers(-900, 900).filter(lambda a: not 295 <= abs(a) <= 305))  # clear of the 300 s edge
def test_standard_webhooks_accepts_exactly_the_signed_fresh_bytes(body, tamper, age):
    from runtime.engine.inbound_auth import StandardWebhooks
    from sandbox.rest.webhooks import standard_webhook_headers

    key = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    verifier = StandardWebhooks(key, 300)
    try:
        body.decode()
    except UnicodeDecodeError:
        return  # the standard signs text; such a body cannot be signed by a sender at all
    headers = standard_webhook_headers(key, body, timestamp=time.time() - age)
    fresh = abs(age) < 295
    assert verifier.headers_ok(headers) is fresh  # a stale call is refused before its body is read
    assert verifier.body_ok(headers, body) is fresh  # and the library refuses it too
    assert verifier.body_ok(headers, body + tamper) is False
    assert verifier.message_id(headers, body) == headers["webhook-id"]


# -- SCIM ------------------------------------------------------------------------------------

RESOURCES = [
    {"id": "P1", "userName": "Emma.Jansen", "displayName": "Emma Jansen", "active": True,
     "emails": [{"value": "e@kw1c.nl", "type": "work"}], ENTERPRISE: {"employeeNumber": "S1"}},
    {"id": "P2", "userName": "daan", "displayName": "Daan de Vries", "active": False, "emails": []},
]


@pytest.mark.parametrize("expression, ids", [
    ('userName eq "emma.jansen"', ["P1"]),
    ('USERNAME EQ "EMMA.JANSEN"', ["P1"]),
    ('displayName co "de"', ["P2"]),
    ('userName sw "d" and active eq false', ["P2"]),
    ('userName eq "daan" or emails.value eq "e@kw1c.nl"', ["P1", "P2"]),
    ('not (userName eq "daan")', ["P1"]),
    ("emails pr", ["P1"]),
    (f'{ENTERPRISE}:employeeNumber eq "S1"', ["P1"]),
    (f'{USER}:userName eq "daan"', ["P2"]),
    ('emails[type eq "work"]', None),
])
def test_scim_filters(expression, ids):
    if ids is None:
        with pytest.raises(Refusal) as refused:
            scim_filter.parse(expression)
        assert refused.value.scim_type == "invalidFilter"
        return
    matches = scim_filter.parse(expression).matches
    assert [r["id"] for r in RESOURCES if matches(r)] == ids


@given(st.text(max_size=60))
def test_any_filter_text_parses_or_is_invalid_filter(text):
    try:
        scim_filter.parse(text).matches(RESOURCES[0])
    except Refusal as refused:
        assert (refused.status, refused.scim_type) == (400, "invalidFilter")


def test_the_plain_equalities_are_handed_to_the_sql():
    assert scim_filter.parse('userName eq "a" and externalId eq "P1"').required_equals == {"username": "a",
                                                                                         "externalid": "P1"}
    assert scim_filter.parse('userName eq "a" or externalId eq "P1"').required_equals == {}


def patch(*operations) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def test_patch_operations_on_users_and_groups():
    user = {"schemas": [USER], "userName": "emma", "emails": [{"value": "a@x.nl", "type": "home"}],
            "name": {"givenName": "Emma"}}
    done = scim_patch.apply("User", user, patch(
        {"op": "add", "path": 'emails[type eq "work"].value', "value": "w@x.nl"},
        {"op": "replace", "path": "name.familyName", "value": "Jansen"},
        {"op": "remove", "path": 'emails[type eq "home"]'},
        {"op": "replace", "value": {"displayName": "Emma J", "active": "False"}},
        {"op": "add", "path": f"{ENTERPRISE}:employeeNumber", "value": "S1"}))
    assert done == {"schemas": [USER, ENTERPRISE], "userName": "emma", "emails": [{"type": "work", "value": "w@x.nl"}],
                    "name": {"givenName": "Emma", "familyName": "Jansen"}, "displayName": "Emma J", "active": False,
                    ENTERPRISE: {"employeeNumber": "S1"}}
    assert user["emails"] == [{"value": "a@x.nl", "type": "home"}]  # the input is not changed
    group = {"schemas": [GROUP], "displayName": "r", "members": [{"value": "P1"}, {"value": "P2"}]}
    entra = scim_patch.apply("Group", group, patch({"op": "remove", "path": "members", "value": [{"value": "P1"}]},
                                                   {"op": "add", "path": "members", "value": [{"value": "P3"}]}))
    assert entra["members"] == [{"value": "P2"}, {"value": "P3"}]


@given(st.lists(st.fixed_dictionaries({"op": st.sampled_from(["add", "replace", "remove", "Add", "bogus"]),
                                       "path": st.sampled_from(["userName", "emails", "name.givenName", "members",
                                                                'emails[type eq "work"].value', "x[", "", "active"]),
                                       "value": json_values}), min_size=1, max_size=4))
def test_any_patch_gives_a_resource_or_a_scim_400(operations):
    user = {"schemas": [USER], "userName": "emma", "emails": [{"value": "a@x.nl", "type": "work"}]}
    try:
        result = clean("User", scim_patch.apply("User", user, patch(*operations)))
    except Refusal as refused:
        assert refused.status == 400 and refused.scim_type in ("invalidSyntax", "invalidValue", "invalidPath",
                                                              "noTarget", "invalidFilter")
        return
    assert result["schemas"][0] == USER and isinstance(result["userName"], str)


@given(st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=6))
def test_clean_keeps_only_what_the_schemas_define(extra):
    resource = {"schemas": [USER], "userName": "emma", **{k: v for k, v in extra.items() if k.lower() != "username"}}
    try:
        kept = clean("User", resource)
    except Refusal as refused:
        assert refused.status == 400 and refused.scim_type == "invalidValue"
        return
    known = {a.name for a in SCHEMAS[USER]} | {"schemas", "externalId"}
    assert set(kept) <= known and "password" not in kept


def test_koppels_attribute_definitions_are_rfc_7643s(project_root):
    from runtime.paths import specs_dir

    folder = specs_dir(project_root) / "scim2"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent: the comparison needs RFC 7643's schema files (specs/scim2)")
    files = {USER: "core/User.json", GROUP: "core/Group.json", ENTERPRISE: "extension/Enterprise-User.json"}

    def shape(attrs) -> dict:
        return {a["name"]: (a["type"], a["multiValued"], a["required"], a["mutability"],
                            shape(a.get("subAttributes", []))) for a in attrs}

    def ours(attrs) -> dict:
        return {a.name: (a.type, a.multi, a.required, a.mutability, ours(a.sub)) for a in attrs}

    for urn, name in files.items():
        data = json.loads((folder / name).read_text(encoding="utf-8"))
        data = data[0] if isinstance(data, list) else data
        assert data["id"] == urn
        expected = shape(data["attributes"])
        if urn == GROUP:  # §4.2: displayName REQUIRED, where §8.7.1 says false
            expected["displayName"] = expected["displayName"][:2] + (True,) + expected["displayName"][3:]
        if urn == USER:  # §4.1.2: addresses have primary, which §8.7.1 leaves out
            expected["addresses"][4]["primary"] = ("boolean", False, False, "readWrite", {})
        assert ours(SCHEMAS[urn]) == expected, urn


@pytest.mark.parametrize("signature", ["v1", "v1,!!!not-base64", "v2,c2lnbmF0dXJl", "v1,,", " ", "v1,AAAA v1"])
def test_a_malformed_signature_header_is_refused_not_raised(signature):
    from runtime.engine.inbound_auth import StandardWebhooks

    verifier = StandardWebhooks("whsec_" + base64.b64encode(b"k" * 32).decode(), 300)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(time.time())), "webhook-signature": signature}
    assert verifier.body_ok(headers, b"{}") is False
    assert StandardWebhooks("whsec_" + base64.b64encode(b"k" * 32).decode(), 300).headers_ok(
        {**headers, "webhook-timestamp": "yesterday"}) is False


def test_a_secret_that_is_not_base64_is_a_configuration_error():
    from runtime.engine.inbound_auth import StandardWebhooks
    from runtime.errors import ConfigError

    with pytest.raises(ConfigError, match="the secret must be 'whsec_' followed by base64"):
        StandardWebhooks("whsec_not base64!", 300)
