"""The sender service: accepts messages over HTTP and publishes them, confirmed, to the queue."""
