"""Every REST stand-in: refuses a call without credentials, accepts a valid one, and misbehaves on
request (slow, 500, 429 with Retry-After, reject) so that Koppel's error handling is exercised."""

from __future__ import annotations

import httpx
import pytest
from standin_helpers import client, fault, valid_request

NAMES = ["website", "centraal-aanmelden", "intergrip", "vva", "signhost", "dms", "crm", "exact", "xedule", "b3net",
         "remindo", "dlo"]


@pytest.mark.parametrize("name", NAMES)
def test_refuses_a_call_without_credentials(sandbox, name):
    request = valid_request(sandbox, name)
    request.pop("headers", None)
    request.pop("auth", None)
    assert client.request(**request).status_code == 401


@pytest.mark.parametrize("name", NAMES)
def test_accepts_a_valid_call(sandbox, name):
    response = client.request(**valid_request(sandbox, name))
    assert response.status_code in (200, 201), response.text
    kinds = [item["kind"] for item in sandbox.context(name).received.items]
    assert kinds and "refused" not in kinds and "rejected" not in kinds


@pytest.mark.parametrize("name", NAMES)
def test_500_once_then_healthy(sandbox, name):
    request = valid_request(sandbox, name)
    fault(sandbox, name, mode="500")
    assert client.request(**request).status_code == 500
    assert client.request(**request).status_code in (200, 201)


@pytest.mark.parametrize("name", NAMES)
def test_429_says_when_to_retry(sandbox, name):
    request = valid_request(sandbox, name)
    fault(sandbox, name, mode="429", retry_after=2)
    response = client.request(**request)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"


@pytest.mark.parametrize("name", NAMES)
def test_slow_answers_outlast_a_short_timeout(sandbox, name):
    request = valid_request(sandbox, name)
    fault(sandbox, name, mode="slow", delay=0.6)
    with pytest.raises(httpx.ReadTimeout):
        client.request(**request, timeout=0.15)


@pytest.mark.parametrize("name", NAMES)
def test_reject_refuses_the_matching_record_with_a_4xx(sandbox, name):
    request = valid_request(sandbox, name)
    fault(sandbox, name, mode="reject", match=httpx.URL(request["url"]).path, times=-1)
    response = client.request(**request)
    assert 400 <= response.status_code < 500 and response.status_code != 401
    assert response.json()  # the system's own error body


def test_a_fault_with_match_spares_other_records(sandbox):
    fault(sandbox, "vva", mode="reject", match="CA-2027-000009")
    ok = valid_request(sandbox, "vva")
    assert client.request(**ok).status_code == 201
    ok["json"] = {**ok["json"], "aanmeldId": "CA-2027-000009"}
    assert client.request(**ok).status_code == 422
    assert client.request(**ok).status_code == 201  # times defaults to 1


def test_faults_can_be_cleared(sandbox):
    fault(sandbox, "crm", mode="500", times=-1)
    assert client.delete(sandbox.url("crm").rsplit("/api", 1)[0] + "/_sandbox/faults").status_code == 204
    assert client.request(**valid_request(sandbox, "crm")).status_code in (200, 201)


def test_any_stand_in_can_be_rate_limited():
    from standin_helpers import PROJECT, bearer, well_inside_a_clock_minute

    from sandbox.runner import Sandbox

    with Sandbox(PROJECT, names=["dlo"], free_ports=True, include_services=False,
                 options={"dlo": {"requests_per_minute": 2}}) as box:
        well_inside_a_clock_minute()
        answers = [client.get(box.url("dlo") + "/resultaten", headers=bearer("dlo-token")) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert int(answers[-1].headers["Retry-After"]) >= 1
