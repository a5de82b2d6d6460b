"""Built-in dataset sources: MovieLens-100k, RecBole atomic files and GroupLens layouts."""
