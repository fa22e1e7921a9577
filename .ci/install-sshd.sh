#!/usr/bin/env bash
# Install OpenSSH's server for the sftp tests and the SFTP stand-ins (sandbox/sftp/server.py).
# Idempotent: does nothing when /usr/sbin/sshd exists. The stand-ins start their own sshd with
# their own config on 127.0.0.1; the system's ssh service is neither enabled nor started.
#
# When run as root it also creates the locked system account 'koppel': the sandbox settings in
# catalog.yaml log in as 'koppel', and an sshd can only log a client in as an existing user.
set -euo pipefail

if [ ! -x /usr/sbin/sshd ]; then
    export DEBIAN_FRONTEND=noninteractive
    # policy-rc.d keeps the package's post-install from starting the system-wide sshd
    if [ "$(id -u)" = 0 ] && [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends openssh-server openssh-client >/dev/null
fi

if [ "$(id -u)" = 0 ]; then
    if ! getent passwd koppel >/dev/null; then
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin koppel
    fi
    # a locked password still allows key login only when the account is not marked expired
    usermod -p '*' koppel
    mkdir -p /run/sshd && chmod 755 /run/sshd
fi
/usr/sbin/sshd -V 2>&1 | head -1 || true
