// Key Vault for the app's secrets; the Function App reads them through Key Vault references.
// Keys passed as parameters are stored here; the Cognitive and SQL modules add their own secrets.

param name string
param location string
param tags object

@secure()
@description('Computer Vision key given by the user; empty stores nothing.')
param visionApiKey string = ''

@secure()
@description('Face key given by the user; empty stores nothing.')
param faceApiKey string = ''

@description('Secret names the app settings refer to.')
param visionSecretName string
param faceSecretName string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    // checkov:skip=CKV_AZURE_42: Soft delete is on (7 days); purge protection is left off for the reason below.
    // checkov:skip=CKV_AZURE_110: Purge protection would keep the vault name reserved after `az group delete`, so the documented clean-up and redeploy would fail; every secret here can be recreated from its service.
    // checkov:skip=CKV_AZURE_189: Flex Consumption without a virtual network reads Key Vault references over the public endpoint; access is RBAC-only.
    publicNetworkAccess: 'Enabled'
    // checkov:skip=CKV_AZURE_109: Flex Consumption without a virtual network reaches Key Vault from shared outbound addresses; access is by RBAC (Key Vault Secrets User) only.
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource visionSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(visionApiKey)) {
  parent: vault
  name: visionSecretName
  // checkov:skip=CKV_AZURE_41: The secret is rewritten by every deployment from its source (service key or SQL login); an expiry date would make the app fail silently once it passes.
  // checkov:skip=CKV_AZURE_114: False positive: contentType is set below; checkov does not read the properties of a conditional (if) resource.
  properties: {
    value: visionApiKey
    contentType: 'text/plain'
  }
}

resource faceSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(faceApiKey)) {
  parent: vault
  name: faceSecretName
  // checkov:skip=CKV_AZURE_41: The secret is rewritten by every deployment from its source (service key or SQL login); an expiry date would make the app fail silently once it passes.
  // checkov:skip=CKV_AZURE_114: False positive: contentType is set below; checkov does not read the properties of a conditional (if) resource.
  properties: {
    value: faceApiKey
    contentType: 'text/plain'
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
