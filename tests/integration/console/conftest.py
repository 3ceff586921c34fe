from __future__ import annotations

# The admin API's settings (tokens acme/globex/admin, a fresh database of each backend).
from tests.integration.api.conftest import api_settings

__all__ = ["api_settings"]
