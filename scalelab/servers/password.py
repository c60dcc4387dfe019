"""The lab's database password: generated once, kept in a 0600 file under the state directory.

PostgreSQL (and PgBouncer in front of it) ask every client for it (scram-sha-256), so another
local user cannot log in as the lab's role, which is a superuser. The harness reads the file
and hands the password to what needs it: the app through its environment, PgBouncer through
its own 0600 user list, the replica through its connection settings inside its data folder.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from scalelab.plumbing import paths

ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def password_file() -> Path:
    return paths.state_dir() / "secrets" / "postgres-password"


def lab_password() -> str:
    """The password, made on first use (32 random URL-safe characters: nothing to quote in
    SQL, a connection string or PgBouncer's user list)."""
    path = password_file()
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    if not path.exists():  # written whole, then linked in: a reader never sees half of it
        tmp = folder / f".new.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(24) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: theirs it is
        finally:
            tmp.unlink()
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    value = path.read_text().strip()
    if len(value) < 16 or not set(value) <= ALPHABET:
        raise ValueError(f"the lab's database password in {path} is not one the lab made "
                         "(16 or more letters, digits, '-' or '_'); delete the file and the "
                         "lab makes a new one at the next start")
    return value
