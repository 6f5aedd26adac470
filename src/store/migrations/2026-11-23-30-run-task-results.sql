-- Task results of a run written together with its outcome (the node's direct-request runs):
-- one jsonb array on the run instead of one task_runs row per task, so finishing a run is a
-- single row update. Entries: {taskId, type, value, error, attempts, startedAt, finishedAt}.
ALTER TABLE job_runs ADD COLUMN task_results jsonb;
