"""HTTP routers, schemas, error handlers and middleware around the engine."""
