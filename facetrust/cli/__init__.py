"""The ``facetrust`` command line: a thin layer over the Python API."""
