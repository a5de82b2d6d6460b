"""Built-in knowledge-graph encoder plugin (PyKEEN)."""
