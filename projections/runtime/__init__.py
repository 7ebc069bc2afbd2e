"""The projection runtime: the read models' base, the engine that applies pages with their
tracking position, live runners with leaders, blue/green rebuilds, the registry and status."""
