"""Configuration from environment variables, validated once at start.

Every setting has a default that works on a laptop; a wrong value stops the process with one
line naming the variable, never a traceback.
"""

from __future__ import annotations

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
    limits: Limits = field(default_factory=Limits)
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
            release_poll_seconds=_positive_int(env, "HEED_RELEASE_POLL_SECONDS", 2),
            answer_cache_mb=_positive_int(env, "HEED_ANSWER_CACHE_MB", 32),
            database_pool_size=_positive_int(env, "HEED_DB_POOL_SIZE", 16),
            limits=Limits(
                max_depth=_positive_int(env, "HEED_MAX_DEPTH", Limits.max_depth),
                max_aliases=_positive_int(env, "HEED_MAX_ALIASES", Limits.max_aliases),
                max_tokens=_positive_int(env, "HEED_MAX_TOKENS", Limits.max_tokens),
                max_body_bytes=_positive_int(env, "HEED_MAX_BODY_BYTES", Limits.max_body_bytes),
            ),
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


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")
