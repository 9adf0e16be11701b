"""The persistent indexer (``careledger index``): follows the chain into SQLite or PostgreSQL,
keeps every suite event and each domain's derived state, and serves the reports people ask for
(see docs/indexer.md)."""
