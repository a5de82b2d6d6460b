"""Built-in video and image encoder plugin (timm), and the MicroLens dataset layout."""
