-- The transaction manager reads a key's open (unstarted or unconfirmed) transactions on every
-- tick. Through the (chain_id, from_address, nonce) key it walked every transaction the key
-- ever sent, so each tick got slower as the table grew; this index holds only the open ones.
CREATE INDEX eth_txes_open ON eth_txes (chain_id, from_address, nonce)
  WHERE state IN ('unstarted', 'unconfirmed');
