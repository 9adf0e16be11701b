"""``make demo``: a devnet, the suite deployed, every domain's story played, a readable report."""
