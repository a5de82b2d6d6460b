"""Built-in LightGCN graph encoder plugin."""
