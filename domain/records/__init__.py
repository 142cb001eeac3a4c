"""Medical records: client-encrypted files on IPFS, anchored on Stellar."""
