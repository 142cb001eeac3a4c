"""Every kind's stored files, staged uploads, and the content stores (IPFS node, embedded
block store)."""
