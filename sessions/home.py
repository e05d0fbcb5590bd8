"""The data home: one private folder holding the client registry and every session.

Where it is, first match wins:

1. the ``ATTUNE_HOME`` environment variable;
2. ``home`` in the ``[session]`` table of the user settings file (``ATTUNE_SETTINGS``,
   default ``<user config dir>/attune/config.toml``, e.g. ``~/.config/attune/config.toml``);
3. the platform's user data directory (platformdirs), e.g. ``~/.local/share/attune``.

Layout::

    HOME/                 0700
      registry.db         the client registry (attune.sessions.clients)
      sessions/<id>/      one folder per session (attune.sessions.store)
      progress/<C>.html   progress pages (clear mode only; see attune.sessions.progress)
      .encrypted          empty marker: this home's data are encrypted (ensure_home)

Encryption at rest: with a key (``ATTUNE_KEY``, or the OS keyring entry service
``attune``, user ``data-key`` when the optional ``keyring`` package is installed), every
store and the registry are SQLCipher databases. The key is never written anywhere: a
256-bit database key is derived from it in memory (PBKDF2-HMAC-SHA256) and handed to
SQLCipher as a raw key.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import tomllib
from pathlib import Path

#: Environment variable naming the data home.
HOME_ENV = "ATTUNE_HOME"
#: Environment variable holding the passphrase of encryption at rest.
KEY_ENV = "ATTUNE_KEY"
#: Environment variable naming the user settings file.
SETTINGS_ENV = "ATTUNE_SETTINGS"
#: Name used for the platform directories and the keyring service.
APP = "attune"
#: Keyring user name of the passphrase.
KEYRING_USER = "data-key"
#: Sub-folders and files of the home.
SESSIONS_SUBDIR = "sessions"
PROGRESS_SUBDIR = "progress"
REGISTRY_FILE = "registry.db"
#: Empty file marking a home whose data are encrypted (see :func:`ensure_home`).
ENCRYPTED_MARKER = ".encrypted"
#: PBKDF2 rounds and salt of the database key (fixed: the key is the same for every
#: store, so any store opens with the one passphrase; SQLCipher salts each file's HMAC).
KDF_ROUNDS = 200_000
KDF_SALT = b"attune data home v1"


class HomeError(Exception):
    """The data home or its settings are unusable (one-line message)."""


def settings_path() -> Path:
    """Return the user settings file (it may not exist)."""
    env = os.environ.get(SETTINGS_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def _settings_home() -> Path | None:
    path = settings_path()
    if not path.is_file():
        return None
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise HomeError(f"{path}: unreadable settings file ({e})") from None
    value = raw.get("session", {}).get("home") if isinstance(raw.get("session"), dict) else None
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise HomeError(f"{path}: session.home must be a folder path, got {value!r}")
    return Path(value).expanduser()


def home_dir(*, create: bool = False) -> Path:
    """Return the data home (``ATTUNE_HOME``, the settings file, or the platform default).

    Parameters
    ----------
    create : bool
        Create it (mode 0700) if missing.
    """
    env = os.environ.get(HOME_ENV)
    if env:
        home = Path(env).expanduser()
    else:
        home = _settings_home() or _platform_home()
    if create:
        try:
            home.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            raise HomeError(f"data home {home}: cannot create it: {e.strerror}") from None
    return home


def _platform_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir(APP))


def ensure_home() -> Path:
    """Create the data home if needed and check it matches the encryption setting.

    A home first used with a key gets an empty marker file :data:`ENCRYPTED_MARKER`
    (it holds nothing secret); using that home without a key then stops with a
    :class:`HomeError` instead of writing clear data beside encrypted data.
    """
    home = home_dir(create=True)
    marker = home / ENCRYPTED_MARKER
    if data_key() is not None:
        if not marker.exists():
            os.close(os.open(marker, os.O_WRONLY | os.O_CREAT, 0o600))
    elif marker.exists():
        raise HomeError(
            f"data home {home} is encrypted: set {KEY_ENV} (or the OS keyring entry) to its key"
        )
    return home


def sessions_dir() -> Path:
    """Return ``HOME/sessions``: where sessions go unless a session sets ``output_dir``."""
    return home_dir() / SESSIONS_SUBDIR


def progress_dir() -> Path:
    """Return ``HOME/progress``: where ``attune progress`` writes pages by default."""
    return home_dir() / PROGRESS_SUBDIR


def registry_path() -> Path:
    """Return ``HOME/registry.db``."""
    return home_dir() / REGISTRY_FILE


def _passphrase() -> str | None:
    env = os.environ.get(KEY_ENV)
    if env:
        return env
    try:
        import keyring  # optional
    except ImportError:
        return None
    try:
        return keyring.get_password(APP, KEYRING_USER) or None
    except Exception:  # no usable keyring backend: encryption stays off
        return None


@functools.lru_cache(maxsize=4)
def _derive(passphrase: str) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", passphrase.encode("utf-8"), KDF_SALT, KDF_ROUNDS)


def data_key() -> bytes | None:
    """Return the 32-byte database key, or None when encryption at rest is off."""
    phrase = _passphrase()
    return None if phrase is None else _derive(phrase)


def encryption_on() -> bool:
    """Tell whether stores and the registry are encrypted (a key is available)."""
    return data_key() is not None


def pseudonym_tag(participant: str) -> str:
    """Return what names a participant in folder names.

    In clear mode the pseudonym itself; with encryption on an 8-hex-digit keyed hash
    (stable for one key, meaningless without it), so no folder name reveals a client.
    """
    key = data_key()
    if key is None:
        return participant
    return "p" + hmac.new(key, participant.encode("utf-8"), "sha256").hexdigest()[:8]
