// The dashboard and every HTTP route are not anonymous in Azure: App Service Authentication
// (Easy Auth) with Microsoft Entra ID sits in front of the app. Browsers are sent to sign in;
// the page, its API and the image route then work with the session cookie, and no key ever
// appears in a URL. Queue triggers are not HTTP requests, so the classifiers run as before.
// Without an app registration (dashboardClientId empty) every HTTP request gets 401: closed by default.
// With one, any user of the tenant signs in unless allowedPrincipals or allowedGroups say who may.

param appName string

@description('Application (client) ID of the Entra ID app registration users sign in with; empty refuses every HTTP request with 401.')
param clientId string

@description('Tenant whose users may sign in.')
param tenantId string = tenant().tenantId

@description('Object IDs of the users and service principals allowed in (the token\'s oid claim); empty: no such check.')
param allowedPrincipals array = []

@description('Object IDs of the Entra ID groups whose members are allowed in (the token\'s groups claim: the app registration must emit group claims); empty: no such check.')
param allowedGroups array = []

var restricted = !empty(allowedPrincipals) || !empty(allowedGroups)
var identities = empty(allowedPrincipals) ? {} : {
  identities: allowedPrincipals
}
var groups = empty(allowedGroups) ? {} : {
  groups: allowedGroups
}
// The built-in authorization policy: a signed-in user it does not allow gets 403.
var authorization = restricted ? {
  defaultAuthorizationPolicy: {
    allowedPrincipals: union(identities, groups)
  }
} : {}

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: appName
}

resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  // Checkov reads any sites/config resource as a whole web-app configuration; these checks are about
  // the site's siteConfig (functionapp.bicep), not about its authentication settings.
  // checkov:skip=CKV_AZURE_13: Misapplied: this resource is the App Service Authentication (authsettingsV2) itself.
  // checkov:skip=CKV_AZURE_63: Misapplied: HTTP logging is a web-app siteConfig setting; the app logs to Application Insights.
  // checkov:skip=CKV_AZURE_65: Misapplied: detailed error pages are a web-app siteConfig setting.
  // checkov:skip=CKV_AZURE_66: Misapplied: failed-request tracing is a web-app siteConfig setting; failures go to Application Insights.
  // checkov:skip=CKV_AZURE_80: Misapplied: .NET Framework version; this is a Python app.
  // checkov:skip=CKV_AZURE_88: Misapplied: Flex Consumption has no Azure Files content share (it would need a storage key).
  // checkov:skip=CKV_AZURE_222: Misapplied here; public network access is set on the site (functionapp.bicep), behind this sign-in.
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: empty(clientId) ? 'Return401' : 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: !empty(clientId)
        registration: {
          clientId: clientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenantId}/v2.0'
        }
        validation: union({
          allowedAudiences: empty(clientId) ? [] : [
            clientId
            'api://${clientId}'
          ]
        }, authorization)
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}

output enabled bool = !empty(clientId)
output restricted bool = restricted
