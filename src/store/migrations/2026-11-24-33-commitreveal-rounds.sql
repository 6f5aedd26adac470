-- commitreveal jobs: this node's part in each round of a CommitRevealAggregator. One row per
-- round (chain, aggregator, round id): the node's key commits at most once per round, whichever
-- of its jobs took the round. The value and salt are stored before the commit is queued, so a
-- node restarted between commit and reveal reveals what it committed to.
CREATE TABLE commitreveal_rounds (
  chain_id         numeric(78, 0) NOT NULL,
  -- The aggregator (checksummed).
  aggregator       text NOT NULL,
  round_id         numeric(78, 0) NOT NULL,
  job_id           bigint NOT NULL REFERENCES jobs (id),
  is_feed          boolean NOT NULL,
  config_version   integer NOT NULL,
  -- Block timestamps (seconds) from RoundStarted.
  commit_deadline  bigint NOT NULL,
  reveal_deadline  bigint NOT NULL,
  -- Request rounds: the request id (0x…); NULL for feed rounds.
  request_id       text,
  -- The pipeline's jobRun variables (request data, ids, deadlines), exact JSON, so an
  -- observation cut short by a restart runs again with the same inputs.
  inputs           jsonb NOT NULL,
  -- observing → committed → revealed; skipped (did not commit, see reason); failed (committed
  -- but could not reveal, or a transaction reverted; see reason).
  state            text NOT NULL CHECK (state IN ('observing', 'committed', 'revealed', 'skipped', 'failed')),
  reason           text,
  -- The committee member key that committed.
  oracle           text,
  -- int256 (at most 77 digits).
  value            numeric(78, 0),
  salt             text,
  commitment       text,
  -- eth_txes ids of the transactions queued for this round.
  commit_tx_id     bigint,
  reveal_tx_id     bigint,
  settle_tx_id     bigint,
  -- Set on the RevealsOpened log.
  reveals_open     boolean NOT NULL DEFAULT false,
  -- The round on chain as far as the node knows: open until it sees it finalised or failed;
  -- unsettled when its reveal deadline passed and settling it is another member's duty.
  round_status     text NOT NULL DEFAULT 'open' CHECK (round_status IN ('open', 'finalized', 'failed', 'unsettled')),
  answer           numeric(78, 0),
  created_at       timestamptz NOT NULL DEFAULT now(),
  committed_at     timestamptz,
  revealed_at      timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, aggregator, round_id)
);
CREATE INDEX commitreveal_rounds_job ON commitreveal_rounds (job_id, round_id DESC);
-- The rounds a job still acts on: open on chain as far as it knows, or waiting for its own
-- commit or reveal.
CREATE INDEX commitreveal_rounds_active ON commitreveal_rounds (job_id)
  WHERE round_status = 'open' OR state IN ('observing', 'committed');
