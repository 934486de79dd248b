# Shared by the bench scripts: source it (named .bash so that `make bench`, which runs bench/*.sh, passes it by).

# hwa_python MODULE...: prints the first python3 that imports every MODULE:
# $PYTHON when set, else python3 on the PATH, else /usr/bin/python3 (Debian's
# python3-torch and python3-numpy live in the system python, which a pyenv
# shim may hide). Prints nothing and fails when none does.
hwa_python() {
  local p mods
  mods=$(IFS=,; echo "$*")
  for p in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c "import $mods" 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}
