// Azure SQL server and the database that holds pipeline_output, audited to Log Analytics.
// The pyodbc connection string (with the admin login) is written to Key Vault, never to an output.

param serverName string
param databaseName string
param location string
param tags object

param administratorLogin string

@secure()
param administratorLoginPassword string

@description('Database collation.')
param collation string

@description('Edition (tier) of the database SKU.')
param edition string

@description('Service objective (SKU name): Basic, S0, P1, GP_S_Gen5_1, ...')
param requestedServiceObjectiveName string

@description('Largest database size, in bytes.')
param maxSizeBytes int

@description('ODBC driver named in the connection string; the Functions Python images ship 17 and 18.')
param odbcDriver string

@description('An IPv4 address allowed through the firewall (yours, to run sqlcmd); empty adds no rule.')
param clientIpAddress string = ''

@description('Log Analytics workspace that receives the audit log.')
param workspaceId string

param keyVaultName string
param connectionStringSecretName string
param adminPasswordSecretName string

resource server 'Microsoft.Sql/servers@2021-11-01' = {
  name: serverName
  location: location
  tags: tags
  properties: {
    // checkov:skip=CKV2_AZURE_27: The original deployment's SQL login (administratorLogin, administratorLoginPassword) is kept so its parameters file works; the app gets it from Key Vault.
    administratorLogin: administratorLogin
    administratorLoginPassword: administratorLoginPassword
    version: '12.0'
    minimalTlsVersion: '1.2'
    // checkov:skip=CKV_AZURE_113: Flex Consumption without a virtual network reaches SQL over its public endpoint; the firewall admits Azure services and one optional client address only.
    publicNetworkAccess: 'Enabled'
  }
}

// 0.0.0.0 to 0.0.0.0 is Azure's "allow Azure services" rule, not the whole internet.
resource allowAzureServices 'Microsoft.Sql/servers/firewallRules@2021-11-01' = {
  parent: server
  name: 'AllowAllWindowsAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

resource allowClient 'Microsoft.Sql/servers/firewallRules@2021-11-01' = if (!empty(clientIpAddress)) {
  parent: server
  name: 'AllowDeployingClient'
  properties: {
    startIpAddress: clientIpAddress
    endIpAddress: clientIpAddress
  }
}

resource database 'Microsoft.Sql/servers/databases@2021-11-01' = {
  // checkov:skip=CKV_AZURE_26: Alerts are set once for the whole server (securityAlertPolicies below) and go to the subscription admins.
  // checkov:skip=CKV_AZURE_27: Alerts are set once for the whole server and email the admins (securityAlertPolicies below).
  // checkov:skip=CKV_AZURE_229: The default Basic tier has no zone redundancy; pipeline_output is a results table, not the system of record.
  parent: server
  name: databaseName
  location: location
  tags: tags
  sku: {
    name: requestedServiceObjectiveName
    tier: edition
  }
  properties: {
    collation: collation
    maxSizeBytes: maxSizeBytes
    zoneRedundant: false
  }
}

// Server auditing goes to Azure Monitor through the master database's diagnostic setting.
// (CKV_AZURE_23 and CKV_AZURE_25 are skipped in infra/.checkov.yaml: see there.)
resource masterDatabase 'Microsoft.Sql/servers/databases@2021-11-01' existing = {
  parent: server
  name: 'master'
}

resource auditDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: masterDatabase
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        category: 'SQLSecurityAuditEvents'
        enabled: true
      }
    ]
  }
}

resource auditing 'Microsoft.Sql/servers/auditingSettings@2021-11-01' = {
  parent: server
  name: 'default'
  properties: {
    state: 'Enabled'
    isAzureMonitorTargetEnabled: true
    retentionDays: 90
  }
  dependsOn: [
    auditDiagnostics
  ]
}

resource securityAlerts 'Microsoft.Sql/servers/securityAlertPolicies@2021-11-01' = {
  parent: server
  name: 'Default'
  properties: {
    state: 'Enabled'
    emailAccountAdmins: true
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// Braces quote the password for ODBC, so ';' in it is safe; '}' is doubled.
var odbcPassword = '{${replace(administratorLoginPassword, '}', '}}')}}'

resource connectionStringSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: connectionStringSecretName
  // checkov:skip=CKV_AZURE_41: The secret is rewritten by every deployment from its source (service key or SQL login); an expiry date would make the app fail silently once it passes.
  properties: {
    contentType: 'text/plain'
    value: 'Driver={${odbcDriver}};Server=tcp:${server.properties.fullyQualifiedDomainName},1433;Database=${database.name};Uid=${administratorLogin};Pwd=${odbcPassword};Encrypt=yes;TrustServerCertificate=no;Connection Timeout=30;'
  }
}

// Kept so that `azd provision` can reuse the password (secretOrRandomPassword) instead of rotating it.
resource adminPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: adminPasswordSecretName
  // checkov:skip=CKV_AZURE_41: The secret is rewritten by every deployment from its source (service key or SQL login); an expiry date would make the app fail silently once it passes.
  properties: {
    contentType: 'text/plain'
    value: administratorLoginPassword
  }
}

output serverName string = server.name
output serverFqdn string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
