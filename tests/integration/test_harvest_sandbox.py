"""The PM sandbox over real HTTP: auth, the list envelope and its links, filters, bounds, the rate limit, edits."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.company import Company, generate_company
from sandbox.harvest import HarvestSandbox

pytestmark = pytest.mark.integration
TOKEN, ACCOUNT = "demo-harvest-token", "100001"
HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "Harvest-Account-Id": ACCOUNT,
    "User-Agent": "billbridge tests (dev@billbridge.example)",
}


@pytest.fixture(scope="module")
def company() -> Company:
    return generate_company(seed=7)


@pytest.fixture(scope="module")
def sandbox(company: Company) -> Iterator[HarvestSandbox]:
    with HarvestSandbox(company, rate_limit=None) as server:
        yield server


@pytest.fixture(scope="module")
def client(sandbox: HarvestSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url + "/", headers=HEADERS, timeout=10) as http:
        yield http


def _walk(client: httpx.Client, resource: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every record of a list, following links.next alone after the first request."""
    body = client.get(resource, params=params).raise_for_status().json()
    records = list(body[resource])
    while body["links"]["next"]:
        body = client.get(body["links"]["next"]).raise_for_status().json()
        records.extend(body[resource])
    return records


def test_url_includes_the_api_version(sandbox: HarvestSandbox) -> None:
    assert sandbox.url.startswith("http://127.0.0.1:") and sandbox.url.endswith("/v2")


@pytest.mark.parametrize(
    "headers",
    [
        {"User-Agent": "t"},
        {"User-Agent": "t", "Harvest-Account-Id": ACCOUNT},
        {"User-Agent": "t", "Authorization": f"Bearer {TOKEN}"},
        {"User-Agent": "t", "Authorization": "Bearer wrong", "Harvest-Account-Id": ACCOUNT},
        {"User-Agent": "t", "Authorization": f"Bearer {TOKEN}", "Harvest-Account-Id": "999"},
        {"User-Agent": "t", "Authorization": TOKEN, "Harvest-Account-Id": ACCOUNT},
    ],
)
def test_missing_or_wrong_credentials_answer_401(sandbox: HarvestSandbox, headers: dict[str, str]) -> None:
    response = httpx.get(f"{sandbox.url}/clients", headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "The access token provided is expired, revoked, malformed or invalid for other reasons.",
    }


def test_missing_user_agent_answers_400(sandbox: HarvestSandbox) -> None:
    with httpx.Client() as http:
        http.headers.pop("User-Agent")
        response = http.get(
            f"{sandbox.url}/clients", headers={k: v for k, v in HEADERS.items() if k != "User-Agent"}
        )
    assert response.status_code == 400
    assert "User-Agent" in response.json()["error_description"]


def test_every_list_has_the_full_envelope(client: httpx.Client, company: Company) -> None:
    for kind in Company.KINDS:
        response = client.get(kind)
        assert response.status_code == 200, kind
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert set(body) == {
            kind,
            "per_page",
            "total_pages",
            "total_entries",
            "next_page",
            "previous_page",
            "page",
            "links",
        }
        assert body["total_entries"] == len(company.records(kind)) == len(body[kind])
        assert (body["page"], body["per_page"], body["total_pages"]) == (1, 2000, 1)
        assert body["next_page"] is None and body["previous_page"] is None
        assert body["links"]["next"] is None and body["links"]["previous"] is None
        assert body["links"]["first"] == body["links"]["last"]
        assert {r["id"] for r in body[kind]} == {r["id"] for r in company.records(kind)}


def test_pagination_walks_every_record_once_in_harvest_order(client: httpx.Client, company: Company) -> None:
    first = client.get("time_entries", params={"per_page": 100}).json()
    total = len(company.time_entries)
    assert first["total_entries"] == total and first["total_pages"] == -(-total // 100)
    assert first["next_page"] == 2 and first["previous_page"] is None
    last_url = urlsplit(first["links"]["last"])
    assert parse_qs(last_url.query) == {"page": [str(first["total_pages"])], "per_page": ["100"]}
    assert last_url.scheme == "http" and last_url.path == "/v2/time_entries"

    walked = _walk(client, "time_entries", {"per_page": 100})
    assert len(walked) == total
    assert {e["id"] for e in walked} == {e["id"] for e in company.time_entries}
    keys = [(e["spent_date"], e["id"]) for e in walked]
    assert keys == sorted(keys, reverse=True)  # newest first, stable by id

    middle = client.get("time_entries", params={"per_page": 100, "page": 3}).json()
    assert (middle["previous_page"], middle["next_page"]) == (2, 4)
    assert parse_qs(urlsplit(middle["links"]["previous"]).query)["page"] == ["2"]
    end = client.get(first["links"]["last"]).json()
    assert end["next_page"] is None and end["links"]["next"] is None
    assert len(end["time_entries"]) == total - 100 * (first["total_pages"] - 1)
    beyond = client.get("time_entries", params={"per_page": 100, "page": first["total_pages"] + 5}).json()
    assert beyond["time_entries"] == [] and beyond["next_page"] is None


def test_from_to_filter_inclusively_and_links_keep_the_filter(client: httpx.Client, company: Company) -> None:
    params: dict[str, Any] = {"from": "2026-09-01", "to": "2026-09-30", "per_page": 50}
    walked = _walk(client, "time_entries", params)
    expected = {e["id"] for e in company.time_entries if "2026-09-01" <= e["spent_date"] <= "2026-09-30"}
    assert {e["id"] for e in walked} == expected and len(walked) == len(expected)
    body = client.get("time_entries", params=params).json()
    kept = parse_qs(urlsplit(body["links"]["next"]).query)
    assert kept["from"] == ["2026-09-01"] and kept["to"] == ["2026-09-30"] and kept["page"] == ["2"]
    one_day = client.get("time_entries", params={"from": "2026-08-05", "to": "2026-08-05"}).json()
    assert {e["spent_date"] for e in one_day["time_entries"]} == {"2026-08-05"}
    assert one_day["total_entries"] == sum(1 for e in company.time_entries if e["spent_date"] == "2026-08-05")
    weekend = client.get("time_entries", params={"from": "2026-08-08", "to": "2026-08-09"}).json()
    assert weekend["total_entries"] == 0 and weekend["time_entries"] == [] and weekend["total_pages"] == 0
    expenses = client.get("expenses", params={"from": "2026-10-01"}).json()["expenses"]
    assert {x["id"] for x in expenses} == {
        x["id"] for x in company.expenses if x["spent_date"] >= "2026-10-01"
    }


def test_id_and_flag_filters(client: httpx.Client, company: Company) -> None:
    august = {"from": "2026-08-01", "to": "2026-08-31"}
    cases: list[tuple[str, dict[str, Any], Callable[[dict[str, Any]], bool]]] = [
        ("time_entries", {"client_id": 5003}, lambda r: r["client"]["id"] == 5003),
        ("time_entries", {"project_id": 6999}, lambda r: r["project"]["id"] == 6999),
        (
            "time_entries",
            {"user_id": 8102, **august},
            lambda r: r["user"]["id"] == 8102 and r["spent_date"].startswith("2026-08"),
        ),
        ("time_entries", {"task_id": 7005}, lambda r: r["task"]["id"] == 7005),
        ("time_entries", {"is_running": "false"}, lambda r: True),
        ("expenses", {"project_id": 6201}, lambda r: r["project"]["id"] == 6201),
        ("projects", {"client_id": 5001}, lambda r: r["client"]["id"] == 5001),
        ("user_assignments", {"user_id": 8001}, lambda r: r["user"]["id"] == 8001),
        ("projects", {"is_active": "true"}, lambda r: True),
        ("users", {"is_active": "false"}, lambda r: False),
    ]
    for kind, params, test in cases:
        body = client.get(kind, params=params).json()
        expected = {r["id"] for r in company.records(kind) if test(r)}
        assert {r["id"] for r in body[kind]} == expected, (kind, params)
        assert body["total_entries"] == len(expected)


def test_updated_since_is_inclusive_and_sees_edits(company: Company) -> None:
    fresh = generate_company(seed=7)
    with (
        HarvestSandbox(fresh, rate_limit=None) as sandbox,
        httpx.Client(base_url=sandbox.url + "/", headers=HEADERS) as http,
    ):
        latest = max(e["updated_at"] for e in fresh.time_entries)
        at_latest = http.get("time_entries", params={"updated_since": latest}).json()["time_entries"]
        assert at_latest and all(e["updated_at"] == latest for e in at_latest)

        edited = sandbox.update_time_entry(1_000_000_010, hours=2.0, notes="corrected")
        assert edited["updated_at"] > latest
        since = http.get("time_entries", params={"updated_since": edited["updated_at"]}).json()
        assert [e["id"] for e in since["time_entries"]] == [1_000_000_010]
        assert since["time_entries"][0]["hours"] == 2.0
        # Any ISO 8601 spelling of the same instant, and fractions that round up past it.
        offset = edited["updated_at"].replace("Z", "+00:00")
        assert http.get("time_entries", params={"updated_since": offset}).json()["total_entries"] == 1
        past = edited["updated_at"].replace("Z", ".5Z")
        assert http.get("time_entries", params={"updated_since": past}).json()["total_entries"] == 0

        explicit = sandbox.update_time_entry(
            1_000_000_011, updated_at="2030-01-01T00:00:00Z", spent_date="2026-10-30"
        )
        assert explicit["updated_at"] == "2030-01-01T00:00:00Z"
        moved = http.get("time_entries", params={"from": "2026-10-30", "to": "2026-10-30"}).json()[
            "time_entries"
        ]
        assert moved[-1]["id"] == 1_000_000_011  # re-indexed under its new day, where its id is the lowest
        assert http.get("time_entries/1000000011").json()["spent_date"] == "2026-10-30"

        assert http.get("time_entries", params={"updated_since": "yesterday"}).status_code == 422


def test_add_and_delete_hooks(company: Company) -> None:
    fresh = generate_company(seed=7)
    with (
        HarvestSandbox(fresh, rate_limit=None) as sandbox,
        httpx.Client(base_url=sandbox.url + "/", headers=HEADERS) as http,
    ):
        template = dict(fresh.time_entries[0])
        template.pop("updated_at")
        added = sandbox.add_time_entry({**template, "id": 1_999_999_999, "spent_date": "2026-08-04"})
        assert added["updated_at"] > max(e["updated_at"] for e in fresh.time_entries if e is not added)
        day = http.get("time_entries", params={"from": "2026-08-04", "to": "2026-08-04"}).json()[
            "time_entries"
        ]
        assert day[0]["id"] == 1_999_999_999
        assert http.get("time_entries/1999999999").status_code == 200
        with pytest.raises(ValueError):
            sandbox.add_time_entry({**template, "id": 1_999_999_999})

        sandbox.delete_time_entry(1_000_000_001)
        assert http.get("time_entries/1000000001").status_code == 404
        assert http.get("time_entries").json()["total_entries"] == len(company.time_entries)
        assert 1_000_000_001 not in {e["id"] for e in fresh.time_entries}
        with pytest.raises(KeyError):
            sandbox.delete_time_entry(1_000_000_001)


def test_single_records_and_not_found(client: httpx.Client, company: Company) -> None:
    entry = company.time_entries[42]
    assert client.get(f"time_entries/{entry['id']}").json() == entry
    assert client.get("projects/6003").json()["code"] is None
    for path in ("time_entries/1", "projects/6999", "clients/abc", "estimates", "invoices/1", "nope/1/2"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("params", [{"per_page": 0}, {"per_page": 2001}, {"per_page": "x"}, {"page": 0}])
def test_paging_out_of_bounds_answers_422(client: httpx.Client, params: dict[str, Any]) -> None:
    response = client.get("time_entries", params=params)
    assert response.status_code == 422
    assert isinstance(response.json()["message"], str)


@pytest.mark.parametrize(
    "params", [{"from": "2026-13-01"}, {"to": "01/08/2026"}, {"client_id": "acme"}, {"is_billed": "maybe"}]
)
def test_malformed_filters_answer_422(client: httpx.Client, params: dict[str, Any]) -> None:
    assert client.get("time_entries", params=params).status_code == 422


def test_per_page_bounds_are_inclusive(client: httpx.Client) -> None:
    assert len(client.get("time_entries", params={"per_page": 1}).json()["time_entries"]) == 1
    assert client.get("time_entries", params={"per_page": 2000}).json()["per_page"] == 2000


def test_rate_limit_answers_429_with_retry_after(company: Company) -> None:
    with (
        HarvestSandbox(company, rate_limit=5, rate_window_s=0.5) as sandbox,
        httpx.Client(base_url=sandbox.url + "/", headers=HEADERS) as http,
    ):
        assert [http.get("tasks").status_code for _ in range(5)] == [200] * 5
        limited = http.get("tasks")
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["error"] == "rate_limit_exceeded"
        assert http.get("clients").status_code == 429  # the limit is per token, not per resource
        assert sandbox.rate_limited_count == 2
        assert sandbox.admitted_count == 5  # what the limit let through (bench/group_close.py's count)
        time.sleep(0.55)
        assert http.get("tasks").status_code == 200
        assert sandbox.admitted_count == 6
        # Unauthenticated requests neither pass nor use up the token's budget.
        assert httpx.get(f"{sandbox.url}/tasks", headers={"User-Agent": "t"}).status_code == 401


def test_recording_keeps_the_exchanges(company: Company) -> None:
    with HarvestSandbox(company, rate_limit=None, record=True) as sandbox:
        httpx.get(f"{sandbox.url}/clients", headers=HEADERS, params={"per_page": 3})
        # The server logs an exchange just after answering it, so give its thread a moment.
        deadline = time.monotonic() + 2
        while not sandbox.exchanges and time.monotonic() < deadline:
            time.sleep(0.005)
        (exchange,) = sandbox.exchanges
        assert (
            exchange.path == "/v2/clients"
            and exchange.status == 200
            and exchange.query == {"per_page": ["3"]}
        )
