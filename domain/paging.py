"""Keyset cursors as clients see them: text that one regular expression describes exactly
(written and read by domain/adapters/cursors.py).

A cursor is the last sort key of a page, written plainly: every text its pattern
matches is a key the listing can resume after, so the API's schema states the
pattern and a client that keeps to it is never refused; any other text is not
one of our cursors (the client's 422). Clients should still pass cursors back
untouched: their shape may change with the sort key.
"""

from __future__ import annotations

# Newest-first listings (jobs, connections, records, documents): the last row's
# created_at in microseconds since 1970 (UTC), a dot, and its id as 32 hex digits.
POSITION_CURSOR_PATTERN = r"^[0-9]{1,16}\.[0-9a-f]{32}$"
# The audit trail, in chain order: the last event's sequence number.
SEQUENCE_CURSOR_PATTERN = r"^[0-9]{1,18}$"
# A doctor's dashboard, riskiest first: adherence in millionths (2000000: nothing due), the
# number of open alerts, and the patient's id as 32 hex digits.
RISK_CURSOR_PATTERN = r"^[0-9]{1,7}\.[0-9]{1,9}\.[0-9a-f]{32}$"
