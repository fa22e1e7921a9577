"""Sealing stored payloads: AES-256-GCM under a key id, the first key seals, every key opens."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.engine.state import crypto
from runtime.engine.state.crypto import Keyring, new_key_text
from runtime.errors import ConfigError

K1, K2 = base64.b64decode(new_key_text()), base64.b64decode(new_key_text())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=60, deadline=None)
@given(json_values)
def test_every_json_value_comes_back_as_it_was_and_the_text_is_tagged_with_its_key(value):
    ring = Keyring((("k1", K1),))
    sealed = ring.seal(value)
    assert sealed.startswith("kp1:k1:")
    assert ring.open(sealed) == json.loads(json.dumps(value))
    assert crypto.key_id_of(sealed) == "k1"


def test_the_plaintext_is_not_in_the_ciphertext_and_two_seals_differ():
    ring = Keyring((("k1", K1),))
    a, b = ring.seal({"bsn": "945807302"}), ring.seal({"bsn": "945807302"})
    assert a != b  # a fresh nonce each time: equal records do not look equal at rest
    assert "945807302" not in a and "945807302" not in base64.b64decode(a.split(":", 2)[2]).decode("latin-1")


def test_the_first_key_seals_and_every_key_opens():
    old = Keyring((("k1", K1),)).seal({"n": 1})
    both = Keyring((("k2", K2), ("k1", K1)))
    assert both.open(old) == {"n": 1}
    assert both.seal({"n": 2}).startswith("kp1:k2:")


def test_a_missing_key_is_a_configuration_error_naming_its_id():
    sealed = Keyring((("k1", K1),)).seal({"n": 1})
    with pytest.raises(ConfigError, match=r"state key k1 is needed .* \(keys there: k2\)"):
        Keyring((("k2", K2),)).open(sealed)


def test_a_wrong_key_under_the_same_id_is_a_configuration_error_not_a_crash():
    sealed = Keyring((("k1", K1),)).seal({"n": 1})
    with pytest.raises(ConfigError, match="state key k1: a stored payload does not decrypt with it"):
        Keyring((("k1", K2),)).open(sealed)


def test_a_damaged_or_relabelled_ciphertext_does_not_open():
    ring = Keyring((("k1", K1), ("k2", K1)))  # the same bytes under two ids: the id is authenticated
    sealed = ring.seal({"n": 1})
    relabelled = sealed.replace("kp1:k1:", "kp1:k2:")
    with pytest.raises(ConfigError, match="state key k2: a stored payload does not decrypt"):
        ring.open(relabelled)
    blob = bytearray(base64.b64decode(sealed.split(":", 2)[2]))
    blob[-1] ^= 1
    with pytest.raises(ConfigError, match="does not decrypt"):
        ring.open("kp1:k1:" + base64.b64encode(bytes(blob)).decode())
    with pytest.raises(ConfigError, match="does not decrypt"):
        ring.open("kp1:k1:not base64!")


def test_without_a_keyring_values_are_stored_plainly_and_a_sealed_one_is_refused_by_name():
    crypto.configure(None)
    assert crypto.seal({"a": 1}) == {"a": 1}
    sealed = Keyring((("k1", K1),)).seal({"a": 1})
    with pytest.raises(ConfigError, match=r"encrypted under state key k1, but catalog\.yaml has no state\.keys"):
        crypto.unseal(sealed)


def test_plain_rows_from_before_encryption_still_read():
    crypto.configure(Keyring((("k1", K1),)))
    assert crypto.unseal({"id": "s1"}) == {"id": "s1"}
    assert crypto.unseal("a text body") == "a text body"
    assert crypto.seal(None) is None


@pytest.mark.parametrize(("keys", "message"), [
    ((), "at least one key"),
    ((("k1", b"short"),), "state key k1: must be 32 bytes .* decodes to 5 bytes"),
    ((("bad id", K1),), "state key id 'bad id'"),
])
def test_a_bad_keyring_says_which_key_and_what_is_wrong(keys, message):
    with pytest.raises(ConfigError, match=message):
        Keyring(keys)


def test_a_key_from_the_catalog_that_is_not_base64_names_the_key_not_the_value(tmp_path):
    from runtime.models.catalog import Catalog

    (tmp_path / "key").write_text("this is not base64 at all!!")
    catalog = Catalog.model_validate({"college": "t", "source": "t", "interfaces": [], "systems": {},
                                      "state": {"keys": {"sandbox": [{"id": "k9", "key": "${file:key}"}]}}})
    with pytest.raises(ConfigError) as caught:
        crypto.keyring_from(catalog, "sandbox", tmp_path)
    assert str(caught.value) == "state key k9: not base64 (make one with `koppel state new-key`)"
    assert crypto.keyring_from(catalog, "productie", tmp_path) is None


def test_the_project_catalog_names_a_sandbox_key_that_loads(project_root):
    from runtime.project import load_project

    project = load_project(project_root)
    ring = crypto.keyring_from(project.catalog, "sandbox", project.root)
    assert ring is not None and ring.current == "k1"
    assert ring.open(ring.seal({"ok": True})) == {"ok": True}
