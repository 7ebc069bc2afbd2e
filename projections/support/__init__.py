"""Support-desk read models: ticket list and search, the changes citing a ticket, announcements."""
