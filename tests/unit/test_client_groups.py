"""Client groups of a month's drafting (decision 0048): whole clients, contiguous, every id held."""

from rules.billing.client_groups import ClientRange, client_groups


def test_groups_hold_whole_clients_up_to_the_bound() -> None:
    counts = {5003: 9, 5001: 3, 5002: 3, 5004: 2, 5005: 1}
    groups = client_groups(counts, max_lines=6)
    assert [(g.first, g.last) for g in groups] == [(-(2**63), 5002), (5003, 5003), (5004, 2**63 - 1)]
    assert all(any(g.holds(c) for g in groups) for c in (1, 5001, 5003, 5300, 10**12))
    assert client_groups({}, 6) == client_groups(counts, 10**6) == [ClientRange(-(2**63), 2**63 - 1)]
