// Applies infra/sql/schema.sql to the database with go-sqlcmd, from a deployment script container.
// Every statement in the schema is idempotent, so each deployment runs it again safely.

param location string
param tags object

param serverFqdn string
param databaseName string
param administratorLogin string

@secure()
param administratorLoginPassword string

@description('go-sqlcmd release fetched by the script (it runs in Azure, not on your machine).')
param sqlcmdVersion string = '1.8.2'

@description('Changes on every deployment so the script runs each time.')
param runTag string = utcNow()

resource applySchema 'Microsoft.Resources/deploymentScripts@2023-08-01' = {
  name: 'apply-sql-schema'
  location: location
  tags: tags
  kind: 'AzureCLI'
  properties: {
    azCliVersion: '2.61.0'
    forceUpdateTag: runTag
    retentionInterval: 'PT1H'
    cleanupPreference: 'OnSuccess'
    timeout: 'PT15M'
    environmentVariables: [
      {
        name: 'SQL_SERVER'
        value: serverFqdn
      }
      {
        name: 'SQL_DATABASE'
        value: databaseName
      }
      {
        name: 'SQL_USER'
        value: administratorLogin
      }
      {
        // go-sqlcmd reads the password from SQLCMDPASSWORD, so it never appears on a command line.
        name: 'SQLCMDPASSWORD'
        secureValue: administratorLoginPassword
      }
      {
        name: 'SQLCMD_VERSION'
        value: sqlcmdVersion
      }
      {
        name: 'SCHEMA_SQL'
        value: loadTextContent('../sql/schema.sql')
      }
    ]
    scriptContent: '''
set -eu
curl -fsSL -o /tmp/sqlcmd.tar.bz2 "https://github.com/microsoft/go-sqlcmd/releases/download/v${SQLCMD_VERSION}/sqlcmd-linux-amd64.tar.bz2"
mkdir -p /tmp/sqlcmd
tar -xjf /tmp/sqlcmd.tar.bz2 -C /tmp/sqlcmd 2>/dev/null || python3 -c "import tarfile; tarfile.open('/tmp/sqlcmd.tar.bz2').extractall('/tmp/sqlcmd')"
printf '%s\n' "$SCHEMA_SQL" > /tmp/schema.sql
/tmp/sqlcmd/sqlcmd -S "tcp:${SQL_SERVER},1433" -d "$SQL_DATABASE" -U "$SQL_USER" -b -i /tmp/schema.sql
echo '{"schemaApplied": true}' > "$AZ_SCRIPTS_OUTPUT_PATH"
'''
  }
}

output schemaApplied bool = applySchema.properties.outputs.schemaApplied
