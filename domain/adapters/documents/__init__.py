"""The documents' PDF gate and the streaming cipher (their files are kept by adapters/files)."""
