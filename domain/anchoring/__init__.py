"""Anchoring records on Stellar in Merkle batches, and the proofs anyone can check."""
