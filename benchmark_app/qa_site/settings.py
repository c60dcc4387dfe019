"""Settings of the bundled Q&A site. Every setting comes from a QA_* environment variable.

The README's table lists them all. Defaults give a plain ``runserver`` look-around on SQLite;
the harness (scalelab) sets PostgreSQL, the cache, sessions and static serving explicitly.
A bad value stops start-up with a message naming the variable and what is allowed.
"""

import os
import re
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name, default, choices=None):
    value = os.environ.get(name, default)
    if choices is not None and value not in choices:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not allowed; use one of: {', '.join(choices)}")
    return value


def env_int(name, default, low, high):
    raw = os.environ.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ImproperlyConfigured(f"{name}={raw!r} must be a whole number from {low} to {high}")
    return value


def env_bool(name, default):
    raw = os.environ.get(name, "1" if default else "0").lower()
    if raw not in ("0", "1", "true", "false", "yes", "no"):
        raise ImproperlyConfigured(f"{name}={raw!r} must be 1 or 0")
    return raw in ("1", "true", "yes")


def _secret_key():
    key = os.environ.get("QA_SECRET_KEY")
    if key:
        return key
    # Generated once and shared by every worker process (a per-process key would break
    # sessions and CSRF across workers).
    path = Path(os.environ.get("QA_SECRET_KEY_FILE", BASE_DIR / ".secret_key"))
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        # readable by its owner only: the key signs sessions and CSRF tokens
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
        os.replace(tmp, path)
        return path.read_text().strip()


DEBUG = env_bool("QA_DEBUG", False)
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [h for h in env("QA_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "qa",
]

MIDDLEWARE = [
    "qa.middleware.QueryCountMiddleware",
    "qa.routers.ReadYourWritesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

# minimal (notebook 08): only the query counter, what a page that reads no session, user or
# form needs; full: everything a Django site usually carries
if env("QA_MIDDLEWARE", "full", ("full", "minimal")) == "minimal":
    MIDDLEWARE = ["qa.middleware.QueryCountMiddleware"]

ROOT_URLCONF = "qa_site.urls"
WSGI_APPLICATION = "qa_site.wsgi.application"
ASGI_APPLICATION = "qa_site.asgi.application"

TEMPLATES = [{
    "NAME": "django",
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
}, {
    # the same pages in Jinja2 (qa/jinja2/, notebook 08); Django's backend is found first
    "NAME": "jinja2",
    "BACKEND": "django.template.backends.jinja2.Jinja2",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"environment": "qa.jinja2_env.environment"},
}]

# --- database -------------------------------------------------------------------------
DB_ENGINE = env("QA_DB", "sqlite", ("sqlite", "postgres"))
CONN_MAX_AGE = env_int("QA_DB_CONN_MAX_AGE", 60, 0, 86400)
DB_POOL = env_bool("QA_DB_POOL", False)
# PgBouncer in transaction pooling mode in front (notebook 07): consecutive transactions of one
# connection may reach different server sessions, so nothing may outlive a transaction: no
# server-side prepared statements, no server-side cursors
DB_PGBOUNCER = env_bool("QA_DB_PGBOUNCER", False)
if DB_ENGINE == "postgres":
    _options = {"prepare_threshold": None} if DB_PGBOUNCER else {}
    if DB_PGBOUNCER and DB_POOL:
        raise ImproperlyConfigured("QA_DB_PGBOUNCER=1 and QA_DB_POOL=1: choose one pool")
    if DB_POOL:
        if CONN_MAX_AGE:
            raise ImproperlyConfigured(
                "QA_DB_POOL=1 needs QA_DB_CONN_MAX_AGE=0 (Django's pool replaces persistent "
                "connections)")
        _options["pool"] = {"min_size": env_int("QA_DB_POOL_MIN", 2, 1, 100),
                            "max_size": env_int("QA_DB_POOL_MAX", 4, 1, 100)}
        if _options["pool"]["min_size"] > _options["pool"]["max_size"]:
            raise ImproperlyConfigured(
                f"QA_DB_POOL_MIN={_options['pool']['min_size']} must not exceed "
                f"QA_DB_POOL_MAX={_options['pool']['max_size']}")
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": env("QA_DB_HOST", "127.0.0.1"),
        "PORT": env_int("QA_DB_PORT", 5432, 1, 65535),
        "NAME": env("QA_DB_NAME", "qa"),
        "USER": env("QA_DB_USER", "scalelab"),
        "PASSWORD": env("QA_DB_PASSWORD", ""),
        "CONN_MAX_AGE": CONN_MAX_AGE,
        "CONN_HEALTH_CHECKS": False,
        "DISABLE_SERVER_SIDE_CURSORS": DB_PGBOUNCER,
        "OPTIONS": _options,
    }}
    # read replicas (notebook 06): streaming standbys of the same database, on the ports
    # listed (comma-separated, at most 8); the router sends each read to one of them and
    # writes to "default" (qa/routers.py). Aliases: "replica", "replica2", ...
    _replica_ports = [p.strip() for p in os.environ.get("QA_DB_REPLICA_PORT", "").split(",")
                      if p.strip()]
    if len(_replica_ports) > 8 or not all(p.isdigit() and 1 <= int(p) <= 65535
                                          for p in _replica_ports):
        raise ImproperlyConfigured(
            f"QA_DB_REPLICA_PORT={os.environ.get('QA_DB_REPLICA_PORT')!r} must be up to 8 "
            "ports from 1 to 65535, separated by commas")
    for _i, _port in enumerate(_replica_ports):
        DATABASES["replica" + (str(_i + 1) if _i else "")] = {
            **DATABASES["default"], "PORT": int(_port), "OPTIONS": dict(_options),
            "TEST": {"MIRROR": "default"}}
    if _replica_ports:
        DATABASE_ROUTERS = ["qa.routers.PrimaryReplicaRouter"]
    # after a write, a visitor's reads go to the primary for this many seconds (0: never), so
    # they see their own write however far the replica lags
    READ_YOUR_WRITES_S = env_int("QA_READ_YOUR_WRITES_S", 0, 0, 3600)
    # reads fall back to the primary while the replica is down; how often to try it again
    REPLICA_RETRY_S = env_int("QA_REPLICA_RETRY_S", 1, 1, 600)
else:
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env("QA_SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
    }}

# --- cache ----------------------------------------------------------------------------
# "default" is the backend QA_CACHE names. Besides it, every backend the app can reach is also
# an alias of its own ("locmem", "db", and "redis"/"memcached" when their location is given),
# so experiments can compare backends through one running app.
CACHE_BACKEND = env("QA_CACHE", "none", ("none", "locmem", "redis", "memcached", "db"))
CACHE_LOCATION = os.environ.get("QA_CACHE_LOCATION", "")
CACHE_TIMEOUT = env_int("QA_CACHE_TIMEOUT", 60, 0, 86400)
CACHE_MAX_ENTRIES = env_int("QA_CACHE_MAX_ENTRIES", 10000, 1, 10_000_000)
_cache_backends = {
    "none": ("django.core.cache.backends.dummy.DummyCache", ""),
    "locmem": ("django.core.cache.backends.locmem.LocMemCache", "qa"),
    "redis": ("django.core.cache.backends.redis.RedisCache", "redis://127.0.0.1:6379/0"),
    "memcached": ("django.core.cache.backends.memcached.PyMemcacheCache", "127.0.0.1:11211"),
    "db": ("django.core.cache.backends.db.DatabaseCache", "qa_cache_table"),
}


_LOCATION_FORMS = {  # what a cache location must look like, or every request fails
    "redis": (re.compile(r"(rediss?|unix)://\S+"), "redis://HOST:PORT/DB"),
    "memcached": (re.compile(r"[\w.\-]+:\d{1,5}|unix:/\S+"), "HOST:PORT"),
}


def _cache(kind, location=""):
    backend, default_location = _cache_backends[kind]
    if location and kind in _LOCATION_FORMS:
        pattern, form = _LOCATION_FORMS[kind]
        if not pattern.fullmatch(location):
            raise ImproperlyConfigured(
                f"the {kind} cache location {location!r} (QA_CACHE_LOCATION or "
                f"QA_CACHE_{kind.upper()}_LOCATION) must look like {form}")
    conf = {"BACKEND": backend, "LOCATION": location or default_location,
            "TIMEOUT": CACHE_TIMEOUT}
    if kind in ("locmem", "db"):
        conf["OPTIONS"] = {"MAX_ENTRIES": CACHE_MAX_ENTRIES}
    return conf


CACHES = {"default": _cache(CACHE_BACKEND, CACHE_LOCATION),
          "locmem": _cache("locmem"), "db": _cache("db")}
for _kind in ("redis", "memcached"):
    _location = os.environ.get(f"QA_CACHE_{_kind.upper()}_LOCATION", "")
    if _location or (CACHE_BACKEND == _kind and CACHE_LOCATION):
        CACHES[_kind] = _cache(_kind, _location or CACHE_LOCATION)
# The per-site cache: Django's cache middleware around every page (claim C2's "out of the box").
CACHE_MIDDLEWARE = env_bool("QA_CACHE_MIDDLEWARE", False)
CACHE_MIDDLEWARE_SECONDS = CACHE_TIMEOUT
CACHE_MIDDLEWARE_KEY_PREFIX = "site"
if CACHE_MIDDLEWARE:
    MIDDLEWARE = (["django.middleware.cache.UpdateCacheMiddleware"] + MIDDLEWARE
                  + ["django.middleware.cache.FetchFromCacheMiddleware"])

# --- sessions -------------------------------------------------------------------------
_sessions = {
    "db": "django.contrib.sessions.backends.db",
    "cache": "django.contrib.sessions.backends.cache",
    "cached_db": "django.contrib.sessions.backends.cached_db",
    "signed_cookies": "django.contrib.sessions.backends.signed_cookies",
}
SESSION_ENGINE = _sessions[env("QA_SESSION_ENGINE", "db", tuple(_sessions))]

# --- static files ---------------------------------------------------------------------
# django: Django serves /static/ itself (the thing C8 says not to do); whitenoise: WhiteNoise
# serves what `collectstatic` gathered into QA_STATIC_ROOT (names with a content hash, gzip and
# brotli copies made once, a year's cache lifetime for hashed names); none: the app serves no
# static files (a proxy in front does, or nobody).
STATIC_MODE = env("QA_STATIC_MODE", "django", ("django", "whitenoise", "none"))
STATIC_URL = "static/"
STATIC_ROOT = os.environ.get("QA_STATIC_ROOT", str(BASE_DIR / "qa" / "static"))
if STATIC_MODE == "whitenoise":
    if not os.environ.get("QA_STATIC_ROOT"):
        raise ImproperlyConfigured("QA_STATIC_MODE=whitenoise needs QA_STATIC_ROOT: the folder "
                                   "`manage.py collectstatic` fills (not the app's own static/)")
    MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
                      "whitenoise.middleware.WhiteNoiseMiddleware")
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

# --- the slow upstream IO-bound views wait on (notebook 03) ------------------------------
UPSTREAM_URL = os.environ.get("QA_UPSTREAM_URL", "").rstrip("/")

# --- instrumentation ------------------------------------------------------------------
# Adds an X-DB-Queries response header (queries this request ran). Cheap; on by default.
QUERY_COUNT_HEADER = env_bool("QA_QUERY_COUNT_HEADER", True)

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("QA_LOG_LEVEL", "WARNING",
                                                   ("DEBUG", "INFO", "WARNING", "ERROR"))},
}
