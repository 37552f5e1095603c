"""Users, roles, Argon2 passwords, login tokens, lockout and the access policy (policy.py says who may do
what). Used by the CLI and by the web interface (api/auth holds only the FastAPI dependencies)."""
