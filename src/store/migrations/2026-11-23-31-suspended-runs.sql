-- A run suspended by an asynchronous external adapter: the task waiting for the answer that
-- PATCH /v2/resume/<runId> brings.
ALTER TABLE job_runs ADD COLUMN pending_task text;
