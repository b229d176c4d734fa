"""The Customers page, the customer profile, and the duplicates tools."""
