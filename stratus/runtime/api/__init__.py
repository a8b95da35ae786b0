"""REST conventions shared by every Stratus API: errors, request ids, bodies, paging,
microversions, authentication context and policy."""
