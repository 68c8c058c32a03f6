// A Linux Python Function App on the Flex Consumption plan (FC1), with a system-assigned identity.
// Flex Consumption: scale to zero, per-function scaling (each classifier queue scales on its own
// instances, so each loads one model), 2 or 4 GB instances for the models, identity-based
// deployment storage, and no Azure Files content share that would need a storage key.

param planName string
param appName string
param location string
param tags object

@description('Storage account blob endpoint (https://<account>.blob.core.windows.net/).')
param blobEndpoint string

@description('Container that holds the deployment package.')
param deploymentContainerName string

@allowed([
  '3.11'
  '3.12'
])
param pythonVersion string

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@description('The plan the parameters file asked for, recorded as a tag (see main.bicep skuName).')
param requestedPlan string

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: union(tags, {
    'imaginem-requested-plan': requestedPlan
  })
  kind: 'functionapp'
  // checkov:skip=CKV_AZURE_225: Zone redundancy on Flex Consumption is region-dependent and needs always-ready instances; left off so the template deploys in every Flex region.
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // checkov:skip=CKV_AZURE_222: The dashboard is reached by browsers over the internet, behind App Service Authentication with Entra ID (dashboardauth.bicep); the queue-triggered classifiers take no inbound traffic.
    // checkov:skip=CKV_AZURE_212: Flex Consumption scales out from zero by itself; there is no fixed instance count to fail over to.
    // checkov:skip=CKV_AZURE_213: Health checks are an App Service plan feature; Flex Consumption manages instance health itself.
    publicNetworkAccess: 'Enabled'
    // checkov:skip=CKV_AZURE_17: The dashboard is read by browsers signed in with Entra ID (dashboardauth.bicep); client certificates would lock them out. Queue triggers need no inbound access.
    clientCertEnabled: false
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

// Publishing uses Entra ID (azd deploy, func publish); basic-auth credentials stay off.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output id string = site.id
output principalId string = site.identity.principalId
output defaultHostName string = site.properties.defaultHostName
