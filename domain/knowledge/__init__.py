"""The knowledge context: FAQs with their documents, and the support centre's contacts."""
