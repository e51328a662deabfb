"""AMASS account credentials: environment, then ~/.netrc, then a hidden prompt.

The password is held only in memory: it is never printed, logged, written to a file, put in an exception
message, or passed to another process (the download is done in-process with urllib).
"""
from __future__ import annotations

import getpass
import netrc
import os
import sys
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

# The host AMASS downloads come from; ~/.netrc entries for it are used whatever --base-url says.
DOWNLOAD_HOST = "download.is.tue.mpg.de"
SITE_HOST = "amass.is.tue.mpg.de"


class CredentialsError(RuntimeError):
    """No usable credentials; the message says where they are looked for."""


@dataclass(frozen=True)
class Credentials:
    """An AMASS login. ``repr`` and ``str`` never show the password."""

    username: str
    password: str = field(repr=False)
    source: str = "environment"  # where they came from, for messages: "environment", "~/.netrc", "prompt"

    def form_data(self) -> bytes:
        """The login form body the download site expects (``username=...&password=...``)."""
        return urllib.parse.urlencode({"username": self.username, "password": self.password}).encode()


def _netrc_path(environ: Mapping[str, str]) -> Path:
    return Path(environ["NETRC"]) if environ.get("NETRC") else Path.home() / ".netrc"


def _from_netrc(path: Path, hosts: list[str]) -> Optional[tuple[str, str]]:
    if not path.is_file():
        return None
    try:
        entries = netrc.netrc(str(path))
    except (netrc.NetrcParseError, OSError) as err:
        # The parse error quotes the offending line, which may hold a password: report only where it is.
        line = getattr(err, "lineno", None)
        where = f" (line {line})" if line else ""
        raise CredentialsError(f"{path}{where} cannot be read as a netrc file: fix or remove it "
                               "(netrc refuses files that others can read: chmod 600)") from None
    for host in hosts:
        entry = entries.authenticators(host)
        if entry and entry[0] and entry[2]:
            return entry[0], entry[2]
    return None


def resolve_credentials(
    base_url: str,
    *,
    environ: Optional[Mapping[str, str]] = None,
    netrc_file: Optional[os.PathLike] = None,
    interactive: Optional[bool] = None,
) -> Credentials:
    """Credentials for downloads from ``base_url``.

    Order: AMASS_USERNAME and AMASS_PASSWORD; else ~/.netrc (or $NETRC) for the base URL's host, then
    download.is.tue.mpg.de, then amass.is.tue.mpg.de; else a prompt (hidden password) when stdin is a terminal.
    ``interactive`` overrides the terminal check. Raises CredentialsError when none are found.
    """
    environ = os.environ if environ is None else environ
    username = environ.get("AMASS_USERNAME") or None
    password = environ.get("AMASS_PASSWORD") or None
    if username and password:
        return Credentials(username, password, "environment")

    host = urllib.parse.urlsplit(base_url).hostname or DOWNLOAD_HOST
    hosts = list(dict.fromkeys([host, DOWNLOAD_HOST, SITE_HOST]))
    path = Path(netrc_file) if netrc_file is not None else _netrc_path(environ)
    found = _from_netrc(path, hosts)
    if found and (username is None or username == found[0]):
        return Credentials(found[0], found[1], "~/.netrc" if netrc_file is None else str(path))

    if interactive is None:
        interactive = sys.stdin is not None and sys.stdin.isatty()
    if not interactive:
        raise CredentialsError(
            "no AMASS credentials: set AMASS_USERNAME and AMASS_PASSWORD, or add "
            f"'machine {DOWNLOAD_HOST} login YOU password ...' to {path} (chmod 600), "
            "or run in a terminal to be asked. Register at https://amass.is.tue.mpg.de/ first."
        )
    if username is None:
        sys.stderr.write("AMASS username (e-mail): ")
        sys.stderr.flush()
        username = sys.stdin.readline().strip()
    password = getpass.getpass(f"AMASS password for {username}: ")
    if not username or not password:
        raise CredentialsError("no AMASS username or password entered")
    return Credentials(username, password, "prompt")
