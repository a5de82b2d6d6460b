"""Built-in text encoder plugin (BERT-family language models through transformers)."""
