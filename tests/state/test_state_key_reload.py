"""A reload of the daemon (SIGHUP, --watch) takes the catalog's new state keys, as it takes new
definitions: a rotated-in first key seals from then on and the old one still opens; a key that
does not load keeps the keys and definitions in use."""

from __future__ import annotations

import pytest

from runtime.engine.daemon import Daemon
from runtime.engine.pipeline import Engine
from runtime.engine.state import crypto
from runtime.engine.state.crypto import new_key_text
from runtime.errors import ConfigError
from runtime.project import load_project

OLD = '      - {id: k1, key: "${file:sandbox/secrets/state-key-1}"}\n'


def _daemon(root):
    engine = Engine(load_project(root), environment="sandbox", state_url=f"sqlite:///{root / 'state.db'}")
    return Daemon(engine, scheduler=False, realtime=False), engine


def test_a_reload_rotates_in_the_catalogs_new_key_and_keeps_the_old_one_for_opening(project_copy):
    daemon, engine = _daemon(project_copy)
    try:
        before = crypto.seal({"bsn": "111222333"})
        assert crypto.key_id_of(before) == "k1"
        (project_copy / "sandbox" / "secrets" / "state-key-2").write_text(new_key_text() + "\n")
        catalog = project_copy / "catalog.yaml"
        text = catalog.read_text()
        assert OLD in text
        catalog.write_text(text.replace(OLD, '      - {id: k2, key: "${file:sandbox/secrets/state-key-2}"}\n' + OLD))

        assert daemon.reload() == {}
        after = crypto.seal({"bsn": "111222333"})
        assert crypto.key_id_of(after) == "k2"
        assert crypto.unseal(before) == crypto.unseal(after) == {"bsn": "111222333"}
    finally:
        engine.close()
        crypto.configure(None)


def test_a_reload_with_a_key_that_does_not_load_keeps_the_keys_in_use(project_copy):
    daemon, engine = _daemon(project_copy)
    try:
        catalog = project_copy / "catalog.yaml"
        catalog.write_text(catalog.read_text().replace(
            OLD, '      - {id: k9, key: "${file:sandbox/secrets/no-such-key}"}\n' + OLD))
        with pytest.raises(ConfigError, match=r"^state key k9 \(sandbox\): secret \$\{file:sandbox/secrets/no-such-key\}"):
            daemon.reload()
        assert crypto.key_id_of(crypto.seal({"n": 1})) == "k1"
        assert engine.project.catalog.state.keys["sandbox"][0].id == "k1"  # the definitions in use stay
    finally:
        engine.close()
        crypto.configure(None)
