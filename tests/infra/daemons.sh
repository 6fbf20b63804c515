# Helpers for the scripts that start test daemons (cluster.sh, k8s.sh); sourced, with `log` defined.

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
    local limit=$1 what=$2; shift 2
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            log "timed out after ${limit}s waiting for $what"
            return 1
        fi
        sleep 0.2
    done
}

stop_pidfile() { # stop_pidfile FILE: TERM, up to 5 s for it to end, then KILL
    local f=$1 pid
    [[ -f $f ]] || return 0
    pid=$(cat "$f" 2>/dev/null || true)
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
}

describe() { # describe PID...: their command lines, one after the other
    local p
    for p in "$@"; do printf '%s; ' "$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")"; done
}
