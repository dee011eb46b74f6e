#!/usr/bin/env bash
# db_clone_app.sh on servers installed RHEL-style (normal root
# authentication, root@HOSTNAME, test schema, skip-name-resolve).
MDB_FLAVOUR=rhel exec bash "$(dirname "$0")/db_clone_app.sh"
