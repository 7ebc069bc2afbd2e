"""Knowledge context: FAQs with their documents, and support contacts."""
