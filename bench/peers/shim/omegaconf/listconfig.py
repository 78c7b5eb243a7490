class ListConfig(list):
    """Never instantiated here: context_dim is passed as a plain int."""
