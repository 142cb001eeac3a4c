"""Job rows, group commit, the message channel and job figures."""
