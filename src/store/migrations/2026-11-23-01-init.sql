-- Orakel node schema, first migration. Migrations are dated and append-only: never edit an
-- applied file; add a new one.

CREATE TABLE jobs (
  id               bigserial PRIMARY KEY,
  external_job_id  uuid NOT NULL UNIQUE,
  type             text NOT NULL,
  name             text,
  spec_toml        text NOT NULL,
  spec_hash        text NOT NULL,
  -- The normalised spec (canonical JSON).
  spec             jsonb NOT NULL,
  -- directrequest: the Operator whose logs the job answers (checksummed).
  contract_address text,
  evm_chain_id     numeric(78, 0),
  created_at       timestamptz NOT NULL DEFAULT now(),
  deleted_at       timestamptz
);
CREATE INDEX jobs_contract ON jobs (contract_address) WHERE deleted_at IS NULL;

CREATE TABLE job_runs (
  id              bigserial PRIMARY KEY,
  run_id          uuid NOT NULL UNIQUE,
  job_id          bigint NOT NULL REFERENCES jobs (id),
  state           text NOT NULL CHECK (state IN ('running', 'completed', 'errored', 'cancelled', 'suspended')),
  -- The jobRun variables (logData, logTopics, ...), exact JSON.
  inputs          jsonb NOT NULL,
  outputs         jsonb,
  errors          jsonb,
  -- directrequest: the request id, to stop runs whose request was cancelled.
  request_id      text,
  log_block_hash  text,
  log_index       integer,
  created_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz,
  UNIQUE (job_id, log_block_hash, log_index)
);
CREATE INDEX job_runs_job ON job_runs (job_id, id DESC);
CREATE INDEX job_runs_request ON job_runs (request_id) WHERE request_id IS NOT NULL;
CREATE INDEX job_runs_unfinished ON job_runs (state) WHERE state IN ('running', 'suspended');

CREATE TABLE task_runs (
  run_id       uuid NOT NULL REFERENCES job_runs (run_id) ON DELETE CASCADE,
  task_id      text NOT NULL,
  type         text NOT NULL,
  value        jsonb,
  error        text,
  attempts     integer NOT NULL,
  started_at   timestamptz NOT NULL,
  finished_at  timestamptz NOT NULL,
  PRIMARY KEY (run_id, task_id)
);

-- Log broadcaster: the blocks it has seen (for reorg detection) and the logs it delivered.
CREATE TABLE block_headers (
  chain_id     numeric(78, 0) NOT NULL,
  number       bigint NOT NULL,
  hash         text NOT NULL,
  parent_hash  text NOT NULL,
  PRIMARY KEY (chain_id, number)
);

CREATE TABLE processed_logs (
  chain_id      numeric(78, 0) NOT NULL,
  job_id        bigint NOT NULL REFERENCES jobs (id),
  block_hash    text NOT NULL,
  block_number  bigint NOT NULL,
  log_index     integer NOT NULL,
  tx_hash       text NOT NULL,
  consumed_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, block_hash, log_index)
);
CREATE INDEX processed_logs_block ON processed_logs (chain_id, block_number);

-- Keys: Ethereum V3 keystores (encrypted); never a private key in clear.
CREATE TABLE eth_keys (
  address     text PRIMARY KEY,
  keystore    jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE key_states (
  address     text NOT NULL REFERENCES eth_keys (address) ON DELETE CASCADE,
  chain_id    numeric(78, 0) NOT NULL,
  next_nonce  bigint NOT NULL,
  disabled    boolean NOT NULL DEFAULT false,
  PRIMARY KEY (address, chain_id)
);

-- Transaction manager.
CREATE TABLE eth_txes (
  id                 bigserial PRIMARY KEY,
  chain_id           numeric(78, 0) NOT NULL,
  from_address       text NOT NULL,
  to_address         text NOT NULL,
  data               text NOT NULL,
  value              numeric(78, 0) NOT NULL DEFAULT 0,
  gas_limit          bigint NOT NULL,
  nonce              bigint,
  state              text NOT NULL CHECK (state IN ('unstarted', 'unconfirmed', 'confirmed', 'reverted', 'fatal_error')),
  -- e.g. "<run id>/<task id>": a run never gets a second, different transaction.
  idempotency_key    text UNIQUE,
  min_confirmations  integer NOT NULL DEFAULT 0,
  error              text,
  revert_reason      text,
  receipt            jsonb,
  created_at         timestamptz NOT NULL DEFAULT now(),
  broadcast_at       timestamptz,
  confirmed_at       timestamptz,
  UNIQUE (chain_id, from_address, nonce)
);
CREATE INDEX eth_txes_state ON eth_txes (chain_id, from_address, state);

CREATE TABLE eth_tx_attempts (
  id                        bigserial PRIMARY KEY,
  eth_tx_id                 bigint NOT NULL REFERENCES eth_txes (id) ON DELETE CASCADE,
  hash                      text NOT NULL UNIQUE,
  signed_raw                text NOT NULL,
  max_fee_per_gas           numeric(78, 0) NOT NULL,
  max_priority_fee_per_gas  numeric(78, 0) NOT NULL,
  state                     text NOT NULL CHECK (state IN ('in_progress', 'broadcast')),
  broadcast_block           bigint,
  created_at                timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX eth_tx_attempts_tx ON eth_tx_attempts (eth_tx_id);

-- External adapters.
CREATE TABLE bridges (
  name                 text PRIMARY KEY,
  url                  text NOT NULL,
  outgoing_token       text NOT NULL,
  incoming_token_hash  text NOT NULL,
  confirmations        integer NOT NULL DEFAULT 0,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);

-- API authentication: long-lived tokens and login sessions, both stored as hashes only.
CREATE TABLE api_credentials (
  id            bigserial PRIMARY KEY,
  kind          text NOT NULL CHECK (kind IN ('token', 'session')),
  label         text NOT NULL,
  secret_hash   text NOT NULL UNIQUE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz,
  last_used_at  timestamptz
);

CREATE TABLE node_settings (
  key    text PRIMARY KEY,
  value  jsonb NOT NULL
);
