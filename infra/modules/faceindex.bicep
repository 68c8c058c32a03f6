// The face index in Azure Database for PostgreSQL flexible server with pgvector (faceIndex = 'postgresql').
// Entra authentication only: the Function App's managed identity is the server's Entra administrator and
// signs in with a token as its password (classifiers/backends/postgres/connect.py), so no password exists.
// The app creates its tables and the HNSW index at first use (CREATE EXTENSION IF NOT EXISTS vector).

param serverName string
param location string
param tags object

@description('Database that holds the face index.')
param databaseName string = 'faceindex'

@description('Name of the Function App: its system-assigned identity signs in under this name.')
param appName string

@description('Object (principal) id of the Function App\'s system-assigned identity.')
param appPrincipalId string

@description('Compute SKU; Burstable B1ms holds about 1M faces (HNSW index ~ 1 GB) for a small deployment.')
param skuName string = 'Standard_B1ms'

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param skuTier string = 'Burstable'

@description('Storage size in GiB.')
param storageSizeGB int = 32

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  // checkov:skip=CKV_AZURE_136: Geo-redundant backup is a choice of the deployment's owner; the face index can be rebuilt from the pipeline's outputs.
  // checkov:skip=CKV2_AZURE_57: Flex Consumption without a virtual network reaches the server over its public endpoint; the firewall admits Azure services only and sign-in is Entra-only.
  name: serverName
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: '16'
    storage: {
      storageSizeGB: storageSizeGB
    }
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Disabled'
      tenantId: subscription().tenantId
    }
    network: {
      publicNetworkAccess: 'Enabled'
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
  }
}

// pgvector must be on the server's allow-list before CREATE EXTENSION vector works.
resource extensions 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: postgres
  name: 'azure.extensions'
  properties: {
    value: 'VECTOR'
    source: 'user-override'
  }
}

// 0.0.0.0 to 0.0.0.0 is Azure's "allow Azure services" rule, not the whole internet.
resource allowAzureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: postgres
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

resource administrator 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: postgres
  name: appPrincipalId
  properties: {
    principalName: appName
    principalType: 'ServicePrincipal'
    tenantId: subscription().tenantId
  }
  dependsOn: [
    extensions
  ]
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: postgres
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

output serverFqdn string = postgres.properties.fullyQualifiedDomainName
// libpq key=value without a password: the app adds an Entra token for this Azure host.
output connectionString string = 'host=${postgres.properties.fullyQualifiedDomainName} port=5432 dbname=${database.name} user=${appName} sslmode=require'
