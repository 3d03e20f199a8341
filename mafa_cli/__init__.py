"""mafa: stand up, load and watch an asynchronous, failure-prone microservice stack."""

__version__ = "0.1.0"
