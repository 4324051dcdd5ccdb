"""One ComponentResource per infrastructure concern of a tenant (and one for the platform)."""
