"""The stack on Docker: the compose file model and plan (pure), the Docker backend (the only
module that imports docker), and the operations up/scale/status/logs/down that tie them."""
