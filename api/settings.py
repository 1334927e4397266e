"""Configuration from environment variables, validated once at start.

Every setting has a default that works on a laptop; a wrong value stops the process with one
line naming the variable, never a traceback.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Environment = Literal["development", "production"]

JWT_ALGORITHMS = ("HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384")


class ConfigError(Exception):
    """A setting that cannot be used; the message names the variable and what is wrong."""


@dataclass(frozen=True)
class Limits:
    """Bounds on abusive requests; the defaults are far above any real front-end query."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_body_bytes: int = 256 * 1024
    max_cost: int = 10_000
    max_input_depth: int = 16
    max_json_bytes: int = 16 * 1024
    max_sockets_per_member: int = 8
    max_subscriptions_per_socket: int = 16
    read_timeout_seconds: int = 10
    max_header_bytes: int = 16 * 1024
    max_headers: int = 100
    max_connections: int = 1000


@dataclass(frozen=True)
class RateLimits:
    """Requests allowed per minute (with a burst of a tenth of a minute's worth, at least 5),
    per worker share: each worker enforces `per_minute / workers` (see README, Limits)."""

    per_address: int = 1200
    per_member: int = 600
    per_organization: int = 3000
    failed_auth_per_address: int = 30
    invitations_per_member_hour: int = 30
    invitations_per_organization_hour: int = 200
    workers: int = 1


@dataclass(frozen=True)
class WebhookSettings:
    """Outgoing webhooks: who delivers, how hard it retries, which URLs are allowed."""

    delivery: bool = True  # a delivery worker in every `heed serve` process
    poll_seconds: float = 1.0  # how often an idle worker looks for due messages
    timeout_seconds: float = 10.0
    concurrency: int = 32  # requests in flight per worker, and messages claimed per round
    retry_base_seconds: float = 5.0  # first retry delay, doubled at each attempt
    retry_max_seconds: float = 6 * 3600.0
    max_attempts: int = 16
    disable_after_seconds: float = 5 * 24 * 3600.0  # an endpoint failing this long is disabled
    secret_overlap_seconds: int = 24 * 3600  # the old secret still signs this long
    retention_days: int = 30  # sent and given-up messages and the delivery log are kept this long
    ca_bundle: Path | None = None  # CA certificates for receivers (default: the system's)
    allow_http: bool = False  # plain http in production
    allow_private: bool = False  # loopback, private, link-local and metadata addresses


@dataclass(frozen=True)
class NudgeSettings:
    """The insight job (`heed nudge`, and inside `heed serve`): how often it runs and the
    thresholds of its rules."""

    in_serve: bool = True  # run the job inside `heed serve` (one worker at a time)
    interval_seconds: float = 300.0  # how often `heed serve` runs it
    period_days: int = 7  # one nudge per thing per period of this many days
    stalled_days: int = 3  # a member idle this long on a flow they started is stalled
    help_hours: int = 48  # a help request open this long is unanswered
    health_drop: int = 10  # a score this many points below last period's is falling


@dataclass(frozen=True)
class Surface:
    """How much one surface shows (`nextUp`): at most `limit` items, and nothing new until
    `cool_off_hours` after the last item shown there."""

    limit: int
    cool_off_hours: float


# Set one with HEED_SURFACE_<NAME>=<limit>/<cool-off hours>, e.g. HEED_SURFACE_MODAL=1/24.
DEFAULT_SURFACES: Mapping[str, Surface] = {
    "banner": Surface(1, 0),
    "modal": Surface(1, 24),
    "sidebar": Surface(3, 0),
    "tooltip": Surface(1, 0),
}


@dataclass(frozen=True)
class Settings:
    environment: Environment = "development"
    data_dir: Path = Path("data")
    database_url: str = ""
    content_dir: Path = Path("content")
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_algorithm: str = "HS256"
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_leeway_seconds: int = 30
    admin_key: str | None = None
    default_locale: str = "en"
    locale_fallback: bool = True
    release_poll_seconds: float = 2.0
    answer_cache_mb: int = 32
    database_pool_size: int = 16
    trusted_documents: Path | None = None
    limits: Limits = field(default_factory=Limits)
    rate_limits: RateLimits = field(default_factory=RateLimits)
    trusted_proxies: tuple[str, ...] = ()
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    nudges: NudgeSettings = field(default_factory=NudgeSettings)
    insight_cache_seconds: float = 60.0  # how long a worker reuses a computed portfolio
    surfaces: Mapping[str, Surface] = field(default_factory=lambda: dict(DEFAULT_SURFACES))

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def jwt_verification_key(self) -> str | None:
        return self.jwt_public_key or self.jwt_secret

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        environment = env.get("HEED_ENV", "development")
        if environment not in ("development", "production"):
            raise ConfigError(
                f"HEED_ENV must be 'development' or 'production', not {environment!r}"
            )
        data_dir = Path(env.get("HEED_DATA_DIR", "data"))
        database_url = env.get("DATABASE_URL") or f"sqlite://{data_dir / 'heed.sqlite3'}"
        algorithm = env.get("HEED_JWT_ALGORITHM", "HS256").upper()
        if algorithm not in JWT_ALGORITHMS:
            raise ConfigError(
                f"HEED_JWT_ALGORITHM must be one of {', '.join(JWT_ALGORITHMS)}, not {algorithm!r}"
            )
        public_key = _public_key(env)
        secret = env.get("HEED_JWT_SECRET") or None
        if algorithm.startswith("HS") and public_key:
            raise ConfigError(
                "HEED_JWT_PUBLIC_KEY is set but HEED_JWT_ALGORITHM is "
                f"{algorithm}; use RS256/ES256 with a public key"
            )
        if not algorithm.startswith("HS") and not public_key:
            raise ConfigError(f"HEED_JWT_ALGORITHM={algorithm} needs HEED_JWT_PUBLIC_KEY")
        if secret is not None and len(secret) < 32:
            raise ConfigError("HEED_JWT_SECRET must be at least 32 characters")
        admin_key = env.get("HEED_ADMIN_KEY") or None
        if admin_key is not None and len(admin_key) < 24:
            raise ConfigError("HEED_ADMIN_KEY must be at least 24 characters")
        if environment == "production" and not (secret or public_key):
            raise ConfigError("HEED_ENV=production needs HEED_JWT_SECRET or HEED_JWT_PUBLIC_KEY")
        return cls(
            environment=environment,  # type: ignore[arg-type]
            data_dir=data_dir,
            database_url=_database_url(database_url),
            content_dir=Path(env.get("HEED_CONTENT_DIR", "content")),
            jwt_secret=secret,
            jwt_public_key=public_key,
            jwt_algorithm=algorithm,
            jwt_audience=env.get("HEED_JWT_AUDIENCE") or None,
            jwt_issuer=env.get("HEED_JWT_ISSUER") or None,
            jwt_leeway_seconds=_positive_int(env, "HEED_JWT_LEEWAY_SECONDS", 30),
            admin_key=admin_key,
            default_locale=env.get("HEED_DEFAULT_LOCALE", "en"),
            locale_fallback=_flag(env, "HEED_LOCALE_FALLBACK", True),
            release_poll_seconds=_positive_number(env, "HEED_RELEASE_POLL_SECONDS", 2.0),
            answer_cache_mb=_positive_int(env, "HEED_ANSWER_CACHE_MB", 32),
            database_pool_size=_positive_int(env, "HEED_DB_POOL_SIZE", 16),
            trusted_documents=_trusted_documents(env),
            limits=Limits(
                max_depth=_positive_int(env, "HEED_MAX_DEPTH", Limits.max_depth),
                max_aliases=_positive_int(env, "HEED_MAX_ALIASES", Limits.max_aliases),
                max_tokens=_positive_int(env, "HEED_MAX_TOKENS", Limits.max_tokens),
                max_body_bytes=_positive_int(env, "HEED_MAX_BODY_BYTES", Limits.max_body_bytes),
                max_cost=_positive_int(env, "HEED_MAX_COST", Limits.max_cost),
                max_input_depth=_positive_int(env, "HEED_MAX_INPUT_DEPTH", Limits.max_input_depth),
                max_json_bytes=_positive_int(env, "HEED_MAX_JSON_BYTES", Limits.max_json_bytes),
                max_sockets_per_member=_positive_int(
                    env, "HEED_MAX_SOCKETS_PER_MEMBER", Limits.max_sockets_per_member
                ),
                max_subscriptions_per_socket=_positive_int(
                    env, "HEED_MAX_SUBSCRIPTIONS_PER_SOCKET", Limits.max_subscriptions_per_socket
                ),
                read_timeout_seconds=_positive_int(
                    env, "HEED_READ_TIMEOUT_SECONDS", Limits.read_timeout_seconds
                ),
                max_header_bytes=_positive_int(
                    env, "HEED_MAX_HEADER_BYTES", Limits.max_header_bytes
                ),
                max_headers=_positive_int(env, "HEED_MAX_HEADERS", Limits.max_headers),
                max_connections=_positive_int(env, "HEED_MAX_CONNECTIONS", Limits.max_connections),
            ),
            rate_limits=RateLimits(
                per_address=_positive_int(env, "HEED_RATE_PER_ADDRESS", RateLimits.per_address),
                per_member=_positive_int(env, "HEED_RATE_PER_MEMBER", RateLimits.per_member),
                per_organization=_positive_int(
                    env, "HEED_RATE_PER_ORGANIZATION", RateLimits.per_organization
                ),
                failed_auth_per_address=_positive_int(
                    env, "HEED_RATE_FAILED_AUTH", RateLimits.failed_auth_per_address
                ),
                invitations_per_member_hour=_positive_int(
                    env, "HEED_RATE_INVITATIONS_PER_MEMBER", RateLimits.invitations_per_member_hour
                ),
                invitations_per_organization_hour=_positive_int(
                    env,
                    "HEED_RATE_INVITATIONS_PER_ORGANIZATION",
                    RateLimits.invitations_per_organization_hour,
                ),
                workers=_positive_int(env, "HEED_WORKERS", RateLimits.workers),
            ),
            trusted_proxies=_trusted_proxies(env),
            webhooks=_webhook_settings(env),
            nudges=_nudge_settings(env),
            insight_cache_seconds=_positive_float(env, "HEED_INSIGHT_CACHE_SECONDS", 60.0),
            surfaces={
                name: _surface(env, name, default) for name, default in DEFAULT_SURFACES.items()
            },
        )


def _surface(env: Mapping[str, str], name: str, default: Surface) -> Surface:
    variable = f"HEED_SURFACE_{name.upper()}"
    raw = env.get(variable)
    if not raw:
        return default
    limit, sep, hours = raw.partition("/")
    try:
        surface = Surface(int(limit), float(hours) if sep else default.cool_off_hours)
    except ValueError:
        raise ConfigError(
            f"{variable} must be <limit>/<cool-off hours>, e.g. 1/24, not {raw!r}"
        ) from None
    if surface.limit <= 0 or surface.cool_off_hours < 0:
        raise ConfigError(f"{variable}: the limit must be above 0, the cool-off not negative")
    return surface


def _database_url(url: str) -> str:
    """Accept the URL spellings people paste (postgresql://, postgres://) and reject others."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme in ("postgres", "postgresql", "asyncpg"):
        return "asyncpg://" + url.split("://", 1)[1]
    if scheme == "sqlite":
        return url
    # Never echo the value: it may hold a password.
    raise ConfigError("DATABASE_URL must start with sqlite:// or postgres://")


def _public_key(env: Mapping[str, str]) -> str | None:
    """The key itself, or a path to a PEM file (easier to pass around than a multi-line value)."""
    value = env.get("HEED_JWT_PUBLIC_KEY") or None
    if value is None or value.lstrip().startswith("-----BEGIN"):
        return value
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"HEED_JWT_PUBLIC_KEY is neither a PEM key nor a readable file: {value}")
    return path.read_text()


def _trusted_proxies(env: Mapping[str, str]) -> tuple[str, ...]:
    """Addresses or networks (CIDR) of the proxies whose X-Forwarded-For is believed."""
    raw = env.get("HEED_TRUSTED_PROXIES", "")
    proxies = tuple(part.strip() for part in raw.split(",") if part.strip())
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(
                f"HEED_TRUSTED_PROXIES must list IP addresses or networks, not {proxy!r}"
            ) from None
    return proxies


def _trusted_documents(env: Mapping[str, str]) -> Path | None:
    """The manifest of the only documents to run; read now so a bad one stops the start."""
    from api.persisted import ManifestError, load_manifest

    value = env.get("HEED_TRUSTED_DOCUMENTS") or None
    if value is None:
        return None
    try:
        load_manifest(Path(value))
    except ManifestError as exc:
        raise ConfigError(f"HEED_TRUSTED_DOCUMENTS: {exc}") from None
    return Path(value)


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than 0, not {value}")
    return value


def _positive_number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be greater than 0, not {raw}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _webhook_settings(env: Mapping[str, str]) -> WebhookSettings:
    default = WebhookSettings()
    return WebhookSettings(
        delivery=_flag(env, "HEED_WEBHOOK_DELIVERY", default.delivery),
        poll_seconds=_positive_float(env, "HEED_WEBHOOK_POLL_SECONDS", default.poll_seconds),
        timeout_seconds=_positive_float(
            env, "HEED_WEBHOOK_TIMEOUT_SECONDS", default.timeout_seconds
        ),
        concurrency=_positive_int(env, "HEED_WEBHOOK_CONCURRENCY", default.concurrency),
        retry_base_seconds=_positive_float(
            env, "HEED_WEBHOOK_RETRY_BASE_SECONDS", default.retry_base_seconds
        ),
        retry_max_seconds=_positive_float(
            env, "HEED_WEBHOOK_RETRY_MAX_SECONDS", default.retry_max_seconds
        ),
        max_attempts=_positive_int(env, "HEED_WEBHOOK_MAX_ATTEMPTS", default.max_attempts),
        disable_after_seconds=_positive_float(
            env, "HEED_WEBHOOK_DISABLE_AFTER_SECONDS", default.disable_after_seconds
        ),
        secret_overlap_seconds=_positive_int(
            env, "HEED_WEBHOOK_SECRET_OVERLAP_SECONDS", default.secret_overlap_seconds
        ),
        retention_days=_positive_int(env, "HEED_WEBHOOK_RETENTION_DAYS", default.retention_days),
        ca_bundle=_ca_bundle(env),
        allow_http=_flag(env, "HEED_WEBHOOK_ALLOW_HTTP", default.allow_http),
        allow_private=_flag(env, "HEED_WEBHOOK_ALLOW_PRIVATE", default.allow_private),
    )


def _nudge_settings(env: Mapping[str, str]) -> NudgeSettings:
    default = NudgeSettings()
    return NudgeSettings(
        in_serve=_flag(env, "HEED_NUDGES", default.in_serve),
        interval_seconds=_positive_float(
            env, "HEED_NUDGE_INTERVAL_SECONDS", default.interval_seconds
        ),
        period_days=_positive_int(env, "HEED_NUDGE_PERIOD_DAYS", default.period_days),
        stalled_days=_positive_int(env, "HEED_NUDGE_STALLED_DAYS", default.stalled_days),
        help_hours=_positive_int(env, "HEED_NUDGE_HELP_HOURS", default.help_hours),
        health_drop=_positive_int(env, "HEED_NUDGE_HEALTH_DROP", default.health_drop),
    )


def _ca_bundle(env: Mapping[str, str]) -> Path | None:
    value = env.get("HEED_WEBHOOK_CA_BUNDLE") or None
    if value is None:
        return None
    if not Path(value).is_file():
        raise ConfigError(f"HEED_WEBHOOK_CA_BUNDLE is not a readable file: {value}")
    return Path(value)


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a number greater than 0, not {raw}")
    return value
