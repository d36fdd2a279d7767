#!/usr/bin/env sh
# Install hush from this checkout with cargo (idempotent), or remove it.
#   ./install.sh                 install into $PREFIX (default: ~/.cargo)
#   ./install.sh --hook          also install the git hooks (pre-commit and pre-push) into the
#                                current repository
#   ./install.sh --uninstall     remove the hooks hush installed in the current repository, then
#                                the installed binary
set -eu
PREFIX=${PREFIX:-${CARGO_HOME:-$HOME/.cargo}}
HERE=$(cd "$(dirname "$0")" && pwd)
hook=0
case "${1:-}" in
  --uninstall)
    # Hooks first, while hush is still there to tell its own hooks from others' (a hook left
    # behind would block every commit with "hush not found").
    if [ -x "$PREFIX/bin/hush" ] && git rev-parse --git-dir >/dev/null 2>&1; then
      "$PREFIX/bin/hush" hook uninstall || echo "install.sh: could not remove this repository's hooks; run 'hush hook uninstall' here before uninstalling" >&2
    fi
    if [ -e "$PREFIX/bin/hush" ]; then
      cargo uninstall --root "$PREFIX" hush >/dev/null 2>&1 || rm -f "$PREFIX/bin/hush"
      echo "removed $PREFIX/bin/hush"
      echo "note: hooks hush installed in other repositories remain; run 'hush hook uninstall' in each"
      echo "      before uninstalling, or follow the command such a hook prints (it removes itself)"
    else
      echo "hush is not installed in $PREFIX/bin; nothing to do"
    fi
    exit 0 ;;
  --hook) hook=1 ;;
  "") ;;
  *) echo "usage: $0 [--hook | --uninstall]   (PREFIX=dir to choose where)" >&2; exit 2 ;;
esac
command -v cargo >/dev/null 2>&1 || { echo "install.sh: cargo not found: install Rust from rustup.rs first" >&2; exit 2; }
cargo install --quiet --locked --path "$HERE" --root "$PREFIX"
echo "installed $("$PREFIX/bin/hush" --version) at $PREFIX/bin/hush"
case ":$PATH:" in *":$PREFIX/bin:"*) ;; *) echo "note: $PREFIX/bin is not on PATH" ;; esac
if [ "$hook" = 1 ]; then
  "$PREFIX/bin/hush" hook install --pre-push
fi
