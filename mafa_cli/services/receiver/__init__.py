"""The receiver service: consumes the queue, slowly and failing at random, and shows results."""
