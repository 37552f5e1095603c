"""Static pages served by the API. See DESIGN.md."""
