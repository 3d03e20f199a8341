"""`mafa watch`: collectors (all I/O) -> snapshot (pure data) -> view (pure render) -> live loop."""
