# Sourced by scripts/stack.sh and scripts/bench.sh.
# True when the URL is unset or names this machine (then the embedded stack provides the server).
is_local_url() {
  [ -z "$1" ] && return 0
  case "$1" in *@localhost[:/]*|*@127.0.0.1[:/]*|*://localhost[:/]*|*://127.0.0.1[:/]*|*@localhost|*@127.0.0.1|*://localhost|*://127.0.0.1) return 0 ;; esac
  return 1
}
