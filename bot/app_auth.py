"""GitHub App authentication: the App's JWT (PyGithub Auth.AppAuth) buys installation tokens,
which the jobs use through bot.github_client.make_github.

Tokens live in this process' memory only (never on disk, never in a child's environment) and are
reused until five minutes before they expire.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from github import Auth, Github, GithubIntegration

from bot.github_client import make_github, make_retry
from bot.settings import Settings

REFRESH_MARGIN = 300  # seconds before expiry when a token is replaced


@dataclass
class InstallationToken:
    token: str
    expires_at: float  # time.time()


class AppAuth:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._tokens: dict[int, InstallationToken] = {}
        self._integration: GithubIntegration | None = None

    def integration(self) -> GithubIntegration:
        with self._lock:
            if self._integration is None:
                auth = Auth.AppAuth(int(self.settings.app_id), self.settings.read_private_key())
                self._integration = GithubIntegration(auth=auth, base_url=self.settings.api_url,
                                                      retry=make_retry())
            return self._integration

    def token(self, installation_id: int) -> str:
        with self._lock:
            cached = self._tokens.get(installation_id)
            if cached and cached.expires_at - REFRESH_MARGIN > time.time():
                return cached.token
        access = self.integration().get_access_token(installation_id)
        expires = access.expires_at.timestamp() if access.expires_at else time.time() + 3600
        with self._lock:
            self._tokens[installation_id] = InstallationToken(access.token, expires)
        return access.token

    def forget(self, installation_id: int) -> None:
        """Drop a cached token (the installation was deleted or suspended)."""
        with self._lock:
            self._tokens.pop(installation_id, None)

    def github(self, installation_id: int) -> Github:
        """A client acting as the App on one installation, with retries."""
        return make_github(self.token(installation_id), self.settings.api_url)
