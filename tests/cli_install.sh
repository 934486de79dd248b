#!/usr/bin/env bash
# make install's tree: installed into a fresh prefix, it holds the command,
# the headers, libhwadapt.a, libhwadapt.so with its soname, the MPI module
# where the command looks for it, and hwadapt.pc; the README's C example,
# taken from the README as printed, builds with the README's pkg-config line
# against that copy and runs.
set -u
H=${HWA_CLI:-build/hwadapt}
B=$(cd "$(dirname "$H")" && pwd)
SRC=${HWA_SOURCE_DIR:-.}
. "$(dirname "$0")/skip.bash"
command -v pkg-config > /dev/null || skip_for cc "pkg-config is not installed"
if nm -D "$B/libhwadapt.so" 2> /dev/null | grep -q __asan_init; then
  echo "skipped: this build's library is sanitized: a program needs -fsanitize to link it"
  exit 77
fi
T=$(mktemp -d /tmp/hwa_cli_install.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
P=$T/prefix

cmake --install "$B" --prefix "$P" > "$T/install.log" 2>&1
rc=$?
missing=""
for f in bin/hwadapt include/hwadapt/hwadapt.h include/hwadapt/train.h lib/libhwadapt.a lib/libhwadapt.so \
         lib/libhwadapt.so.0 lib/pkgconfig/hwadapt.pc; do
  [ -e "$P/$f" ] || missing="$missing $f"
done
[ -e "$B/libhwadapt_mpi.so" ] && { [ -e "$P/lib/hwadapt/libhwadapt_mpi.so" ] || missing="$missing lib/hwadapt/libhwadapt_mpi.so"; }
soname=$(readelf -d "$P/lib/libhwadapt.so" 2> /dev/null | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
if [ $rc -eq 0 ] && [ -z "$missing" ] && [ "$soname" = libhwadapt.so.0 ]; then
  ok "cmake --install: the command, headers, libhwadapt.a, libhwadapt.so (soname $soname), hwadapt.pc"
else bad "install: exit $rc, missing:$missing, soname '$soname': $(tail -5 "$T/install.log")"; fi

# The README's example and build line, as printed.
awk '/<!-- example: app.c -->/ { on = 1; next } on && /^```c/ { inside = 1; next }
     inside && /^```/ { exit } inside { print }' "$SRC/README.md" > "$T/app.c"
line=$(awk '/<!-- example: build -->/ { on = 1; next } on && /^```sh/ { inside = 1; next }
            inside { print; exit }' "$SRC/README.md")
if [ -s "$T/app.c" ] && [ -n "$line" ]; then
  (cd "$T" && PKG_CONFIG_PATH="$P/lib/pkgconfig" bash -c "$line") > "$T/out" 2> "$T/err"
  rc=$?
  if [ $rc -eq 0 ] && grep -q "y\[0\]\[0\] = 2.0000" "$T/out" &&
     ldd "$T/app" | grep -q "$P/lib/pkgconfig/../../lib/libhwadapt.so.0\|$P/lib/libhwadapt.so.0"; then
    ok "the README's example, built with '$line' against the installed copy: $(cat "$T/out")"
  else bad "the README's example: exit $rc: $(cat "$T/out" "$T/err"; ldd "$T/app" 2> /dev/null | grep hwadapt)"; fi
else bad "the README has no example between its markers"; fi

# The installed command runs, and finds the installed MPI module.
if "$P/bin/hwadapt" train --help > /dev/null; then ok "the installed hwadapt runs"
else bad "the installed hwadapt: $("$P/bin/hwadapt" train --help 2>&1 | tail -2)"; fi

if command -v mpirun > /dev/null && [ -e "$P/lib/hwadapt/libhwadapt_mpi.so" ]; then
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -np 2 "$P/bin/hwadapt" train \
    --limit 256 --test-limit 100 --hidden 16 --epochs 1 --threads 1 --quiet > "$T/mpi.out" 2> "$T/mpi.err"
  if [ $? -eq 0 ] && grep -q "2 ranks" "$T/mpi.out"; then ok "the installed hwadapt trains on 2 ranks with the installed MPI module"
  else bad "the installed MPI module: $(cat "$T/mpi.out" "$T/mpi.err" | tail -5)"; fi
fi

echo "$fails failed"
[ $fails -eq 0 ]
