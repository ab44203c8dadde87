"""Users, login/logout/registration, roles and server-side sessions."""
