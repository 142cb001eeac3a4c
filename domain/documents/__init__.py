"""The documents portal: PDFs checked, encrypted by us, kept on IPFS."""
