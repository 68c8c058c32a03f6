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


def test_who_may_sign_in_is_narrowed_by_principals_or_groups_and_open_to_the_tenant_only_when_both_are_empty() -> None:
    files, problems = load_bicep_files(INFRA, root=REPO)
    assert problems == []
    main = next(f for f in files if f.path.name == "main.bicep")
    auth = next(f for f in files if f.path.name == "dashboardauth.bicep")
    for name in ("dashboardAllowedPrincipals", "dashboardAllowedGroups"):
        assert main.parameters[name].type == "string" and main.parameters[name].has_default  # comma-separated
    assert {n: (p.type, p.has_default) for n, p in auth.parameters.items()
            if n.startswith("allowed")} == {"allowedPrincipals": ("array", True), "allowedGroups": ("array", True)}
    text = (INFRA / "main.bicep").read_text(encoding="utf-8")
    assert "allowedPrincipals: empty(dashboardAllowedPrincipals) ? [] : split(dashboardAllowedPrincipals, ',')" in text
    assert "allowedGroups: empty(dashboardAllowedGroups) ? [] : split(dashboardAllowedGroups, ',')" in text
    module = auth.text
    # The lists become authsettingsV2's built-in policy (oid and groups claims), and only when one is given.
    assert "var restricted = !empty(allowedPrincipals) || !empty(allowedGroups)" in module
    assert "identities: allowedPrincipals" in module and "groups: allowedGroups" in module
    assert "defaultAuthorizationPolicy: {\n    allowedPrincipals: union(identities, groups)" in module
    assert "} : {}\n" in module.split("var authorization = restricted ?")[1]
    assert "}, authorization)" in module.split("validation: union({")[1]
    parameters = (INFRA / "main.parameters.json").read_text(encoding="utf-8")
    assert '"${DASHBOARD_ALLOWED_PRINCIPALS}"' in parameters and '"${DASHBOARD_ALLOWED_GROUPS}"' in parameters
