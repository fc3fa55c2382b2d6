# apt-get for scripts/setup.sh that waits for the apt locks instead of failing with apt's bare
# "Could not get lock": a fresh VM runs unattended-upgrades at boot, which holds them for minutes.
# Source it; SUDO may be set ("" or "sudo"). HOIST_APT_LOCK_WAIT_S bounds the wait (default 900 s).

APT_LOCK_WAIT_S="${HOIST_APT_LOCK_WAIT_S:-900}"

# Who holds apt's locks, for the waiting message ("process 1234 (unattended-upgr)").
apt_lock_holder() {
  grep -o 'held by process [0-9]* ([^)]*)' <<<"$1" | head -1 | sed 's/held by //'
}

# apt-get update, retried every 5 s while another apt (unattended-upgrades) holds the lists lock.
# apt's own DPkg::Lock::Timeout does not cover that lock (apt 2.6). Extra arguments go to apt-get.
apt_update() {
  local waited=0 out
  until out=$(${SUDO:-} apt-get update -qq "$@" 2>&1); do
    if grep -q 'Could not get lock' <<<"$out" && [ "$waited" -lt "$APT_LOCK_WAIT_S" ]; then
      if [ "$waited" -eq 0 ]; then
        echo "setup: waiting for the apt lock, held by $(apt_lock_holder "$out") (a fresh machine's unattended-upgrades runs at boot; up to ${APT_LOCK_WAIT_S} s)"
      fi
      sleep 5
      waited=$((waited + 5))
      continue
    fi
    echo "$out" >&2
    return 1
  done
  [ "$waited" -eq 0 ] || echo "setup: the apt lock is free after ${waited} s"
}

# apt-get install; apt itself waits for the dpkg lock (DPkg::Lock::Timeout) and says who holds it.
apt_install() {
  ${SUDO:-} apt-get -o DPkg::Lock::Timeout="$APT_LOCK_WAIT_S" install -y -qq --no-install-recommends "$@"
}
