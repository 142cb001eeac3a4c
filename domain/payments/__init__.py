"""Payments through Bakong: KHQR codes, confirmation by callback or polling, refunds, receipts."""
