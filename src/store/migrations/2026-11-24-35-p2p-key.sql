-- The node's libp2p identity (issue 7, offchainaggregation jobs): an Ed25519 key whose 32-byte
-- seed is kept as a V3 keystore (scrypt + AES-128-CTR) under the node's keystore password, never
-- in clear. The peer id is public (it is registered on chain) and kept beside it for display.
CREATE TABLE p2p_key (
  id          smallint PRIMARY KEY CHECK (id = 1),
  peer_id     text NOT NULL,
  keystore    jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
