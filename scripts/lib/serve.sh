# Sourced by the scripts that drive a server: gives them a temporary directory ($work) that is
# removed on exit, and serve_on_free_port, which starts `serve` on a port the system picks, waits
# until it prints its address and sets $url to it. The server gets SIGTERM (and is waited for)
# when the script exits, however it exits.
#   serve_on_free_port NAME JAR SERVE_OPTIONS...
work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

serve_on_free_port() {
  local name=$1 jar=$2
  shift 2
  java -jar "$jar" serve --port 0 "$@" >"$work/serve.out" 2>"$work/serve.err" &
  server=$!
  url=
  for _ in $(seq 1 600); do
    url=$(grep -o 'http://[^ ]*/v1' "$work/serve.out" || true)
    [ -n "$url" ] && return 0
    kill -0 "$server" 2>/dev/null || { cat "$work/serve.err" >&2; exit 1; }
    sleep 0.2
  done
  echo "$name: the server did not start" >&2
  exit 1
}
