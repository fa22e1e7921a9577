"""Signing in with a local account: the cookie's flags, a new session on sign-in, no open
redirect after it, and the lockout after repeated wrong passwords."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runtime.console.auth import LOCKOUT, MAX_FAILURES, LocalAccounts, load_accounts
from runtime.console.guard import safe_next
from runtime.errors import ConfigError
from sandbox.console_users import SANDBOX_LOGINS

ROOT = Path(__file__).resolve().parents[2]
USERS = ROOT / "sandbox" / "secrets" / "console-users.yaml"


def _token(client) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/ui/login").text).group(1)


def test_sign_in_gives_a_new_signed_http_only_session_and_no_open_redirect(client):
    before = _token(client)
    response = client.post("/ui/login", data={"csrf": before, "name": "operator", "next": "//evil.example/x",
                                              "password": SANDBOX_LOGINS["operator"][1]}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/ui/")
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("koppel_console=") and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # the sandbox is http://127.0.0.1 (secure_cookies: false); see the OIDC test
    after = re.search(r'name="csrf" value="([^"]+)"', client.get("/ui/").text).group(1)
    assert after != before  # the session (and its token) are new after sign-in
    client.post("/ui/logout", data={"csrf": after})
    assert client.get("/ui/", headers={"accept": "application/json"}).status_code == 401


@pytest.mark.parametrize(("asked", "went"), [("/ui/audit", "/ui/audit"), ("https://evil.example/ui/", "/ui/"),
                                             ("//evil.example", "/ui/"), ("/ui/\\evil", "/ui/"), ("", "/ui/"),
                                             ("/other", "/ui/")])
def test_after_sign_in_only_a_page_of_the_console_is_followed(asked, went):
    assert safe_next(asked, "/ui") == went


def test_after_five_wrong_passwords_a_name_is_locked_for_a_while_even_with_the_right_one():
    now = [1000.0]
    accounts = LocalAccounts(USERS, clock=lambda: now[0])
    right = SANDBOX_LOGINS["viewer"][1]
    for _ in range(MAX_FAILURES):
        assert accounts.sign_in("viewer", "wrong") is None
    assert accounts.locked("viewer") and not accounts.locked("operator")
    assert accounts.sign_in("viewer", right) is None
    now[0] += LOCKOUT + 1
    signed = accounts.sign_in("viewer", right)
    assert (signed.name, signed.role) == ("viewer", "viewer")


def test_the_sandbox_users_file_holds_hashes_of_the_printed_passwords_only():
    text = USERS.read_text(encoding="utf-8")
    accounts = {a.name: a for a in load_accounts(USERS)}
    assert {n: a.role for n, a in accounts.items()} == {n: role for n, (role, _) in SANDBOX_LOGINS.items()}
    for _, password in SANDBOX_LOGINS.values():
        assert password not in text
    assert all(a.password_hash.startswith("$argon2id$") for a in accounts.values())


def test_a_users_file_with_a_plain_password_is_refused_naming_the_place(tmp_path):
    path = tmp_path / "users.yaml"
    path.write_text("users:\n  - name: anne\n    role: operator\n    password_hash: geheim\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"users.yaml: users.0.password_hash: String should match pattern"):
        load_accounts(path)
    path.write_text("users:\n  - name: anne\n    role: admin\n    password_hash: '$argon2id$x'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"users.0.role: Input should be 'viewer' or 'operator'"):
        load_accounts(path)
