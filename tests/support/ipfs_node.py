"""The suite's real IPFS node: js-ipfs serving the Kubo RPC API (no Kubo binary installs here).

Which node: IPFS_API_URL if the environment sets it (a Kubo node, say), else a
js-ipfs daemon started for the session from tools/jsipfs (installed by
``./run setup``, which runs tools/jsipfs/install.sh). With neither, the tests that
need a node fail saying so: a content store is not something to skip.

The daemon gets a repository of its own in a temporary folder, set up as
/work/shared/SERVICES.md found necessary: API on a free port, every other
listener on an ephemeral port or none (a swarm listener makes it fail), no
bootstrap peers, no MDNS, no delegates, no pubsub, no preload — it never
reaches for the network.

Also a pytest plugin (tests/conftest.py lists it): the fixtures at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from domain.adapters.files.block_store import BlockStoreContentStore
from domain.adapters.files.ipfs_node import KuboContentStore
from domain.adapters.files.unixfs import normalize_cid
from tests.support.paths import PROJECT_ROOT
from tests.support.servers import free_port

JSIPFS = PROJECT_ROOT / "tools" / "jsipfs" / "node_modules" / ".bin" / "jsipfs"
SETUP_HINT = (
    "no IPFS node for the tests: js-ipfs is not installed under tools/jsipfs and IPFS_API_URL "
    "is not set. Run `./run setup` (it runs tools/jsipfs/install.sh, which needs npm), "
    "or point IPFS_API_URL at a Kubo RPC API."
)


class IpfsNodeMissing(RuntimeError):
    """Raised when there is neither IPFS_API_URL nor an installed js-ipfs."""


def node_answers(api_url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.post(f"{api_url}/api/v0/id", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _configure(repo: Path, api_port: int) -> None:
    path = repo / "config"
    config = json.loads(path.read_text())
    addresses = config.setdefault("Addresses", {})
    addresses.update(
        API=f"/ip4/127.0.0.1/tcp/{api_port}",
        Gateway="/ip4/127.0.0.1/tcp/0",
        RPC="/ip4/127.0.0.1/tcp/0",
        Swarm=[],
        Delegates=[],
    )
    config["Bootstrap"] = []
    discovery = config.setdefault("Discovery", {})
    discovery.setdefault("MDNS", {})["Enabled"] = False
    discovery.setdefault("webRTCStar", {})["Enabled"] = False
    config["Routing"] = {"Type": "none"}
    config.setdefault("Pubsub", {})["Enabled"] = False
    path.write_text(json.dumps(config, indent=2))


class JsIpfsNode:
    """A js-ipfs daemon in a folder of its own; ``start`` again after ``stop`` reuses both."""

    def __init__(self, folder: Path, binary: Path = JSIPFS) -> None:
        if not binary.exists():
            raise IpfsNodeMissing(SETUP_HINT)
        self.binary = binary
        self.folder = folder
        self.repo = folder / "repo"
        self.log_path = folder / "daemon.log"
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._env = {**os.environ, "IPFS_PATH": str(self.repo)}
        self._env.pop("IPFS_API_URL", None)

    def start(self, timeout: float = 60.0) -> str:
        if not (self.repo / "config").exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [str(self.binary), "init", "--profile", "test", "--emptyRepo"],
                env=self._env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                check=True,
                timeout=timeout,
            )
            _configure(self.repo, self.port)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [str(self.binary), "daemon", "--enable-preload=false"],
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if node_answers(self.api_url, timeout=1.0):
                return self.api_url
            if self._process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"the js-ipfs daemon did not start; its log ends:\n{tail}")

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever of its group is left
        process.wait(5)


class SessionIpfsNode:
    """The node for the whole run: IPFS_API_URL's, or a js-ipfs daemon of ours."""

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._node: JsIpfsNode | None = None
        given = os.environ.get("IPFS_API_URL")
        if given:
            self.api_url = given.rstrip("/")
            if not node_answers(self.api_url):
                raise IpfsNodeMissing(f"IPFS_API_URL is set, but no IPFS node answers at {given}")
            return
        if not JSIPFS.exists():
            raise IpfsNodeMissing(SETUP_HINT)
        self._folder = Path(tempfile.mkdtemp(prefix="hp-test-ipfs-"))
        self._node = JsIpfsNode(self._folder)
        try:
            self.api_url = self._node.start()
        except BaseException:
            shutil.rmtree(self._folder, ignore_errors=True)
            raise

    def stop(self) -> None:
        if self._node is not None:
            self._node.stop()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


def dead_api_url() -> str:
    """An API URL where nothing listens: "the node is down", as a client meets it."""
    return f"http://127.0.0.1:{free_port()}"


# --- helpers for content tests ------------------------------------------------------


def payload(size: int, seed: bytes = b"ipfs") -> bytes:
    """Deterministic bytes of ``size`` (SHAKE-256: the same on every platform)."""
    return hashlib.shake_256(seed).digest(size) if size else b""


async def pieces(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    """``data`` as a stream, cut where the 256 KiB chunks are not."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read_all(stream: AsyncIterable[bytes]) -> bytes:
    return b"".join([piece async for piece in stream])


async def node_add(api_url: str, data: bytes) -> str:
    """The CID the node itself gives ``data`` with ``add --cid-version=1`` and nothing else
    (no adapter of ours in between), normalised to base32."""
    async with httpx.AsyncClient(timeout=120) as client:
        response = await client.post(
            f"{api_url}/api/v0/add",
            params={"cid-version": "1", "pin": "false"},
            files={"file": ("", data, "application/octet-stream")},
        )
    response.raise_for_status()
    return normalize_cid(json.loads(response.text.splitlines()[-1])["Hash"])


# --- fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def ipfs_api_url() -> Iterator[str]:
    """The Kubo RPC API of the session's IPFS node (started on first use, stopped at the end)."""
    try:
        node = SessionIpfsNode()
    except IpfsNodeMissing as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield node.api_url
    finally:
        node.stop()


@pytest.fixture
def dead_ipfs_url() -> str:
    return dead_api_url()


@pytest.fixture
async def kubo_store(ipfs_api_url: str) -> AsyncIterator[KuboContentStore]:
    store = KuboContentStore(ipfs_api_url, timeout_seconds=30.0)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def block_store(tmp_path: Path) -> BlockStoreContentStore:
    return BlockStoreContentStore(tmp_path / "ipfs")
