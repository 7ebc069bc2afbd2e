"""Customer history: platform record batches (SMS, MMS, WAP push, logins, charges, ...)."""
