"""In Azure the dashboard is not anonymous: App Service Authentication with Entra ID, closed without a registration."""

from __future__ import annotations

import pytest

from infra.check import load_bicep_files
from infra.check.bicep import walk_resources
from tests.infra.conftest import INFRA, REPO

pytestmark = pytest.mark.infra


def test_every_http_route_needs_a_signed_in_user_and_without_a_registration_none_gets_in() -> None:
    files, problems = load_bicep_files(INFRA, root=REPO)
    assert problems == []
    auth = (INFRA / "modules" / "dashboardauth.bicep").read_text(encoding="utf-8")
    assert any(f.path.name == "dashboardauth.bicep" and kind.startswith("Microsoft.Web/sites/config")
               for f, _, kind, _ in walk_resources(files))
    assert "name: 'authsettingsV2'" in auth and "requireAuthentication: true" in auth
    assert "unauthenticatedClientAction: empty(clientId) ? 'Return401' : 'RedirectToLoginPage'" in auth
    main = (INFRA / "main.bicep").read_text(encoding="utf-8")
    assert "module dashboardAuth 'modules/dashboardauth.bicep'" in main and "clientId: dashboardClientId" in main
    assert "param dashboardClientId string = ''" in main
