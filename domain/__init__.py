"""The core: entities, state machines, pure rules, ports and settings. No IO here."""
