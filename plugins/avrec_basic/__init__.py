"""Built-in basic components: id encoder, pass-through fusion, BPR and popularity heads, splits."""
