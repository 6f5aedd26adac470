-- Off-chain aggregation (issue 7): a committee member's secrets for one ThresholdAggregator
-- (config digest). Shares are sealed (AES-256-GCM under the data key in oca_sealing_key), never
-- stored in clear.

-- The data key that seals OCA shares, itself a V3 keystore under the node's keystore password.
CREATE TABLE oca_sealing_key (
  id          smallint PRIMARY KEY CHECK (id = 1),
  keystore    jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- The member's share of the committee's group key, from the key DKG (one per configuration).
CREATE TABLE oca_keys (
  config_digest  text PRIMARY KEY,
  -- This member's index (1..n) and the committee's size and fault bound.
  member_index   integer NOT NULL,
  n              integer NOT NULL,
  f              integer NOT NULL,
  -- Compressed points (0x…): Y and Y_1..Y_n.
  group_key      text NOT NULL,
  share_keys     jsonb NOT NULL,
  -- x_i, sealed.
  secret_share   text NOT NULL,
  -- The dealers whose polynomials make up the key, and the session digest n−f members agreed on.
  qualified      jsonb NOT NULL,
  digest         text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- Nonce batches: one DKG session made nonces for rounds first_round..last_round, views
-- 0..views_per_round−1 each.
CREATE TABLE oca_nonce_batches (
  config_digest    text NOT NULL,
  batch            integer NOT NULL,
  first_round      bigint NOT NULL,
  last_round       bigint NOT NULL,
  views_per_round  integer NOT NULL,
  digest           text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (config_digest, batch)
);

-- One nonce per (round, view), assigned when its batch is stored. `message` is written before
-- the member computes its partial signature with the nonce and never changes afterwards: the
-- nonce signs that message or nothing, also after a restart.
CREATE TABLE oca_nonces (
  config_digest  text NOT NULL,
  batch          integer NOT NULL,
  position       integer NOT NULL,
  round          bigint NOT NULL,
  view           integer NOT NULL,
  -- R and R_1..R_n, compressed points.
  point          text NOT NULL,
  share_points   jsonb NOT NULL,
  -- k_i, sealed.
  share          text NOT NULL,
  message        text,
  used_at        timestamptz,
  PRIMARY KEY (config_digest, round, view),
  UNIQUE (config_digest, batch, position),
  UNIQUE (config_digest, point),
  FOREIGN KEY (config_digest, batch) REFERENCES oca_nonce_batches (config_digest, batch)
);
