#!/usr/bin/env bash
# Mutation testing: plants one small bug at a time (scripts/mutations.tsv) in a
# scratch copy of the working tree, rebuilds what the covering tests need, runs
# those tests, and reports whether they caught it. The working tree itself is
# never modified.
#
# usage: scripts/mutate.sh [-j N] [-t SECONDS] [-f FILE] [-o FILE] [--min PCT]
#                          [--keep] [--list] [ID...]
#   ID...       run only these mutations (default: all of FILE)
#   -j N        build jobs (default: nproc)
#   -t SECONDS  limit for one mutation's tests (default 300); a hang is caught
#   -f FILE     the mutation list (default scripts/mutations.tsv)
#   -o FILE     also write "id<TAB>result<TAB>seconds" lines to FILE
#   --min PCT   exit 1 when caught / valid is below PCT percent (default 90)
#   --keep      leave the scratch copy and the per-mutation logs in place
#   --list      print the selected mutations and exit
#
# Results: caught (a covering test failed), caught (timeout), survived (all
# covering tests passed or skipped), invalid (the mutant does not compile: not
# counted). Exit status: 0 when the caught share reaches --min, 1 when not, 2
# for a stale list entry, a failing baseline or a usage error.
#
# Each mutation is built and tested after the previous one is undone, one at a
# time; on a shared machine run it as `nice -n 19 scripts/mutate.sh -j2`.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
list=$root/scripts/mutations.tsv
jobs=$(nproc 2>/dev/null || echo 2)
limit=300
min=90
keep=0
only_list=0
out=
ids=()

usage() { sed -n '7,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    -j) jobs=${2:?}; shift 2 ;;
    -j*) jobs=${1#-j}; shift ;;
    -t) limit=${2:?}; shift 2 ;;
    -f) list=${2:?}; shift 2 ;;
    -o) out=${2:?}; shift 2 ;;
    --min) min=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    --list) only_list=1; shift ;;
    -h|--help) usage ;;
    -*) echo "mutate: unknown option $1" >&2; usage ;;
    *) ids+=("$1"); shift ;;
  esac
done
command -v python3 >/dev/null || { echo "mutate: python3 is needed to apply the mutations" >&2; exit 2; }
[ -f "$list" ] || { echo "mutate: no mutation list $list" >&2; exit 2; }

# ---- the selected entries ---------------------------------------------------
declare -A m_file m_rx m_orig m_repl m_desc
order=()
while IFS=$'\t' read -r id file rx orig repl desc; do
  case $id in ''|'#'*) continue ;; esac
  if [ -z "$desc" ]; then echo "mutate: $list: entry $id does not have six tab-separated fields" >&2; exit 2; fi
  m_file[$id]=$file m_rx[$id]=$rx m_orig[$id]=$orig m_repl[$id]=$repl m_desc[$id]=$desc
  order+=("$id")
done < "$list"
if [ ${#ids[@]} -gt 0 ]; then
  for id in "${ids[@]}"; do
    [ -n "${m_file[$id]+x}" ] || { echo "mutate: no mutation $id in $list" >&2; exit 2; }
  done
  order=("${ids[@]}")
fi
if [ $only_list = 1 ]; then
  for id in "${order[@]}"; do printf '%4s  %-44s %s\n' "$id" "${m_file[$id]}" "${m_desc[$id]}"; done
  exit 0
fi

# apply.py FILE ORIG REPL [--check]: replaces the one occurrence of ORIG
# (with \n, \t, \\ escapes) by REPL; exit 3 when ORIG occurs 0 or 2+ times.
apply_py='
import sys
def unesc(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in "nt\\":
            out.append({"n": "\n", "t": "\t", "\\": "\\"}[s[i + 1]]); i += 2
        else:
            out.append(s[i]); i += 1
    return "".join(out)
path, orig, repl = sys.argv[1], unesc(sys.argv[2]), unesc(sys.argv[3])
text = open(path, encoding="utf-8").read()
n = text.count(orig)
if n != 1:
    print(f"{n} occurrences" if n else "not found"); sys.exit(3)
if len(sys.argv) > 4: sys.exit(0)
open(path, "w", encoding="utf-8").write(text.replace(orig, repl, 1))
'
# Stale entries are refused before anything is built.
stale=0
for id in "${order[@]}"; do
  f=$root/${m_file[$id]}
  if [ ! -f "$f" ]; then
    echo "mutate: stale entry $id: ${m_file[$id]} does not exist" >&2; stale=1; continue
  fi
  if ! why=$(python3 -c "$apply_py" "$f" "${m_orig[$id]}" "${m_repl[$id]}" --check); then
    echo "mutate: stale entry $id: the original text is $why in ${m_file[$id]} (it must occur exactly once): ${m_orig[$id]}" >&2
    stale=1
  fi
done
[ $stale = 0 ] || { echo "mutate: update $list to the current sources" >&2; exit 2; }

# ---- the scratch copy, built once -------------------------------------------
scratch=$(mktemp -d "${TMPDIR:-/tmp}/hwa-mutate.XXXXXX")
tree=$scratch/tree
logs=$scratch/logs
mkdir -p "$tree" "$logs"
cleanup() { [ $keep = 1 ] && echo "mutate: scratch copy and logs kept in $scratch" || rm -rf "$scratch"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
# Tracked files plus untracked ones git does not ignore: what a commit of the
# working tree would hold.
(cd "$root" && git ls-files -z --cached --others --exclude-standard |
   while IFS= read -r -d '' p; do [ -f "$p" ] && printf '%s\0' "$p"; done |
   tar --null -T - -cf - ) | tar -xf - -C "$tree" || { echo "mutate: copying the tree failed" >&2; exit 2; }
# The tests find their data at <source>/../shared/data (CMake passes it as
# HWA_DATA_DIR): point the scratch copy's ../shared at the real one.
data=${HWA_DATA_DIR:-$root/../shared/data}
if [ -d "$data" ]; then
  mkdir -p "$scratch/shared"
  ln -s "$(cd "$data" && pwd)" "$scratch/shared/data"
fi
build=$tree/build
start=$(date +%s)
echo "mutate: scratch copy in $scratch; configuring and building (Release, -j$jobs)"
if ! { cmake -S "$tree" -B "$build" -DCMAKE_BUILD_TYPE=Release && cmake --build "$build" -j "$jobs"; } \
     > "$logs/baseline-build.log" 2>&1; then
  tail -30 "$logs/baseline-build.log"; echo "mutate: the unmutated tree does not build" >&2; keep=1; exit 2
fi

# Build targets for a test regex: each C test is its own target; the sanitized
# regression runner is hwa_regress; anything else (shell tests) builds all.
targets_for() {
  local t names=()
  for t in $(ctest --test-dir "$build" -N -R "$1" | sed -n 's/^ *Test *#[0-9]*: //p'); do
    case $t in
      test_*) names+=("$t") ;;
      io_regress_sanitized) names+=(hwa_regress) ;;
      *) echo all; return ;;
    esac
  done
  echo "${names[@]}"
}
run_tests() { # regex log: 0 passed, 1 failed, 124 timed out
  timeout -k 10 "$limit" ctest --test-dir "$build" -R "$1" --output-on-failure > "$2" 2>&1
  local rc=$?
  [ $rc = 124 ] || [ $rc = 137 ] && return 124
  grep -q 'No tests were found' "$2" && { echo "mutate: regex $1 matches no test" >> "$2"; return 1; }
  return $rc
}

# The covering tests must pass before anything is mutated.
# (by name: ctest's regex engine caps the parentheses of one pattern)
union=$(for id in "${order[@]}"; do echo "${m_rx[$id]}"; done | sort -u | while IFS= read -r rx; do
          ctest --test-dir "$build" -N -R "$rx" | sed -n 's/^ *Test *#[0-9]*: //p'; done | sort -u | paste -sd'|' -)
union="^($union)\$"
echo "mutate: baseline: the covering tests on the unmutated tree"
if ! run_tests "$union" "$logs/baseline-tests.log"; then
  grep -E 'Failed|\*\*\*' "$logs/baseline-tests.log" | head -20
  echo "mutate: the covering tests fail without any mutation (log: $logs/baseline-tests.log)" >&2; keep=1; exit 2
fi

# ---- one mutation at a time -------------------------------------------------
caught=0 survived=0 invalid=0
survivors=()
[ -n "$out" ] && : > "$out"
printf '%4s  %-17s %6s  %s\n' id result secs "file: what it models"
for id in "${order[@]}"; do
  rel=${m_file[$id]} f=$tree/${m_file[$id]}
  t0=$(date +%s)
  cp -p "$f" "$scratch/orig"
  python3 -c "$apply_py" "$f" "${m_orig[$id]}" "${m_repl[$id]}" > /dev/null
  log=$logs/$id.log
  read -r -a tg <<< "$(targets_for "${m_rx[$id]}")"
  if [ "${tg[0]:-all}" = all ]; then tg=(all); fi
  if ! cmake --build "$build" -j "$jobs" --target "${tg[@]}" > "$log" 2>&1; then
    result=invalid
  else
    run_tests "${m_rx[$id]}" "$log.tests"
    case $? in
      0) result=survived ;;
      124) result="caught (timeout)" ;;
      *) result=caught ;;
    esac
    cat "$log.tests" >> "$log"; rm -f "$log.tests"
  fi
  cp "$scratch/orig" "$f" && touch "$f" # restored; the next build recompiles it
  secs=$(( $(date +%s) - t0 ))
  case $result in
    caught*) caught=$((caught + 1)) ;;
    survived) survived=$((survived + 1)); survivors+=("$id") ;;
    invalid) invalid=$((invalid + 1)) ;;
  esac
  printf '%4s  %-17s %6s  %s: %s\n' "$id" "$result" "$secs" "$rel" "${m_desc[$id]}"
  [ -n "$out" ] && printf '%s\t%s\t%s\n' "$id" "$result" "$secs" >> "$out"
done
# Leave the build matching the unmutated sources (for --keep).
cmake --build "$build" -j "$jobs" > /dev/null 2>&1

valid=$((caught + survived))
total=$(( $(date +%s) - start ))
echo
if [ $valid -gt 0 ]; then
  pct=$(( 1000 * caught / valid ))
  printf 'mutate: %d of %d valid mutations caught (%d.%d%%), %d survived, %d invalid (not counted); %dm%02ds\n' \
    $caught $valid $((pct / 10)) $((pct % 10)) $survived $invalid $((total / 60)) $((total % 60))
else
  pct=0
  echo "mutate: no valid mutation ($invalid invalid)"
fi
if [ ${#survivors[@]} -gt 0 ]; then
  echo "survivors:"
  for id in "${survivors[@]}"; do printf '%4s  %s: %s\n' "$id" "${m_file[$id]}" "${m_desc[$id]}"; done
fi
[ $pct -ge $((min * 10)) ] && exit 0
echo "mutate: the caught share is below $min%"
exit 1
