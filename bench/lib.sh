# Shared by the shell benches: sourced, not run.

# bench_own_netns NAME SCRIPT ARGS...: as root, runs SCRIPT ARGS again inside
# a fresh network namespace (loopback only, named for PK_NETNS_SLOT), removes
# it and exits with the script's status. Inside (PK_BENCH_NETNS set) or not
# root, it returns and the caller goes on where it is.
bench_own_netns() {
  local name=$1; shift
  [ "$(id -u)" = 0 ] && [ -z "${PK_BENCH_NETNS:-}" ] || return 0
  local slot=${PK_NETNS_SLOT:-0}; [ "$slot" = 0 ] && slot=
  local ns="pk${slot}-$name" rc=0
  ip netns del "$ns" 2>/dev/null || true
  ip netns add "$ns"
  ip netns exec "$ns" ip link set lo up
  PK_BENCH_NETNS=$ns ip netns exec "$ns" "$@" || rc=$?
  ip netns del "$ns"
  exit "$rc"
}

# bench_nginx DIR PORT: writes and starts an nginx under DIR serving one
# 612-byte page on 127.0.0.1:PORT, no logs; its pid file is DIR/nginx.pid.
bench_nginx() {
  local dir=$1 port=$2
  mkdir -p "$dir/nginx/logs" "$dir/nginx/html" "$dir/nginx/tmp"
  head -c 612 /dev/zero | tr '\0' 'x' >"$dir/nginx/html/index.html"
  # nginx's workers run as nobody: mktemp's 0700 directory would make every
  # answer a 403 instead of the page.
  chmod a+rx "$dir" "$dir/nginx" "$dir/nginx/html"
  chmod a+r "$dir/nginx/html/index.html"
  cat >"$dir/nginx/nginx.conf" <<CONF
worker_processes auto;
worker_rlimit_nofile 20000;
pid $dir/nginx.pid;
error_log $dir/nginx/logs/error.log;
events { worker_connections 10000; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $dir/nginx/tmp; proxy_temp_path $dir/nginx/tmp;
  fastcgi_temp_path $dir/nginx/tmp; uwsgi_temp_path $dir/nginx/tmp; scgi_temp_path $dir/nginx/tmp;
  server { listen 127.0.0.1:$port; root $dir/nginx/html; }
}
CONF
  nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -g 'daemon on;' 2>/dev/null
}
