"""The console over plain HTTP (Starlette's TestClient on the app koppel serve runs): no session
means sign-in or 401 on every route; a forged form is refused; a viewer may read, not act; an
operator's replay and discard land in the audit trail with who and why; no page shows a BSN."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Mount, Route

from runtime import redact
from runtime.console.guard import KIND
from tests.console.conftest import csrf_of, sign_in

NINE_DIGITS = re.compile(r"(?<!\d)\d{9}(?!\d)")


@pytest.fixture(scope="module")
def letter(console_college) -> str:
    """The id of an open dead letter of this module's own (the refused change of one application)."""
    return str(console_college.dead_letter_of(console_college.change(refuse=True)))


def console_routes(app) -> list[Route]:
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/ui")
    return [r for r in mount.app.routes if isinstance(r, Route)]


def concrete(path: str) -> str:
    return "/ui" + re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_declares_its_kind_and_only_sign_in_is_public(console_college):
    kinds = {(r.path, tuple(sorted(r.methods or []))): getattr(r.endpoint, KIND, None) for r in console_routes(console_college.app)}
    assert None not in kinds.values(), kinds
    public = sorted(path for (path, _), kind in kinds.items() if kind == "public")
    assert public == ["/auth/callback", "/auth/oidc", "/login", "/login"]
    actions = sorted(path for (path, methods), kind in kinds.items() if kind == "action")
    assert actions == ["/deadletters/discard", "/deadletters/replay", "/interfaces/{iid:int}/dry-run",
                       "/interfaces/{iid:int}/run"]


def test_without_a_session_every_page_redirects_to_sign_in_and_every_call_gets_401(console_college, client, letter):
    routes = [r for r in console_routes(console_college.app) if getattr(r.endpoint, KIND) != "public"]
    assert len(routes) == 12
    for route in routes:
        path = concrete(route.path)
        if "GET" in route.methods:
            page = client.get(path, headers={"accept": "text/html"}, follow_redirects=False)
            assert page.status_code == 303, path
            assert page.headers["location"].startswith("/ui/login?next=/ui/"), path
            api = client.get(path, headers={"accept": "application/json"}, follow_redirects=False)
            assert (api.status_code, api.json()["error"]) == (401, "sign in first"), path
        else:
            posted = client.post(path, data={"reason": "x", "id": letter}, headers={"accept": "text/html"},
                                 follow_redirects=False)
            assert posted.status_code == 401, path
    assert console_college.engine.store.dead_letter(int(letter))["status"] == "open"


def test_wrong_password_is_refused_with_the_same_words_as_an_unknown_name(client):
    page = client.get("/ui/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    wrong = client.post("/ui/login", data={"csrf": token, "name": "operator", "password": "nope"})
    unknown = client.post("/ui/login", data={"csrf": token, "name": "nobody", "password": "nope"})
    assert (wrong.status_code, unknown.status_code) == (401, 401)
    assert "wrong name or password" in wrong.text and "wrong name or password" in unknown.text
    assert client.get("/ui/", headers={"accept": "application/json"}).status_code == 401


def test_sign_in_without_the_forms_token_is_refused(client):
    response = client.post("/ui/login", data={"name": "operator", "password": "sandbox-operator-wachtwoord"})
    assert response.status_code == 403
    assert "sign-in form expired" in response.text


def test_a_forged_form_without_the_csrf_token_is_refused_and_changes_nothing(console_college, client, letter):
    sign_in(client, "operator")
    store = console_college.engine.store
    runs_before = len(store.list_runs(limit=1000))
    for path, data in [("/ui/deadletters/discard", {"id": letter, "reason": "forged"}),
                       ("/ui/interfaces/11/run", {"reason": "forged"}),
                       ("/ui/deadletters/replay", {"id": letter, "reason": "forged", "csrf": "guessed"})]:
        response = client.post(path, data=data, follow_redirects=False)
        assert response.status_code == 403, path
        assert "CSRF token is missing or wrong" in response.text
    cross = client.post("/ui/deadletters/discard", data={"id": letter, "reason": "x", "csrf": csrf_of(client)},
                        headers={"origin": "http://evil.example"})
    assert (cross.status_code, cross.text) == (403, "refused: this form was posted from another site")
    assert store.dead_letter(int(letter))["status"] == "open"
    assert len(store.list_runs(limit=1000)) == runs_before


def test_a_viewer_reads_every_page_but_is_refused_every_action(console_college, client, letter):
    sign_in(client, "viewer")
    for path in ["/ui/", "/ui/interfaces/11", "/ui/deadletters", f"/ui/deadletters/{letter}", "/ui/runs/1",
                 "/ui/lineage?q=x", "/ui/audit"]:
        assert client.get(path).status_code == 200, path
    assert "Run now" not in client.get("/ui/interfaces/11").text
    token = csrf_of(client)
    for path in ["/ui/interfaces/11/run", "/ui/interfaces/11/dry-run", "/ui/deadletters/replay",
                 "/ui/deadletters/discard"]:
        response = client.post(path, data={"csrf": token, "id": letter, "reason": "just looking"})
        assert response.status_code == 403, path
        assert response.text.startswith("refused: viewer is a viewer"), response.text
    assert console_college.engine.store.dead_letter(int(letter))["status"] == "open"


def test_replay_and_discard_need_a_reason(console_college, client, letter):
    sign_in(client, "operator")
    token = csrf_of(client)
    for path in ["/ui/deadletters/replay", "/ui/deadletters/discard"]:
        response = client.post(path, data={"csrf": token, "id": letter, "reason": "   "})
        assert response.status_code == 200
        assert "say why: a reason is required" in response.text
    assert console_college.engine.store.dead_letter(int(letter))["status"] == "open"


def test_every_page_after_the_runs_is_free_of_any_bsn_from_the_store(console_college, client, letter):
    sign_in(client, "operator")
    bsns = console_college.bsns()
    assert len(bsns) >= 25  # the seeded college has real-looking BSNs to leak
    stored = console_college.engine.store.dead_letter(int(letter))
    assert stored["record"]["data"]["person"]["bsn"] in bsns  # the stored record does carry one
    token = csrf_of(client)
    pages = [client.get(p).text for p in ["/ui/", "/ui/interfaces/11", "/ui/interfaces/15", "/ui/deadletters",
                                          "/ui/deadletters?status=all", f"/ui/deadletters/{letter}", "/ui/runs/1",
                                          f"/ui/lineage?q={console_college.refused}", "/ui/audit"]]
    pages.append(client.post("/ui/interfaces/11/dry-run", data={"csrf": token, "limit": "5"}).text)
    pages.append(client.post("/ui/interfaces/3/dry-run", data={"csrf": token, "limit": "5"}).text)
    html = "\n".join(pages)
    assert "*****" in html  # the masked BSN of the dead letter's person is shown, masked
    leaked = [b for b in bsns if b in html]
    assert leaked == []
    assert [n for n in NINE_DIGITS.findall(html) if redact.elfproef(n)] == []


@pytest.mark.parametrize("reason", ["wrong status code list, fixed in mapping 1.2; BSN 111222333 mentioned"])
def test_replay_by_an_operator_delivers_and_is_in_the_audit_trail(console_college, client, reason):
    from runtime.engine import audit

    sign_in(client, "operator")
    store = console_college.engine.store
    letter = str(console_college.dead_letter_of(console_college.refused))  # refused when the college was set up
    intergrip = console_college.sandbox.context("intergrip").received
    before = len(intergrip.items)
    response = client.post("/ui/deadletters/replay", data={"csrf": csrf_of(client), "id": letter, "reason": reason,
                                                          "scope": "selected"})
    assert response.status_code == 200
    assert f"replayed 1: {letter}: delivered" in response.text
    assert store.dead_letter(int(letter))["status"] == "replayed"
    assert len(intergrip.items) == before + 1
    entry = audit.entries(store, action="replay")[0]
    assert (entry["actor"], entry["role"], entry["interface_id"], entry["subject"], entry["outcome"]) == \
        ("operator", "operator", 11, f"dead letter(s) {letter}", "1 delivered")
    assert entry["reason"] == "wrong status code list, fixed in mapping 1.2; BSN *****2333 mentioned"
    trail = client.get("/ui/audit").text
    assert "wrong status code list" in trail and "111222333" not in trail
    lineage = client.get(f"/ui/lineage?q={console_college.refused}").text
    assert lineage.count('class="outcome delivered"') == 1  # the replay's delivery, found by aanmeldId


def test_the_overview_colours_each_system_by_the_interfaces_that_touch_it(console_college, client, letter):
    sign_in(client, "viewer")
    html = client.get("/ui/").text
    states = {key: colour for colour, key in re.findall(r'<li class="system (\w+)" data-system="([\w-]+)"', html)}
    assert len(states) == len(console_college.engine.project.catalog.systems)
    assert (states["intergrip"], states["website"], states["crm"]) == ("amber", "green", "grey")
    assert states["sis"] == "amber"  # the worst of every interface it takes part in
    mermaid = re.search(r'<pre id="mermaid">(.*?)</pre>', html, re.S).group(1)
    assert mermaid.startswith("flowchart LR")
    amber = next(line for line in mermaid.splitlines() if line.strip().startswith("class ") and line.endswith(" amber"))
    assert "intergrip" in amber.split()[1].split(",")
    # the picture itself, drawn as SVG on the server: one box per system in its state's colour,
    # an arrow per interface and system it connects
    svg = re.search(r'<svg [^>]*id="architecture".*?</svg>', html, re.S).group(0)
    boxes = dict((k, c) for c, k in re.findall(r'<g class="system (\w+)" data-system="([\w-]+)"', svg))
    assert boxes == states
    assert {"11", "20", "24"} <= set(re.findall(r'<g class="interface" data-interface="(\d+)"', svg))
    arrow_20 = next(g for g in svg.split('<g class="arrow">') if 'data-interface="20"' in g)
    assert "stroke-dasharray" in arrow_20  # 20 is planned: dashed


def test_run_now_and_a_dry_run_of_a_bsn_carrying_interface_are_audited_a_plain_dry_run_is_not(console_college, client):
    from runtime.engine import audit

    sign_in(client, "operator")
    store = console_college.engine.store
    token = csrf_of(client)
    ran = client.post("/ui/interfaces/11/run", data={"csrf": token, "reason": "after Intergrip's outage"},
                      follow_redirects=False)
    assert ran.status_code == 303
    run_id = int(ran.headers["location"].rsplit("/", 1)[1])
    entry = audit.entries(store, action="run")[0]
    assert (entry["interface_id"], entry["subject"], entry["reason"]) == (11, f"run {run_id}", "after Intergrip's outage")
    assert entry["outcome"].startswith(f"{store.run(run_id)['outcome']}: read ")

    carries = console_college.engine.project.interface(15)
    from runtime.engine.audit import carries_bsn

    assert carries_bsn(console_college.engine.project, carries)
    assert not carries_bsn(console_college.engine.project, console_college.engine.project.interface(11))
    before = len(audit.entries(store, action="dry-run"))
    shown = client.post("/ui/interfaces/11/dry-run", data={"csrf": token, "limit": "3"})
    assert shown.status_code == 200 and 'id="dry-run"' in shown.text
    assert len(audit.entries(store, action="dry-run")) == before
    shown = client.post("/ui/interfaces/15/dry-run", data={"csrf": token, "limit": "3", "reason": "checking a BRON fix"})
    assert shown.status_code == 200 and 'id="dry-run"' in shown.text, shown.text[-800:]
    entry = audit.entries(store, action="dry-run")[0]
    assert (entry["interface_id"], entry["subject"], entry["reason"]) == (15, "up to 3 record(s)", "checking a BRON fix")
    assert re.fullmatch(r"\d+ item\(s\) shown", entry["outcome"])


def test_discard_every_open_letter_matching_the_filter_leaves_the_others(console_college, client):
    import datetime as dt
    from zoneinfo import ZoneInfo

    from runtime.engine import audit

    store = console_college.engine.store
    older = int(console_college.dead_letter_of(console_college.change(refuse=True)))
    store.engine.dispose()
    with store.engine.begin() as c:  # an hour older than the filter (its last attempt)
        import sqlalchemy as sa

        c.execute(sa.text("UPDATE koppel_dead_letters SET last_attempt_at = :t WHERE id = :i"),
                  {"t": dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=1), "i": older})
    import time

    time.sleep(1.1)  # every letter made before (this module's, the college's) is older than the filter
    since = dt.datetime.now(ZoneInfo("Europe/Amsterdam"))
    new = [console_college.dead_letter_of(console_college.change(refuse=True)) for _ in range(2)]
    sign_in(client, "operator")
    response = client.post("/ui/deadletters/discard", data={
        "csrf": csrf_of(client), "scope": "matching", "interface": "11", "error_class": "record",
        "since": since.strftime("%Y-%m-%dT%H:%M:%S"), "reason": "test applications, withdrawn"})
    assert "discarded 2 dead letter(s)" in response.text, re.findall(r"notice[^<]*<", response.text)
    assert [store.dead_letter(i)["status"] for i in [older, *new]] == ["open", "discarded", "discarded"]
    assert store.dead_letter(new[0])["resolution"] == "test applications, withdrawn (operator)"
    entry = audit.entries(store, action="discard")[0]
    assert entry["subject"] == (f"every open one matching (interface 11, class record, since "
                                f"{since.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC): dead letter(s) "
                                f"{new[0]}, {new[1]}")
    assert entry["outcome"] == "2 discarded"
