"""The accounting sandbox: a loopback server honouring the Xero Accounting API contract for Contacts,
Invoices, CreditNotes (with Allocations), ManualJournals, Payments, BankTransactions, the Overpayments
and Prepayments they leave, and the Organisation's lock dates.

What it implements, and how closely (the contract is `contracts/xero_accounting.yaml`, base path
`/api.xro/2.0`; provider facts the file does not carry are in `contracts/README.md`):

- Auth: `Authorization: Bearer TOKEN` (else 401) and a configured `Xero-tenant-id` (else 403), with
  Xero's problem-JSON bodies. Each tenant is a separate ledger.
- `/Contacts`: list (`where`, `IDs`, `searchTerm`: the term anywhere in Name, FirstName, LastName,
  ContactNumber or EmailAddress, ignoring case; `page`, `pageSize`), create (PUT/POST, several per
  request, answered per element with `summarizeErrors=false`; `Name` required and unique per tenant
  among active contacts), `/Contacts/{ContactID}`.
- `/Invoices`: create (PUT/POST, at most 50 per request) with Xero's validation and arithmetic, list
  (`where`, including `InvoiceNumber.StartsWith("...")`, `page`, `pageSize`, `IDs`, `InvoiceNumbers`,
  `ContactIDs`, `Statuses`), `/Invoices/{InvoiceID}`. Request bodies may be sent with `Content-Encoding: gzip`.
  `summarizeErrors` (default true, as Xero behaves, although the spec file says false), `unitdp`,
  and `Idempotency-Key` (at most 128 characters; replays within `idempotency_window_s` answer the
  original response; the same key with another request is a 400).
- `/CreditNotes`: create (ACCRECCREDIT/ACCPAYCREDIT, same validation and arithmetic as invoices, no
  DueDate), list (`where` on CreditNoteNumber, Reference, Type, Status...), `/CreditNotes/{id}`, and
  `PUT /CreditNotes/{id}/Allocations`: an authorised credit note allocated to an authorised invoice of
  the same contact and currency, never more than the remaining credit or the amount due.
- `/Payments`: create (PUT `{"Payments": [...]}`, or POST one Payment) naming one Invoice or
  CreditNote (by id or number), an Account (AccountID or Code), a Date and an Amount in cents; the
  document must be AUTHORISED and the amount at most what is outstanding (payments in one request
  count together). An invoice's AmountPaid/AmountDue move and it is PAID, with FullyPaidOnDate, once
  nothing is due (credit allocations move AmountCredited the same way); a credit note's refund lowers
  its RemainingCredit. List (`where` on PaymentID, PaymentType, Status, Reference, Invoice.InvoiceID,
  Invoice.InvoiceNumber...), `/Payments/{id}`, and `POST /Payments/{id}` with `{"Status": "DELETED"}`,
  which reverses a payment (not a reconciled one) and reopens its document.
- `/BankTransactions`: create (RECEIVE, SPEND and the -OVERPAYMENT/-PREPAYMENT types, priced like
  invoices, with a BankAccount), list, `/BankTransactions/{id}`. An overpayment or prepayment bank
  transaction leaves its credit, read from `/Overpayments` and `/Prepayments` (list and by id).
- `/ManualJournals`: create (Narration required, two or more lines with AccountCode, balancing to
  zero), list (`where` on Narration, including `Narration.StartsWith`), `/ManualJournals/{id}`.
- `/Organisation`: the tenant's PeriodLockDate and EndOfYearLockDate (set with `set_lock_dates`); a
  non-draft document dated on or before the later of them is refused, as Xero refuses it.
- Amounts are `Decimal` end to end: requests are parsed with `parse_float=Decimal` and answers write
  every amount as a JSON number with its exact decimal digits (never through a float).
- Rate limits per tenant (rolling minute, rolling day, in flight) and app-wide per minute, with Xero's
  429 headers; every answer carries the remaining-calls headers.
- Fault injection for exactly-once tests (`inject(Fault(...))`) and inspection helpers.

Deliberate differences from the real service (so nobody mistakes the sandbox for the oracle):

- Updates are not implemented: an invoice or contact element carrying an ID is rejected with a
  validation error instead of updating (real Xero's POST updates by InvoiceID, and by InvoiceNumber).
- InvoiceNumber is not required to be unique (a tenant may allow duplicates; the client must prove
  its own exactly-once), but `where=InvoiceNumber=="X"` and `InvoiceNumbers=` find every copy.
- There is no chart of accounts: `AccountCode` is stored as given; a line without `TaxType` is taxed
  as `NONE`. Tax rates come from `TAX_RATES` below, not from a tenant's TaxRates.
- A supplied `TaxAmount` overrides the computed one, as Xero documents ("can be overriden if the
  calculated TaxAmount is not correct"), but only within one minor unit (`CENT`: the sandbox books every
  currency in cents) of the sandbox's own per-line half-up figure; the
  given amount is then booked. That tolerance is the sandbox's stand-in for Xero's behaviour: it is
  what per-invoice tax rounding needs (docs/decisions/0009), and a larger difference means the
  client's tax rule disagrees with the ledger's, which we want to see loudly (a ValidationError), not booked.
- String comparisons in `where` are case-insensitive (as Xero's are in practice); `order`,
  `If-Modified-Since`, `includeArchived`, `createdByMyApp` and `summaryOnly` are ignored.
- A foreign-currency invoice without `CurrencyRate` gets rate 1 (Xero would look up the XE.com day rate);
  a payment without one takes its document's rate, and without `BankAmount` its bank amount is its
  amount (the sandbox keeps no bank account currencies).
- There is no chart of accounts: an Account or BankAccount named by Code gets a stable AccountID of its
  own. Transfers (`/BankTransfers`), overpayment and prepayment allocations and refunds, and batch
  payments are not served.

Modules, one concern each: `server` (the sandbox object and its request pipeline), `routes` (which
handler answers which path), `books` (ledger, clock and organisation settings handed to handlers),
`ledger` (SQLite storage), `idempotency` (keyed writes), `faults`, `limits`, `where` (the filter
parser), `validation` and `pricing` (shared checks and Xero's arithmetic), `reads` (lists and paging),
`settlement` (how balances move), and one module per collection (`contacts`, `invoices`, `journals`,
`allocations`, `payments`, `payment_reversal`, `bank_transactions`). It imports no
client code on purpose: the sandbox is the other side of the wire, and must not share the client's
mistakes. Its only project import is the shared HTTP server base.
"""

from sandbox.xero.answers import ZERO_GUID
from sandbox.xero.exact import dumps_exact, loads_exact
from sandbox.xero.faults import Fault
from sandbox.xero.server import XeroSandbox

__all__ = ["ZERO_GUID", "Fault", "XeroSandbox", "dumps_exact", "loads_exact"]
