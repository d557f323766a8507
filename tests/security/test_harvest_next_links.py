"""The PM connector follows `links.next` only on its configured base URL (issue 16, found on main).

A next link naming another host must never receive the bearer token: real servers on loopback,
one playing Harvest, the other the host a hostile or broken next link points at.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from resources.harvest import HarvestClient, UntrustedNextLinkError
from resources.http_server import JsonHTTPServer, Request, Response

TOKEN = "hv-secret-token-0123456789"


def _harvest(next_link: Callable[[str], str]) -> JsonHTTPServer:
    """A two-page `clients` list whose first page links to `next_link(own base URL)`."""

    def route(request: Request) -> Response:
        page = int(request.param("page") or 1)
        link = next_link(server.url) if page == 1 else None
        body = {"clients": [{"id": page}], "page": page, "total_pages": 2, "links": {"next": link}}
        return Response(200, body)

    server = JsonHTTPServer(route, record=True)
    return server


def _client(server: JsonHTTPServer) -> HarvestClient:
    return HarvestClient(base_url=server.url + "/v2", account_id="1", access_token=TOKEN, max_attempts=1)


def test_a_next_link_to_another_host_is_refused_and_gets_no_token() -> None:
    with JsonHTTPServer(lambda r: Response(200, {"clients": []}), record=True) as elsewhere:
        with _harvest(lambda _own: f"{elsewhere.url}/v2/clients?page=2&per_page=2000") as harvest:
            pages = _client(harvest).iter_pages("clients")
            assert [r["id"] for r in next(pages).records] == [1]
            with pytest.raises(UntrustedNextLinkError, match="not under the configured base URL"):
                next(pages)
        assert elsewhere.exchanges == []  # nothing was sent there, least of all the bearer token


@pytest.mark.parametrize("path", ["/admin/clients?page=2", "/v2/../admin/clients?page=2"])
def test_a_next_link_outside_the_base_path_is_refused(path: str) -> None:
    # Same host and port, outside /v2 (another application on the host, an open redirect).
    with _harvest(lambda own: own + path) as harvest:
        with pytest.raises(UntrustedNextLinkError):
            list(_client(harvest).iter_pages("clients"))
        assert [e.path for e in harvest.exchanges] == ["/v2/clients"]


def test_next_links_on_the_base_url_are_followed_with_the_token() -> None:
    with _harvest(lambda own: f"{own}/v2/clients?page=2&per_page=2000") as harvest:
        pages = list(_client(harvest).iter_pages("clients"))
    assert len(pages) == 2 and "page=2" in pages[1].url  # the next link, on the base URL, was followed
    assert [e.request_headers.get("Authorization") for e in harvest.exchanges] == [f"Bearer {TOKEN}"] * 2
