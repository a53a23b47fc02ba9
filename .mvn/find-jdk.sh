# Sourced by ./mvnw, ./kiln and .ci/run: export JAVA_HOME for a JDK >= 25 (Kiln's minimum).
# Order: $JAVA_HOME if it is new enough, then the newest JDK >= 25 under /usr/lib/jvm.
kiln_java_major() {
  "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -n1
}
kiln_find_jdk() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/javac" ]; then
    v=$(kiln_java_major "$JAVA_HOME")
    [ "${v:-0}" -ge 25 ] 2>/dev/null && return 0
  fi
  best=""; bestv=0
  case $- in *f*) kiln_noglob=1; set +f ;; *) kiln_noglob=0 ;; esac
  for d in /usr/lib/jvm/*; do
    [ -x "$d/bin/javac" ] || continue
    v=$(kiln_java_major "$d")
    if [ "${v:-0}" -ge 25 ] 2>/dev/null && [ "$v" -gt "$bestv" ]; then best=$d; bestv=$v; fi
  done
  [ "$kiln_noglob" = 1 ] && set -f
  if [ -z "$best" ]; then
    echo "Kiln needs a JDK 25 or newer and found none (JAVA_HOME='${JAVA_HOME:-}', /usr/lib/jvm/*)." >&2
    echo "Install one, e.g. on Debian/Ubuntu with the Adoptium repository: apt-get install -y temurin-25-jdk," >&2
    echo "or download it from https://adoptium.net and set JAVA_HOME to it." >&2
    return 1
  fi
  JAVA_HOME=$best
}
kiln_find_jdk || exit 1
export JAVA_HOME
