"""Prescription scans: OCR lines read from a photographed prescription, parsed into a draft."""
