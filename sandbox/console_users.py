"""The console's sandbox accounts (catalog.yaml ``console.sandbox``): printed by ``koppel demo``
and used by the console tests. Like every value in sandbox/secrets/ they open nothing real;
the file the console reads (sandbox/secrets/console-users.yaml) holds only their argon2 hashes.
"""

from __future__ import annotations

#: name → (role, password)
SANDBOX_LOGINS = {
    "operator": ("operator", "sandbox-operator-wachtwoord"),
    "viewer": ("viewer", "sandbox-viewer-wachtwoord"),
}
