// The Function App's app settings: every setting the code reads (pipeline/settings.py SETTINGS,
// checked by tests/infra) plus the runtime's own. Secrets are Key Vault references.
// Applied after the role assignments, so the references resolve on the first start.

param appName string

@description('Storage account the runtime and the code reach with the managed identity.')
param storageAccountName string

param applicationInsightsConnectionString string

param keyVaultName string
param pipelineDefinition string

@description('Comma-separated queues served by other apps (EXTERNAL_QUEUES).')
param externalQueues string = ''

@description('Computer Vision endpoint; empty keeps generalclassification and ocr on the local models.')
param visionEndpoint string

@description('Name of the Key Vault secret holding the Computer Vision key; empty when there is none.')
param visionSecretName string

param faceEndpoint string
param faceSecretName string
param sqlConnectionStringSecretName string
param facesContainerName string
param workingCopyRetentionDays int
param largeMessageRetentionDays int
param faceRetentionDays string

@allowed([
  'auto'
  'local'
  'azure'
])
param generalclassificationBackend string

@allowed([
  'auto'
  'local'
  'azure'
])
param ocrBackend string

@allowed([
  'auto'
  'local'
  'azure'
])
param facedetectionBackend string

@allowed([
  'auto'
  'local'
  'azure'
])
param faceprintBackend string

@allowed([
  'auto'
  'local'
  'azure'
])
param facematchBackend string

@allowed([
  'ocr'
  'read'
])
param ocrMode string

param faceMatchThreshold string
param imageMaxBytes int
param imageMaxPixels int
param imageFetchTimeoutSeconds int

@description('Most images one dashboard upload may submit.')
@minValue(1)
param dashboardMaxFiles int = 50

@description('libpq connection string of the PostgreSQL face index (no password: the app signs in with its identity); empty: the persistedfaces table.')
param faceIndexConnectionString string = ''

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: appName
}

// A Key Vault reference: the platform resolves it with the app's identity (Key Vault Secrets User).
var vaultReference = '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName='

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  // Checkov reads this app-settings resource as a whole web-app configuration; the checks below are about
  // web apps' siteConfig (set in functionapp.bicep) and do not apply to a list of app settings.
  // checkov:skip=CKV_AZURE_13: Misapplied: App Service Authentication is set by its own authsettingsV2 resource (dashboardauth.bicep), not by this app-settings list.
  // checkov:skip=CKV_AZURE_63: Misapplied: HTTP logging is a web-app siteConfig setting; the app logs to Application Insights.
  // checkov:skip=CKV_AZURE_65: Misapplied: detailed error pages are a web-app siteConfig setting.
  // checkov:skip=CKV_AZURE_66: Misapplied: failed-request tracing is a web-app siteConfig setting; failures go to Application Insights.
  // checkov:skip=CKV_AZURE_80: Misapplied: .NET Framework version; this is a Python app.
  // checkov:skip=CKV_AZURE_88: Misapplied: Flex Consumption has no Azure Files content share (it would need a storage key).
  // checkov:skip=CKV_AZURE_222: Misapplied here; public network access is set on the site (functionapp.bicep).
  parent: site
  name: 'appsettings'
  properties: {
    // The runtime's own settings.
    AzureWebJobsStorage__accountName: storageAccountName
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
    // The pipeline's settings.
    PIPELINE_DEFINITION: pipelineDefinition
    VISION_ENDPOINT: visionEndpoint
    VISION_API_KEY: empty(visionSecretName) ? '' : '${vaultReference}${visionSecretName})'
    FACE_ENDPOINT: faceEndpoint
    FACE_API_KEY: empty(faceSecretName) ? '' : '${vaultReference}${faceSecretName})'
    SQL_CONNECTION_STRING: '${vaultReference}${sqlConnectionStringSecretName})'
    FACES_CONTAINER: facesContainerName
    FACE_INDEX_CONNECTION_STRING: faceIndexConnectionString
    GENERALCLASSIFICATION_BACKEND: generalclassificationBackend
    OCR_BACKEND: ocrBackend
    FACEDETECTION_BACKEND: facedetectionBackend
    FACEPRINT_BACKEND: faceprintBackend
    FACEMATCH_BACKEND: facematchBackend
    OCR_MODE: ocrMode
    FACE_MATCH_THRESHOLD: faceMatchThreshold
    IMAGE_MAX_BYTES: string(imageMaxBytes)
    IMAGE_MAX_PIXELS: string(imageMaxPixels)
    IMAGE_FETCH_TIMEOUT: string(imageFetchTimeoutSeconds)
    // Per worker process: decoded images of recent jobs, for the next steps of a job on that instance.
    IMAGE_CACHE_BYTES: '268435456'
    DASHBOARD_MAX_FILES: string(dashboardMaxFiles)
    // Image URLs reach only global addresses; list internal hosts or ranges here to open them.
    IMAGE_FETCH_ALLOW: ''
    // The containers image_url may name on the account (main.bicep creates inputimages).
    INPUT_CONTAINERS: 'inputimages'
    MAX_FACES_PER_IMAGE: '100'
    MAX_PIPELINE_STEPS: '50'
    // onnxruntime threads per model and image; host.json batchSize runs several images at once besides
    // (measured in bench/throughput.py: two images at once, one thread each, beat every wider mix on 2 cores).
    MODEL_THREADS: '1'
    // The Python worker runs at most this many invocations at once, as the local host does (host.json batchSize).
    PYTHON_THREADPOOL_THREAD_COUNT: '2'
    EXTERNAL_QUEUES: externalQueues
    // Retention (docs/privacy.md): the blob ones are enforced by the storage lifecycle rules, faces by a timer.
    WORKING_COPY_RETENTION_DAYS: string(workingCopyRetentionDays)
    LARGE_MESSAGE_RETENTION_DAYS: string(largeMessageRetentionDays)
    FACE_RETENTION_DAYS: faceRetentionDays
  }
}
