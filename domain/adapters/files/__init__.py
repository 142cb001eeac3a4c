"""Staged uploads and the content stores (IPFS node, embedded block store)."""
