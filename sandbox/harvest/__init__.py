"""The PM sandbox: a read-only Harvest API v2 stand-in serving the seeded `Company` over loopback HTTP.

Modules: `server` (the sandbox object: lifecycle, edit hooks that fire webhooks, auth, the rate
limit, the list envelope), `query` (a list request's paging and filters), `index` (records in
served order with a day index and a cache of filtered lists), `variants` (other payload versions and
faults a test attaches to the list pages).
"""

from sandbox.harvest.query import InvalidParameter, parse_timestamp
from sandbox.harvest.server import HarvestSandbox

__all__ = ["HarvestSandbox", "InvalidParameter", "parse_timestamp"]
