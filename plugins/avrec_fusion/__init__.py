"""Built-in fusion plugin: masked concatenation and gated fusion of modalities."""
