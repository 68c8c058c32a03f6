-- Imaginem: the pipeline_output schema for Azure SQL Database / SQL Server (T-SQL).
--
-- The pipelineoutput function creates the same objects itself on first use (pipeline/sql/schema.py);
-- run this file instead when its login may not create tables, e.g.
--   sqlcmd -S <server>.database.windows.net -d <database> -G -i infra/sql/schema.sql
-- then grant the function's identity SELECT, INSERT, UPDATE, DELETE on both tables.
-- Every statement does nothing when its object exists, so running it again is safe.
-- tests/pipeline/sql/test_schema_tsql.py keeps this file and the code's schema in step.
-- A job is (batch_id, id): the same job id in two batches is two rows. Tables made by an older version
-- (keyed by id alone, no outcome column) are not migrated: the function refuses them with a clear error;
-- drop both tables (labels first) and run this file again. On SQL Server a batch id and a job id
-- together fit the clustered key's 900 bytes up to 450 characters.

IF OBJECT_ID(N'dbo.pipeline_output', N'U') IS NULL
CREATE TABLE dbo.pipeline_output (
    [id] NVARCHAR(255) NOT NULL,
    [batch_id] NVARCHAR(255) NOT NULL,
    [outcome] NVARCHAR(32) NOT NULL,
    [image_url] NVARCHAR(MAX) NOT NULL,
    [processing_pipeline] NVARCHAR(MAX) NOT NULL CHECK (ISJSON([processing_pipeline]) = 1),
    [image_parameters] NVARCHAR(MAX) NOT NULL CHECK (ISJSON([image_parameters]) = 1),
    [job_output] NVARCHAR(MAX) NOT NULL CHECK (ISJSON([job_output]) = 1),
    [timestamp] DATETIME2(6) NOT NULL,
    PRIMARY KEY ([batch_id], [id])
);

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'ix_pipeline_output_timestamp' AND object_id = OBJECT_ID(N'dbo.pipeline_output'))
CREATE INDEX ix_pipeline_output_timestamp ON dbo.pipeline_output ([timestamp], [batch_id], [id]);

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'ix_pipeline_output_batch' AND object_id = OBJECT_ID(N'dbo.pipeline_output'))
CREATE INDEX ix_pipeline_output_batch ON dbo.pipeline_output ([batch_id], [timestamp], [outcome]);

IF OBJECT_ID(N'dbo.pipeline_output_labels', N'U') IS NULL
CREATE TABLE dbo.pipeline_output_labels (
    [id] BIGINT IDENTITY(1,1) NOT NULL PRIMARY KEY,
    [batch_id] NVARCHAR(255) NOT NULL,
    [job_id] NVARCHAR(255) NOT NULL,
    [kind] NVARCHAR(32) NOT NULL,
    [name] NVARCHAR(255) NOT NULL,
    [confidence] FLOAT NULL,
    FOREIGN KEY ([batch_id], [job_id]) REFERENCES dbo.pipeline_output ([batch_id], [id]) ON DELETE CASCADE
);

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'ix_pipeline_output_labels_name' AND object_id = OBJECT_ID(N'dbo.pipeline_output_labels'))
CREATE INDEX ix_pipeline_output_labels_name ON dbo.pipeline_output_labels ([name], [batch_id], [job_id], [kind]);

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'ix_pipeline_output_labels_job' AND object_id = OBJECT_ID(N'dbo.pipeline_output_labels'))
CREATE INDEX ix_pipeline_output_labels_job ON dbo.pipeline_output_labels ([batch_id], [job_id]);
