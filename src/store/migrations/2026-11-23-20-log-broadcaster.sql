-- Log broadcaster: how far each job's subscription has been delivered, and the delivered log
-- itself, so that a log orphaned by a reorg can be handed back to its job (also after a restart).
-- The chain-wide cursor is the node_settings key 'log_cursor:<chainId>'.

CREATE TABLE log_cursors (
  chain_id      numeric(78, 0) NOT NULL,
  job_id        bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  -- Every log of this job in blocks <= block_number that was due has been delivered.
  block_number  bigint NOT NULL,
  -- The block the job's subscription started at: no earlier log is ever delivered to it.
  first_block   bigint NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, job_id)
);

ALTER TABLE processed_logs ADD COLUMN log jsonb;
