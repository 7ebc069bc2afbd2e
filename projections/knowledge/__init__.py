"""Knowledge read models: the FAQ search index and the support contacts."""
