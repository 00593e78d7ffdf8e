#!/bin/sh
# Behaves as the official redis image's entrypoint: options alone (or a .conf file first) mean
# redis-server. The official image builds Redis with protected mode off by default (a container is
# reached through its network and published ports, never from "localhost"); Debian's binary defaults
# to on, which refuses every client from outside the container, so turn it off unless a config file
# is given (the file then decides, as upstream).
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" = redis-server ] && [ "${2%.conf}" = "${2:-}" ]; then
  shift
  set -- redis-server --protected-mode no "$@"
fi
exec "$@"
