#!/bin/sh
# The image's entrypoint. Started as root (the default), it makes the SQLite database's directory
# writable by `node` when root owns it (a bind-mounted host folder owned by root, as Docker
# creates a missing one), then runs the command as `node` (uid 1000), as the official postgres
# and redis images do. Started as another user (`docker run --user 1234:1234`), it changes
# nothing and runs the command as that user. `exec` both ways: the command replaces this shell,
# so `docker stop`'s SIGTERM reaches node.
set -eu
if [ "$(id -u)" = 0 ]; then
  db=${DEDUP_DB_PATH:-/app/data/dedup.sqlite}
  case $db in /*) ;; *) db=$PWD/$db ;; esac
  dir=$(dirname "$db")
  # Only the directory and the database's own files (-wal, -shm), only those root owns.
  if [ "$dir" != / ] && mkdir -p "$dir" 2>/dev/null; then
    find "$dir" -maxdepth 1 -user 0 \( -path "$dir" -o -name "$(basename "$db")*" \) -exec chown node:node {} + 2>/dev/null ||
      echo "event-aggregator: could not give $dir to node (uid 1000); run with --user as its owner" >&2
  fi
  HOME=/home/node exec setpriv --reuid=node --regid=node --init-groups -- "$@"
fi
exec "$@"
