#!/bin/sh
# OpsGuard host probe: prints read-only health data for incidents/probe/parser.py.
#
# Usage: probe.sh [SAMPLE_SECONDS [SERVICE ...]]
#   SAMPLE_SECONDS  time between the two CPU samples (default 1)
#   SERVICE         critical service names to check, e.g. sshd cron nginx.service
#
# Output is a series of sections, each a line "@@opsguard NAME" followed by
# raw command output. Failing commands print their error into the section,
# so the parser can tell "unsupported" from zero. The script writes no files
# and needs no root. It runs under POSIX sh (dash, busybox ash).

# A caller's locale can leak in over SSH, and decimal commas or translated
# headers would break the parser.
export LC_ALL=C
set -u

PROBE_FORMAT_VERSION=1
sample_seconds=${1:-1}
if [ "$#" -gt 0 ]; then
    shift
fi
# Tests point this at a directory of their own to exercise the systemd branch.
systemd_runtime_dir=${OPSGUARD_SYSTEMD_RUNTIME_DIR:-/run/systemd/system}

newline='
'

section() {
    printf '@@opsguard %s\n' "$1"
}

# A name with a newline could forge a section marker, so it is left out and
# the parser reports that service as unknown.
is_single_line() {
    case $1 in
        *"$newline"*) return 1 ;;
        *) return 0 ;;
    esac
}

read_sample() {
    section "stat$1"
    head -n 1 /proc/stat 2>&1
    # uptime is read right before the processes, so its delta is the time
    # between the two process samples.
    section "uptime$1"
    cat /proc/uptime 2>&1
    section "procs$1"
    # A process may exit between the glob and the read, so read errors are dropped.
    cat /proc/[0-9]*/stat 2>/dev/null
}

run_df() {
    # df blocks on an unresponsive network mount, so GNU timeout bounds it.
    # BusyBox timeout takes other options, and there df runs unbounded.
    if timeout --version >/dev/null 2>&1; then
        timeout -k 2 10 df -P -k -T 2>&1
        status=$?
        if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
            echo "df: timed out after 10 seconds; a network mount may be unresponsive"
        fi
    else
        df -P -k -T 2>&1
    fi
}

section version
echo "$PROBE_FORMAT_VERSION"
section hostname
uname -n 2>&1
section uname
uname -r 2>&1
section nproc
nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>&1
section pagesize
getconf PAGESIZE 2>&1
section clk_tck
getconf CLK_TCK 2>&1

read_sample 1
# Fractions of a second are not POSIX, so an unsupported value sleeps 1 second.
sleep "$sample_seconds" 2>/dev/null || sleep 1
read_sample 2

section meminfo
cat /proc/meminfo 2>&1
section df
run_df
section psi_io
cat /proc/pressure/io 2>&1

section services
for name in "$@"; do
    if is_single_line "$name"; then
        printf '%s\n' "$name"
    fi
done

section systemd
if [ -d "$systemd_runtime_dir" ]; then
    echo available
    section failed_units
    systemctl list-units --failed --plain --no-legend --no-pager --full 2>&1
    for name in "$@"; do
        is_single_line "$name" || continue
        section "service $name"
        systemctl show -p Id -p LoadState -p ActiveState -p SubState \
            -p NRestarts -- "$name" 2>&1
    done
else
    echo unavailable
fi

exit 0
