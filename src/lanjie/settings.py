"""Configuration from the environment (prefix ``LANJIE_``), read once by bootstrap."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LANJIE_", extra="ignore")

    data_dir: Path = Path("data")
    # Empty means a SQLite file in data_dir (WAL, synchronous=FULL).
    database_url: str = ""
    # Where carriers reach our callback endpoints, e.g. https://lanjie.example.com
    public_base_url: str = "http://127.0.0.1:8000"

    # Carrier endpoints are configuration: pointing at the real carrier is a settings change.
    kuaidi100_api_url: str = "https://api.kuaidi100.com"
    kuaidi100_poll_url: str = "https://poll.kuaidi100.com"
    # Per plugin, endpoint name → base URL, e.g. {"sf": {"api": "https://sfapi-sbox.sf-express.com"}}.
    carrier_endpoints: dict[str, dict[str, str]] = Field(default_factory=dict)
    # When set, every carrier plugin's endpoints point at its sandbox twin, ``{url}/<plugin>``
    # (the demo and the tests); carrier_endpoints still wins where it names an endpoint.
    carrier_sandbox_url: str = ""
    carrier_timeout_seconds: float = 5.0
    # Requests per second lanjie allows itself per carrier account; 0 = the plugin's own default.
    carrier_rate_limit_per_second: float = 0.0
    # How often lanjie asks a carrier without tracking pushes (UPS, JD) for a parcel's trace.
    tracking_poll_seconds: float = 1800.0
    # A parcel on its way back with no scan for this long is ``stalled`` (per plugin overrides the default).
    return_stall_hours: float = 72.0
    return_stall_hours_by_carrier: dict[str, float] = Field(default_factory=dict)
    # The estimate of a return's arrival: this many days after it turned back.
    return_typical_days: float = 4.0
    # Evidence files (photos, documents): on local disk by default, or an S3-compatible bucket.
    file_store: Literal["local", "s3"] = "local"
    files_dir: Path | None = None  # default: data_dir / "files"
    file_max_bytes: int = Field(10 * 1024 * 1024, gt=0)
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3_endpoint_url: str = ""  # empty: AWS; e.g. http://127.0.0.1:9000 for MinIO
    s3_region: str = ""
    # How often lanjie asks a carrier about a claim filed online (pushes, where the carrier sends them, come sooner).
    claim_poll_seconds: float = 6 * 3600.0

    # Sales channels: per plugin, endpoint name → base URL, e.g. {"douyin": {"api": "https://openapi-fxg.jinritemai.com"}}.
    channel_endpoints: dict[str, dict[str, str]] = Field(default_factory=dict)
    # When set, every channel plugin's endpoints point at the sandbox's platform simulator, ``{url}/<plugin>``.
    channel_sandbox_url: str = ""

    # Outgoing webhooks (Standard Webhooks). Private, loopback and link-local targets are refused
    # unless this is set (the demo and the tests deliver to 127.0.0.1).
    webhook_allow_private_targets: bool = False

    # The console's session cookie carries the Secure flag: browsers send it over HTTPS, and over plain
    # HTTP only to localhost/127.0.0.1. Turn it off only for a plain-HTTP console on a trusted network.
    console_secure_cookies: bool = True
    webhook_timeout_seconds: float = 15.0

    # Worker
    worker_concurrency: int = 16
    worker_poll_seconds: float = 0.05
    job_lease_seconds: float = 30.0
    job_reap_seconds: float = 5.0  # how often a worker takes back jobs of workers that died
    carrier_concurrency: int = Field(8, description="Jobs in flight per carrier, across all workers")

    # Sandbox world (used by `lanjie sandbox` and `lanjie demo`)
    sandbox_time_factor: float = 60.0
    sandbox_propagation_seconds: float = 600.0
    sandbox_ack_latency_ms: int = 200

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'lanjie.db').resolve()}"
