"""scalelab: the harness of the "Does Django scale?" lab."""
