"""The medicines catalogue: what a doctor can prescribe, and which medicines interact."""
