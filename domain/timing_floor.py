"""A lower bound on how long a piece of work takes, so its duration tells nothing.

Asking for a password-reset link or a sign-in code does real work (rows, a
rendered e-mail, a job) only when the address has an account; without a
floor the answer comes back several times faster for an unknown address,
and anyone can time it to learn who is a patient here. Padding both to the
same floor, measured from the start of the work, makes them alike as long
as the real work fits under it. The padding is a sleep after every
transaction has ended: it holds no database connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


@asynccontextmanager
async def at_least(seconds: float) -> AsyncIterator[None]:
    """Run the block, then wait until ``seconds`` have passed since it began.

    Only a block that ends normally (a return included) is padded: an error
    leaves at once, since its answer differs from the normal one anyway.
    """
    started = time.monotonic()
    yield
    left = seconds - (time.monotonic() - started)
    if left > 0:
        await asyncio.sleep(left)
