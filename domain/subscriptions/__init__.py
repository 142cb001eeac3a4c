"""Subscriptions: plans with entitlements, paid through payments, renewed by reminders."""
