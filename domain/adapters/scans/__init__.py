"""The scans feature's outside systems: page images, and the OCR engines."""
