"""Doses: what an active prescription asks a patient to take, when, and what they did."""
