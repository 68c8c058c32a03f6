// Imaginem on Azure: a Linux Python Function App on Flex Consumption, its storage (reached with the
// app's managed identity), Key Vault, optional Computer Vision and Face accounts, Azure SQL for
// pipeline_output, and Application Insights on Log Analytics.
//
//   az deployment group create -g <group> -f infra/main.bicep -p infra/azuredeploy.parameters.json
//
// The parameters of the original azuredeploy.parameters.json keep their names and meaning; the
// newer ones all have defaults. the README's "Deploy to Azure" walks through a deployment.
targetScope = 'resourceGroup'

// ---------------------------------------------------------------------------------------------
// Parameters of the original template (azuredeploy.parameters.json)
// ---------------------------------------------------------------------------------------------

@description('Git branch the deployed code comes from, recorded as a tag. Publish the code with `azd deploy` or `func azure functionapp publish`.')
param branch string = 'main'

@description('Comma-separated queues a job visits when its message names none (PIPELINE_DEFINITION).')
param pipelineDefinition string = 'generalclassification,ocr,facedetection,facecrop,faceprint,facematch,pipelineoutput'

@description('Comma-separated queues served by other apps that a processing_pipeline may name (EXTERNAL_QUEUES); created with the classifiers\' queues.')
param externalQueues string = ''

@secure()
@description('Face API key. Empty: a Face account is created (createCognitiveAccounts) or the local face models run.')
param faceApiKey string = ''

@secure()
@description('Computer Vision key. Empty: a Computer Vision account is created (createCognitiveAccounts) or the local models run.')
param visionApiKey string = ''

@minLength(1)
@description('SQL server administrator login.')
param administratorLogin string

@secure()
@minLength(12)
@description('SQL server administrator password (Azure SQL password rules: 3 of upper, lower, digit, symbol).')
param administratorLoginPassword string

@description('Database collation.')
param collation string = 'SQL_Latin1_General_CP1_CI_AS'

@allowed([
  'Basic'
  'Standard'
  'Premium'
  'GeneralPurpose'
])
@description('Database edition (SKU tier); it must match requestedServiceObjectiveName.')
param edition string = 'Basic'

@description('Largest database size in bytes, as a string (as in the original template). Basic allows up to 2 GB.')
param maxSizeBytes string = '1073741824'

@allowed([
  'Basic'
  'S0'
  'S1'
  'S2'
  'S3'
  'P1'
  'P2'
  'P4'
  'GP_S_Gen5_1'
  'GP_S_Gen5_2'
])
@description('Database service objective (SKU name): Basic, S0-S3 (Standard), P1-P4 (Premium), GP_S_Gen5_* (serverless General Purpose).')
param requestedServiceObjectiveName string = 'Basic'

@allowed([
  'FC1'
  'F1'
  'D1'
  'B1'
  'B2'
  'B3'
  'S1'
  'S2'
  'S3'
  'P1'
  'P2'
  'P3'
  'P1v2'
  'P2v2'
  'P3v2'
  'Y1'
])
@description('Hosting plan. The app always runs on Flex Consumption (FC1); the App Service plan names of the original template are accepted so old parameters files still deploy, and are recorded as a tag.')
param skuName string = 'FC1'

@minValue(1)
@maxValue(100)
@description('Instance count of the original App Service plan; kept for old parameters files (Flex Consumption scales by itself up to maximumInstanceCount) and recorded as a tag.')
param skuCapacity int = 1

@maxLength(16)
@description('Suffix of every resource name (lowercase letters and digits). Empty: a hash of the subscription, group and environment. Storage, Key Vault, SQL and the app need globally unique names.')
param deploymentPostFix string = ''

// ---------------------------------------------------------------------------------------------
// Newer parameters, all optional
// ---------------------------------------------------------------------------------------------

@description('Region of every resource. Flex Consumption runs in a subset of regions: `az functionapp list-flexconsumption-locations`.')
param location string = resourceGroup().location

@description('azd environment name (set by `azd up`); tags the resources.')
param environmentName string = ''

@description('Extra tags for every resource.')
param tags object = {}

@description('Object id of a user or service principal given data access to the queues, tables and blobs (to drop jobs and read pipelinelogs). azd fills in the signed-in user.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

@description('Create Computer Vision and Face accounts for the keys that are not given. false: without a key, the classifiers use the local models.')
param createCognitiveAccounts bool = true

@description('Computer Vision endpoint to use with visionApiKey; empty: the regional endpoint of `location`.')
param visionEndpoint string = ''

@description('Face endpoint to use with faceApiKey; empty: the regional endpoint of `location`.')
param faceEndpoint string = ''

@allowed([
  'F0'
  'S1'
])
param visionSkuName string = 'S1'

@allowed([
  'F0'
  'S0'
])
param faceSkuName string = 'S0'

// Tested: 3.11 (the whole suite) and 3.13 (Azure's worker, azure-functions-runtime, in tests/worker).
@allowed([
  '3.11'
  '3.12'
  '3.13'
])
param pythonVersion string = '3.11'

@allowed([
  512
  2048
  4096
])
@description('Memory of each Flex Consumption instance: all local models take about 450 MiB and a 1M-face index about 1 GiB more (docs/cold_start.md); 2048 fits up to about a million stored faces, 4096 beyond.')
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(1000)
@description('Most instances the app scales out to.')
param maximumInstanceCount int = 100

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_RAGRS'
])
param storageSkuName string = 'Standard_LRS'

@description('Name of the database that holds pipeline_output.')
param sqlDatabaseName string = 'imaginem'

@allowed([
  'ODBC Driver 18 for SQL Server'
  'ODBC Driver 17 for SQL Server'
])
param sqlOdbcDriver string = 'ODBC Driver 18 for SQL Server'

@description('Apply infra/sql/schema.sql during the deployment (a deployment script running go-sqlcmd). false: run the documented sqlcmd command yourself.')
param applySqlSchema bool = true

@description('Your public IPv4 address, let through the SQL firewall so that you can run sqlcmd; empty adds no rule.')
param clientIpAddress string = ''

@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@allowed([
  'auto'
  'local'
  'azure'
])
@description('GENERALCLASSIFICATION_BACKEND: auto uses Azure when a Computer Vision key is set.')
param generalclassificationBackend string = 'auto'

@allowed([
  'auto'
  'local'
  'azure'
])
param ocrBackend string = 'auto'

@allowed([
  'auto'
  'local'
  'azure'
])
param facedetectionBackend string = 'auto'

@allowed([
  'auto'
  'local'
  'azure'
])
param faceprintBackend string = 'auto'

@allowed([
  'auto'
  'local'
  'azure'
])
param facematchBackend string = 'auto'

@allowed([
  'ocr'
  'read'
])
@description('OCR_MODE on Azure: ocr (synchronous OCR API) or read (asynchronous Read API).')
param ocrMode string = 'ocr'

@description('FACE_MATCH_THRESHOLD: largest face-print distance that is the same person (local backend), as a decimal string.')
param faceMatchThreshold string = '0.5'

@minValue(1)
param imageMaxBytes int = 52428800

@minValue(1)
param imageMaxPixels int = 50000000

@minValue(1)
@maxValue(600)
param imageFetchTimeoutSeconds int = 20

@description('Most images one dashboard upload may submit.')
@minValue(1)
param dashboardMaxFiles int = 50

@description('Application (client) ID of the Entra ID app registration that signs users in to the dashboard (App Service Authentication). Empty: every HTTP route answers 401; the queue triggers still run.')
param dashboardClientId string = ''

@description('Comma-separated object IDs of the users or service principals allowed into the dashboard; with dashboardAllowedGroups empty too, any user of the tenant may sign in.')
param dashboardAllowedPrincipals string = ''

@description('Comma-separated object IDs of the Entra ID groups whose members are allowed into the dashboard (the app registration must emit group claims).')
param dashboardAllowedGroups string = ''

@description('Days a job\'s working copy (workingcopies/) is kept: a storage lifecycle rule (docs/privacy.md).')
@minValue(1)
param workingCopyRetentionDays int = 7

@description('Days linked content (largemessages/) is kept: a storage lifecycle rule (docs/privacy.md).')
@minValue(1)
param largeMessageRetentionDays int = 7

@description('Days a stored face is kept after it was first stored; empty keeps faces until forgotten.')
param faceRetentionDays string = ''

@description('Where the face index lives: table (persistedfaces + blob snapshots, nothing more to run) or postgresql (a PostgreSQL flexible server with pgvector, reached with the app\'s managed identity).')
@allowed([
  'table'
  'postgresql'
])
param faceIndex string = 'table'

// ---------------------------------------------------------------------------------------------
// Names and shared values
// ---------------------------------------------------------------------------------------------

var token = toLower(empty(deploymentPostFix) ? uniqueString(subscription().id, resourceGroup().id, environmentName) : deploymentPostFix)
var compactToken = replace(replace(token, '-', ''), '_', '')

var names = {
  storage: take('stimg${compactToken}', 24)
  keyVault: take('kv-img-${token}', 24)
  logAnalytics: 'log-imaginem-${token}'
  applicationInsights: 'appi-imaginem-${token}'
  plan: 'plan-imaginem-${token}'
  functionApp: 'func-imaginem-${token}'
  sqlServer: 'sql-imaginem-${token}'
  faceIndexServer: 'psql-imaginem-${token}'
  vision: 'cv-imaginem-${token}'
  face: 'face-imaginem-${token}'
}

var allTags = union({
  application: 'imaginem'
  'imaginem-branch': branch
}, empty(environmentName) ? {} : {
  'azd-env-name': environmentName
}, tags)

// Queue name = classifier name: one queue per key of dependencies.json (the runtime adds the -poison queues).
var classifierQueues = [for classifier in items(loadJsonContent('../dependencies.json')): classifier.key]
var externalQueueNames = empty(externalQueues) ? [] : split(externalQueues, ',')
var facesContainerName = 'faces'
var deploymentContainerName = 'app-package'

var secretNames = {
  vision: 'vision-api-key'
  face: 'face-api-key'
  sqlConnectionString: 'sql-connection-string'
  sqlAdminPassword: 'sql-admin-password'
}

var createVision = empty(visionApiKey) && createCognitiveAccounts
var createFace = empty(faceApiKey) && createCognitiveAccounts
var regionalEndpoint = 'https://${location}.api.cognitive.microsoft.com/'

// ---------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: names.logAnalytics
    applicationInsightsName: names.applicationInsights
    location: location
    tags: allTags
    retentionInDays: logRetentionInDays
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: names.storage
    location: location
    tags: allTags
    skuName: storageSkuName
    queueNames: concat(classifierQueues, externalQueueNames)
    tableNames: [
      'pipelinelogs'
      'persistedfaces'
    ]
    workingCopyRetentionDays: workingCopyRetentionDays
    largeMessageRetentionDays: largeMessageRetentionDays
    containerNames: [
      'inputimages'
      facesContainerName
      'largemessages'
      'workingcopies'
      'faceindex'
      deploymentContainerName
    ]
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: names.keyVault
    location: location
    tags: allTags
    visionApiKey: visionApiKey
    faceApiKey: faceApiKey
    visionSecretName: secretNames.vision
    faceSecretName: secretNames.face
  }
}

module vision 'modules/cognitive.bicep' = if (createVision) {
  name: 'vision'
  params: {
    name: names.vision
    location: location
    tags: allTags
    kind: 'ComputerVision'
    skuName: visionSkuName
    keyVaultName: keyVault.outputs.name
    secretName: secretNames.vision
  }
}

module face 'modules/cognitive.bicep' = if (createFace) {
  name: 'face'
  params: {
    name: names.face
    location: location
    tags: allTags
    kind: 'Face'
    skuName: faceSkuName
    keyVaultName: keyVault.outputs.name
    secretName: secretNames.face
  }
}

module sql 'modules/sql.bicep' = {
  name: 'sql'
  params: {
    serverName: names.sqlServer
    databaseName: sqlDatabaseName
    location: location
    tags: allTags
    administratorLogin: administratorLogin
    administratorLoginPassword: administratorLoginPassword
    collation: collation
    edition: edition
    requestedServiceObjectiveName: requestedServiceObjectiveName
    maxSizeBytes: int(maxSizeBytes)
    odbcDriver: sqlOdbcDriver
    clientIpAddress: clientIpAddress
    workspaceId: monitoring.outputs.workspaceId
    keyVaultName: keyVault.outputs.name
    connectionStringSecretName: secretNames.sqlConnectionString
    adminPasswordSecretName: secretNames.sqlAdminPassword
  }
}

module sqlSchema 'modules/sqlschema.bicep' = if (applySqlSchema) {
  name: 'sql-schema'
  params: {
    location: location
    tags: allTags
    serverFqdn: sql.outputs.serverFqdn
    databaseName: sql.outputs.databaseName
    administratorLogin: administratorLogin
    administratorLoginPassword: administratorLoginPassword
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    planName: names.plan
    appName: names.functionApp
    location: location
    tags: allTags
    blobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    pythonVersion: pythonVersion
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    requestedPlan: '${skuName}/${skuCapacity}'
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    appPrincipalId: functionApp.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

module faceIndexServer 'modules/faceindex.bicep' = if (faceIndex == 'postgresql') {
  name: 'faceindex'
  params: {
    serverName: names.faceIndexServer
    location: location
    tags: allTags
    appName: functionApp.outputs.name
    appPrincipalId: functionApp.outputs.principalId
  }
}

var useVision = !empty(visionApiKey) || createVision
var useFace = !empty(faceApiKey) || createFace
var visionEndpointValue = !empty(visionApiKey) ? (empty(visionEndpoint) ? regionalEndpoint : visionEndpoint) : (createVision ? vision.outputs.endpoint : '')
var faceEndpointValue = !empty(faceApiKey) ? (empty(faceEndpoint) ? regionalEndpoint : faceEndpoint) : (createFace ? face.outputs.endpoint : '')

module appSettings 'modules/appsettings.bicep' = {
  name: 'appsettings'
  params: {
    appName: functionApp.outputs.name
    storageAccountName: storage.outputs.name
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    keyVaultName: keyVault.outputs.name
    pipelineDefinition: pipelineDefinition
    externalQueues: externalQueues
    visionEndpoint: visionEndpointValue
    visionSecretName: useVision ? secretNames.vision : ''
    faceEndpoint: faceEndpointValue
    faceSecretName: useFace ? secretNames.face : ''
    sqlConnectionStringSecretName: secretNames.sqlConnectionString
    facesContainerName: facesContainerName
    generalclassificationBackend: generalclassificationBackend
    ocrBackend: ocrBackend
    facedetectionBackend: facedetectionBackend
    faceprintBackend: faceprintBackend
    facematchBackend: facematchBackend
    ocrMode: ocrMode
    faceMatchThreshold: faceMatchThreshold
    imageMaxBytes: imageMaxBytes
    imageMaxPixels: imageMaxPixels
    imageFetchTimeoutSeconds: imageFetchTimeoutSeconds
    dashboardMaxFiles: dashboardMaxFiles
    workingCopyRetentionDays: workingCopyRetentionDays
    largeMessageRetentionDays: largeMessageRetentionDays
    faceRetentionDays: faceRetentionDays
    faceIndexConnectionString: faceIndex == 'postgresql' ? faceIndexServer.outputs.connectionString : ''
  }
  // The Key Vault references resolve on first start only once the secrets and the role exist.
  dependsOn: [
    roles
    sql
    vision
    face
  ]
}

module dashboardAuth 'modules/dashboardauth.bicep' = {
  name: 'dashboardauth'
  params: {
    appName: functionApp.outputs.name
    clientId: dashboardClientId
    allowedPrincipals: empty(dashboardAllowedPrincipals) ? [] : split(dashboardAllowedPrincipals, ',')
    allowedGroups: empty(dashboardAllowedGroups) ? [] : split(dashboardAllowedGroups, ',')
  }
}

// ---------------------------------------------------------------------------------------------
// Outputs (azd stores them in the environment)
// ---------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = subscription().tenantId
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output DASHBOARD_URL string = 'https://${functionApp.outputs.defaultHostName}/api/dashboard/'
output DASHBOARD_SIGN_IN_REDIRECT_URI string = 'https://${functionApp.outputs.defaultHostName}/.auth/login/aad/callback'
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output STORAGE_QUEUE_ENDPOINT string = storage.outputs.queueEndpoint
output STORAGE_TABLE_ENDPOINT string = storage.outputs.tableEndpoint
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output SQL_SERVER_FQDN string = sql.outputs.serverFqdn
output SQL_DATABASE_NAME string = sql.outputs.databaseName
output SQL_SCHEMA_APPLIED bool = applySqlSchema ? sqlSchema.outputs.schemaApplied : false
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output VISION_ENDPOINT string = visionEndpointValue
output FACE_ENDPOINT string = faceEndpointValue
output PIPELINE_DEFINITION string = pipelineDefinition
output FACE_INDEX string = faceIndex
