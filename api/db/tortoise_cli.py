"""Configuration for Tortoise's own CLI (`tortoise makemigrations`), named in pyproject.toml.

Kept out of `api.db` so that reading the environment happens only when that CLI runs.
"""

from api.db import tortoise_config
from api.settings import Settings

TORTOISE_ORM = tortoise_config(Settings.from_env().database_url)
