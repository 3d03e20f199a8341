"""The seam between mafa and whatever runs the stack's services (engine.protocol.Engine)."""
