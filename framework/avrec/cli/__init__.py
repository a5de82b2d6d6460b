"""The ``avrec`` command line."""
