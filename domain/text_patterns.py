"""Character classes for the platform's text rules, written so that ECMA 262 regular
expressions (what JSON Schema's ``pattern`` means) and Python's ``re`` read them alike.

Rules built from them are applied with ``re.fullmatch`` and published unchanged in
the API's OpenAPI document, so a client can check a value exactly as the server will.
"""

from __future__ import annotations

# Every character ``str.strip`` removes that is not a C0 control (those are refused anyway).
BLANK = r" \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# C0 controls and DEL.
CONTROL = r"\x00-\x1f\x7f"
