"""Vision-language checks (camera projection, overlays, VLM backends). Not built yet: the VLM issue adds it."""
