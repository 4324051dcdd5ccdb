"""The ETL template: one client table or file set into the warehouse, exactly once per window."""
