#!/usr/bin/env bash
# A real SMTP server on loopback for the end-to-end tests: Python's aiosmtpd, delivering every
# message into a fresh Maildir the tests read. Usage: smtp.sh PORT MAILDIR
set -euo pipefail
port="$1"
maildir="$2"
root="$(cd "$(dirname "$0")/.." && pwd)"
rm -rf "$maildir"
mkdir -p "$maildir/tmp" "$maildir/new" "$maildir/cur"
exec "$root/.venv/bin/python" -m aiosmtpd -n -l "127.0.0.1:$port" -c aiosmtpd.handlers.Mailbox "$maildir"
