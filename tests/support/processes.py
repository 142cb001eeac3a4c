"""The platform's real processes (worker, scheduler, API) started by end-to-end tests."""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from domain.settings import Settings
from tests.support.log_capture import register_process_log
from tests.support.paths import PROJECT_ROOT

SETTING_NAMES = {
    "DATABASE_URL": "database_url",
    "REDIS_URL": "redis_url",
    "JWT_SECRET": "jwt_secret",
    "DATA_DIR": "data_dir",
    "SMTP_URL": "smtp_url",
    "JOB_HEARTBEAT_SECONDS": "job_heartbeat_seconds",
    "JOB_STALE_AFTER_SECONDS": "job_stale_after_seconds",
    "RELAY_INTERVAL_SECONDS": "relay_interval_seconds",
    "RELAY_GRACE_SECONDS": "relay_grace_seconds",
    "RATE_LIMIT_AUTH_PER_MINUTE": "rate_limit_auth_per_minute",
    "RATE_LIMIT_USER_PER_MINUTE": "rate_limit_user_per_minute",
    "IPFS_API_URL": "ipfs_api_url",
    "STELLAR_SECRET_KEY": "stellar_secret_key",
    "STELLAR_HORIZON_URL": "stellar_horizon_url",
    "STELLAR_NETWORK_PASSPHRASE": "stellar_network_passphrase",
    "ANCHOR_INTERVAL_SECONDS": "anchor_interval_seconds",
    "ADHERENCE_INTERVAL_SECONDS": "adherence_interval_seconds",
    "BAKONG_API_URL": "bakong_api_url",
    "BAKONG_TOKEN": "bakong_token",
    "BAKONG_ACCOUNT_ID": "bakong_account_id",
    "PAYMENT_POLL_INTERVAL_SECONDS": "payment_poll_interval_seconds",
    "OCR_ENGINE": "ocr_engine",
    "OCR_PROVIDER_URL": "ocr_provider_url",
    "OCR_PROVIDER_TOKEN": "ocr_provider_token",
    "OCR_PROVIDER_TIMEOUT_SECONDS": "ocr_provider_timeout_seconds",
    "OCR_PROVIDER_CHECK_INTERVAL_SECONDS": "ocr_provider_check_interval_seconds",
    "AUDIT_CHAIN_INTERVAL_SECONDS": "audit_chain_interval_seconds",
}


def platform_env(settings: Settings, **overrides: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in SETTING_NAMES and k[:4] != "PHI_" and k != "WEBHOOK_SECRETS"
    }
    for name, attr in SETTING_NAMES.items():
        value = getattr(settings, attr)
        if value is not None:
            env[name] = str(value)
    env["PHI_KEYS"] = ",".join(
        f"{key_id}:{base64.b64encode(key).decode()}" for key_id, key in settings.phi_keys.items()
    )
    env["PHI_ACTIVE_KEY_ID"] = settings.phi_active_key_id
    if settings.webhook_secrets:
        env["WEBHOOK_SECRETS"] = ",".join(
            f"{provider}:{secret}"
            for provider, secrets in settings.webhook_secrets.items()
            for secret in secrets
        )
    env.update(LOG_LEVEL="INFO", PYTHONUNBUFFERED="1", **overrides)
    return env


class PlatformProcess:
    """A process group of ours: killed as a whole, its output kept in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = log_dir / f"{name}-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        register_process_log(self.log_path)  # its lines join the suite's PHI log scan
        self.process = subprocess.Popen(
            argv,
            env=env,
            cwd=PROJECT_ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, signum: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signum)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to the leader only (dramatiq forwards it to its children), then clean up."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # whatever of the group is left
        self.process.wait(5)
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def native_libraries(process: psutil.Process) -> set[str]:
    """The package directories of the compiled extensions ``process`` has loaded."""
    return {Path(m.path).parent.name for m in process.memory_maps() if ".so" in m.path}


def start_worker(
    settings: Settings, log_dir: Path, *, processes: int = 1, threads: int = 4
) -> PlatformProcess:
    argv = [sys.executable, "-m", "dramatiq", "workers.app"]
    argv += ["--processes", str(processes), "--threads", str(threads)]
    return PlatformProcess("worker", argv, platform_env(settings), log_dir)


def start_scheduler(settings: Settings, log_dir: Path) -> PlatformProcess:
    argv = [sys.executable, "-m", "workers.scheduler"]
    return PlatformProcess("scheduler", argv, platform_env(settings), log_dir)


def start_api(
    settings: Settings, log_dir: Path, port: int, workers: int = 1, **overrides: str
) -> PlatformProcess:
    """The API as the Procfile's web line runs it (``python -m api.serve``)."""
    argv = [sys.executable, "-m", "api.serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(workers)]
    api = PlatformProcess("api", argv, platform_env(settings, **overrides), log_dir)
    return _answering(api, port, "/health/live", timeout=30)


def start_launcher(env: dict[str, str], log_dir: Path, port: int) -> PlatformProcess:
    """``healthplat`` (what ``./run`` runs) with ``env``; returned once its API is ready."""
    launcher = Path(sys.executable).parent / "healthplat"
    process = PlatformProcess("launcher", [str(launcher)], env, log_dir)
    return _answering(process, port, "/health/ready", timeout=90)


def _answering(process: PlatformProcess, port: int, path: str, timeout: float) -> PlatformProcess:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.process.poll() is not None:
            break
        time.sleep(0.1)
    process.stop()
    raise AssertionError(f"{process.name} did not start:\n{process.output()[-3000:]}")
