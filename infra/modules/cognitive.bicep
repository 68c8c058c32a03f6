// One Cognitive Services account (Computer Vision or Face) whose key goes straight into Key Vault,
// so no key ever appears in a deployment output.

param name string
param location string
param tags object

@allowed([
  'ComputerVision'
  'Face'
])
param kind string

@allowed([
  'F0'
  'S0'
  'S1'
])
param skuName string

@description('Key Vault that receives the account key.')
param keyVaultName string

@description('Name of the secret that holds the key.')
param secretName string

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: name
  location: location
  tags: tags
  kind: kind
  sku: {
    name: skuName
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    customSubDomainName: name
    // checkov:skip=CKV_AZURE_134: Flex Consumption without a virtual network calls the service over its public endpoint; callers need the key from Key Vault.
    publicNetworkAccess: 'Enabled'
    // checkov:skip=CKV_AZURE_236: The pipeline's Azure backends authenticate with the account key (VISION_API_KEY, FACE_API_KEY), kept in Key Vault.
    disableLocalAuth: false
    networkAcls: {
      defaultAction: 'Allow'
    }
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource keySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: secretName
  // checkov:skip=CKV_AZURE_41: The secret is rewritten by every deployment from its source (service key or SQL login); an expiry date would make the app fail silently once it passes.
  properties: {
    value: account.listKeys().key1
    contentType: 'text/plain'
  }
}

output name string = account.name
output endpoint string = account.properties.endpoint
