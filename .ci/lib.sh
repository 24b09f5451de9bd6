# The steps .ci/install and .ci/uninstall share, as functions (sourced; tests run them on
# temporary files). Every path comes in as an argument: nothing here knows the machine's.

# The line .ci/install writes first into a main.cf it creates (Debian's "No configuration"
# Postfix has none): .ci/uninstall removes such a file again once nothing else is in it.
MAILGUARD_CREATED_MAIN_CF="# created by mailguard's .ci/install (there was no main.cf); .ci/uninstall removes it"

# maincf_list_dir CONFIG_DIR DIR: list DIR in CONFIG_DIR/main.cf's alternate_config_directories
# (`postfix -c DIR` is refused otherwise), once however often it runs.
maincf_list_dir() {
    local conf=$1 dir=$2 current
    if [ ! -f "$conf/main.cf" ]; then
        printf '%s\ncompatibility_level = 3.6\n' "$MAILGUARD_CREATED_MAIN_CF" > "$conf/main.cf"
    fi
    current=$(postconf -c "$conf" -h alternate_config_directories)
    case " ${current//,/ } " in
        *" $dir "*) return 0 ;;
    esac
    postconf -c "$conf" -e "alternate_config_directories = ${current:+$current }$dir"
}

# maincf_unlist_dir CONFIG_DIR DIR: take DIR out again; the parameter goes when nothing else is
# listed, and the main.cf itself when maincf_list_dir created it and it holds nothing more.
maincf_unlist_dir() {
    local conf=$1 dir=$2 d rest=()
    [ -f "$conf/main.cf" ] || return 0
    for d in $(postconf -c "$conf" -h alternate_config_directories | tr ',' ' '); do
        [ "$d" = "$dir" ] || rest+=("$d")
    done
    if [ ${#rest[@]} -gt 0 ]; then
        postconf -c "$conf" -e "alternate_config_directories = ${rest[*]}"
    else
        postconf -c "$conf" -X alternate_config_directories
    fi
    if [ "$(head -n 1 "$conf/main.cf")" = "$MAILGUARD_CREATED_MAIN_CF" ] &&
        [ -z "$(grep -v -e '^[[:space:]]*$' -e '^compatibility_level = 3.6$' "$conf/main.cf" | tail -n +2)" ]; then
        rm "$conf/main.cf"
    fi
}

# set_server_hostname CONFIG NAME: `[server] hostname = "NAME"` in a config made from
# config.example.toml (its `hostname = ""` under [server]).
set_server_hostname() {
    local config=$1 name=$2
    sed -i -E "/^\[server\]/,/^\[/ s/^hostname = \"\"$/hostname = \"$name\"/" "$config"
}

# mailguard_pid PIDFILE: the pid it holds when that process is a `mailguard serve` (a stale file
# may name a process that reused the pid).
mailguard_pid() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "mailguard serve" || return 1
    echo "$pid"
}

# stop_mailguard PIDFILE: SIGTERM (transactions in flight finish within [server]
# shutdown_grace), SIGKILL after 45 s as systemd's TimeoutStopSec; the pid file goes.
stop_mailguard() {
    local pidfile=$1 pid
    if pid=$(mailguard_pid "$pidfile"); then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 450); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

# start_mailguard BINARY CONFIG LOG PIDFILE USER (absolute paths): `serve` detached, as USER with only the
# capability to bind port 25 (the unit's User= and AmbientCapabilities=), appending to LOG;
# returns once it listens (1, with the log's news, when it ended instead).
start_mailguard() {
    local binary=$1 config=$2 log=$3 pidfile=$4 user=$5 size pid
    stop_mailguard "$pidfile"
    touch "$log"
    chmod 0640 "$log"
    size=$(stat -c %s "$log")
    (
        umask 027
        cd /
        exec nohup setpriv --reuid="$user" --regid="$user" --init-groups \
            --inh-caps=+net_bind_service --ambient-caps=+net_bind_service -- \
            "$binary" serve --config "$config" >>"$log" 2>&1 < /dev/null
    ) &
    pid=$!
    echo "$pid" > "$pidfile"
    for _ in $(seq 1 600); do
        tail -c +"$((size + 1))" "$log" | grep -q "^listening on" && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$pidfile"
            tail -c +"$((size + 1))" "$log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "mailguard did not say it listens within 60 s; see $log" >&2
    return 1
}
