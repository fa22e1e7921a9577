"""The console in a real browser: Playwright driving Debian's headless Chromium (never a browser
of Playwright's own: the executable path is set; .ci/install-chromium.sh installs it). One
browser for the session; each test saves a screenshot of every page it visits under its tmp
dir (``artefacts/``). Skips, saying so, without /usr/bin/chromium (or KOPPEL_CHROMIUM)."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest

from sandbox.console_users import SANDBOX_LOGINS
from tests.liveserver import AppServer as Server

CHROMIUM = os.environ.get("KOPPEL_CHROMIUM", "/usr/bin/chromium")

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"no Chromium at {CHROMIUM} (.ci/install-chromium.sh installs Debian's)")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ["--no-sandbox"]}


@pytest.fixture(scope="module")
def console_url(console_college):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Server(console_college.app, port):
        yield f"http://127.0.0.1:{port}/ui"


@pytest.fixture
def shots(tmp_path):
    folder = tmp_path / "artefacts"
    folder.mkdir()

    def shot(page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shot


def sign_in(page, console_url: str, name: str) -> None:
    page.goto(f"{console_url}/deadletters")
    assert page.url.startswith(f"{console_url}/login?next=")  # no session: sent to sign in
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", SANDBOX_LOGINS[name][1])
    page.click("button[type=submit]")
    page.wait_for_url(f"{console_url}/deadletters")  # and back where they were going


def test_an_operator_signs_in_and_sees_every_interface(page, console_url, console_college, shots):
    page.goto(console_url + "/")
    shots(page, "sign-in")
    sign_in(page, console_url, "operator")
    page.goto(console_url + "/")
    rows = page.locator("#interfaces tbody tr")
    assert rows.count() == len(console_college.engine.project.interfaces) == 28
    row = page.locator("#interfaces tr[data-interface='11']")
    assert "Status aanmeldingen naar Intergrip" in row.inner_text()
    assert row.get_attribute("class") in ("green", "amber")
    assert page.locator("header .who span").inner_text() == "operator · operator · sandbox"
    shots(page, "overview")


def test_a_students_change_is_followed_through_the_lineage_search(page, console_url, console_college, shots):
    aid = console_college.delivered[0]
    sign_in(page, console_url, "viewer")
    page.goto(console_url + "/lineage")
    page.fill("input[name=q]", aid)
    page.click("form.filters button")
    page.wait_for_selector("#lineage")
    cells = page.locator("#lineage tbody tr").first.locator("td").all_inner_texts()
    assert cells[1:3] == ["11", "intergrip"] and cells[4] == aid and cells[6] == "delivered"
    assert cells[5].startswith("intergrip-status@")
    shots(page, "lineage")
    page.locator("#lineage tbody tr").first.locator("td a").nth(1).click()  # its run
    assert re.search(r"/runs/\d+$", page.url)
    assert aid in page.locator("main table").inner_text()
    shots(page, "run")


def test_a_dead_letter_is_replayed_with_a_reason_and_shows_in_the_audit_trail(page, console_url, console_college, shots):
    aid = console_college.change(refuse=True)
    did = console_college.dead_letter_of(aid)
    sign_in(page, console_url, "operator")
    page.goto(f"{console_url}/deadletters?interface=11")
    row = page.locator(f"tr[data-dead-letter='{did}']")
    assert "HTTP 422" in row.inner_text()
    shots(page, "dead-letters")
    row.locator("input[type=checkbox]").check()
    page.fill("fieldset.actions input[name=reason]", "Intergrip fixed their status list (ticket 4711)")
    page.click("fieldset.actions button:has-text('Replay')")
    page.wait_for_selector(".notice")
    assert f"{did}: delivered" in page.locator(".notice").inner_text()
    shots(page, "replayed")
    page.click("header nav a:has-text('Audit trail')")
    first = page.locator("#audit tbody tr").first.locator("td").all_inner_texts()
    assert first[1:6] == ["operator", "operator", "replay", "11", f"dead letter(s) {did}"]
    assert first[6:] == ["Intergrip fixed their status list (ticket 4711)", "1 delivered"]
    shots(page, "audit")
    assert console_college.engine.store.dead_letter(did)["status"] == "replayed"


def test_a_viewer_is_refused_every_action(page, console_url, console_college, shots):
    aid = console_college.change(refuse=True)
    did = console_college.dead_letter_of(aid)
    sign_in(page, console_url, "viewer")
    page.goto(f"{console_url}/interfaces/11")
    assert page.locator("button:has-text('Run now')").count() == 0
    page.goto(f"{console_url}/deadletters/{did}")
    assert page.locator("button:has-text('Replay')").count() == 0
    shots(page, "viewer-dead-letter")
    # the forms are not offered; a viewer who posts one anyway (with the page's own token) is refused
    token = page.evaluate("() => document.querySelector('input[name=csrf]').value")
    answer = page.evaluate("""async ([url, token, id]) => {
        const body = new URLSearchParams({csrf: token, id: id, reason: "I want to"});
        const r = await fetch(url, {method: "POST", body});
        return [r.status, await r.text()];
    }""", [f"{console_url}/deadletters/replay", token, str(did)])
    assert answer == [403, "refused: viewer is a viewer; running, replaying and discarding need the operator role"]
    assert console_college.engine.store.dead_letter(did)["status"] == "open"
