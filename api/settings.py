"""Service settings, read from the environment with the ``GISGOV_`` prefix.

``GISGOV_WORKSPACE=county.gpkg gisgov serve`` or ``GISGOV_WORKSPACE=postgresql://… uvicorn
--factory api.app:create_app``; lists (CORS origins) are JSON: ``GISGOV_CORS_ORIGINS='["*"]'``.
"""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Everything the service can be configured with (env prefix ``GISGOV_``)."""

    model_config = SettingsConfigDict(env_prefix="GISGOV_", extra="ignore")

    workspace: str = Field(default="county.gpkg", description="GeoPackage path or postgresql:// URL")
    title: str = Field(default="gisgov 社区网格化治理", description="Service title on the landing page")
    cors_origins: list[str] = Field(default_factory=list,
                                    description="Origins allowed by CORS (empty: CORS off)")
    default_limit: int = Field(default=100, ge=1, description="Items per page when no limit is given")
    max_limit: int = Field(default=1000, ge=1, description="Largest page; bigger limits are clamped")
    max_batch: int = Field(default=100_000, ge=1, description="Most points in one /lookup/batch")
    rate_limit: float = Field(default=20.0, gt=0, description="Requests per second per key, "
                              "sustained (a window of rate_burst requests per "
                              "ceil(rate_burst / rate_limit) seconds)")
    rate_burst: int = Field(default=100, ge=1, description="Requests allowed at once per key")
    ip_rate_limit: float | None = Field(default=None, gt=0, description="Requests per second per "
                                        "client address, counted before the key is checked "
                                        "(default: rate_limit); raise it for offices behind one NAT")
    ip_rate_burst: int | None = Field(default=None, ge=1, description="Burst per client address "
                                      "(default: rate_burst)")
    rate_limit_storage: str | None = Field(default=None, description="Where rate limits are "
                                           "counted: empty or memory:// (this process), "
                                           "sqlite:///path (the workers of one machine; "
                                           "`gisgov serve --workers N` sets one), "
                                           "redis://host:port (workers anywhere)")
    trusted_proxies: list[str] = Field(default_factory=list, description="Addresses or CIDR "
                                       "blocks of reverse proxies whose X-Forwarded-For is "
                                       "believed (default none: the socket peer is the client)")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Largest request body "
                                "(job parameters and any other route), refused with 413 "
                                "before it is read")
    max_batch_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, description="Largest "
                                 "/lookup/batch body (CSV or GeoJSON), refused with 413 "
                                 "before it is read")
    max_json_depth: int = Field(default=32, ge=2, le=500, description="Most nested "
                                "arrays/objects in a JSON body")
    index_check_seconds: float = Field(default=1.0, ge=0, description="How often the lookup index "
                                       "checks the workspace version")
    audit_flush_seconds: float = Field(default=2.0, ge=0, description="Audit records are batched and "
                                       "written at most this often (0: at once)")
    job_workers: int = Field(default=1, ge=1, description="Jobs run at the same time")
    job_quota: int = Field(default=2, ge=1, description="Most queued or running jobs per API "
                           "key; more is a 429 until one finishes")
    tianditu_key: str | None = Field(default=None, description="Tianditu (天地图) basemap key")
    session_hours: float = Field(default=12.0, gt=0, le=24 * 90, description="How long a "
                                 "browser stays signed in after following a sign-in link "
                                 "(a working day by default); sign-out ends it sooner")
    telemetry: bool = Field(default=False, description="FastAPI's OpenTelemetry spans and "
                            "metrics for every request (turn on together with an OpenTelemetry "
                            "SDK and exporter; without one they cost CPU on every request for "
                            "nothing)")
    base_url: str | None = Field(default=None, description="Public URL prefix for links (default: "
                                 "from the request)")

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: list[str]) -> list[str]:
        # a typo must stop the service at start, not trust nobody (or everybody) silently
        for entry in value:
            ipaddress.ip_network(entry.strip(), strict=False)
        return value
