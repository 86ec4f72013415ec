#!/usr/bin/env bash
# Fetch the Apache Kafka broker jars (and a log4j2 backend) from Maven Central
# into a per-version cache, so tests can run a real broker without Docker.
#
# Idempotent: exits fast when the cache is already complete. The jars are
# copied into a temp dir next to the cache and renamed into place, so a
# half-finished or concurrent download never looks complete.
# The last line on stdout is the libs dir (use it as `java -cp "LIBS/*"`).
#
# Env: FENGKONG_CACHE (default ~/.cache/fengkong); MAVEN_OPTS is honoured by mvn
# (e.g. -Dmaven.repo.local=...).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/kafka/pom.xml"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
[ -n "$version" ] || { echo "fetch_kafka.sh: no <kafka.version> in $pom" >&2; exit 1; }

cache="${FENGKONG_CACHE:-$HOME/.cache/fengkong}"
dest="$cache/kafka-$version"
libs="$dest/libs"

complete() {
    [ -f "$1/.complete" ] && [ -f "$1/kafka_2.13-$version.jar" ] \
        && compgen -G "$1/log4j-slf4j-impl-*.jar" >/dev/null
}

if complete "$libs"; then
    echo "$libs"
    exit 0
fi

command -v mvn >/dev/null || { echo "fetch_kafka.sh: mvn not found" >&2; exit 1; }
mkdir -p "$dest"
tmp="$(mktemp -d "$dest/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# Run from a private copy of the pom: mvn must not drop files into the repo.
cp "$pom" "$tmp/pom.xml"
echo "fetch_kafka.sh: downloading Kafka $version jars into $libs ..." >&2
(cd "$tmp" && mvn -q -B -Dstyle.color=never -f "$tmp/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp/libs") >&2
[ -f "$tmp/libs/kafka_2.13-$version.jar" ] \
    || { echo "fetch_kafka.sh: kafka_2.13-$version.jar missing after mvn" >&2; exit 1; }
ls "$tmp/libs" > "$tmp/libs/.complete"

# Replace a stale/incomplete libs dir; if another run won the race, keep theirs.
if [ -e "$libs" ] && ! complete "$libs"; then
    mv -T "$libs" "$tmp/stale"
fi
mv -T "$tmp/libs" "$libs" 2>/dev/null || complete "$libs" \
    || { echo "fetch_kafka.sh: could not move jars into $libs" >&2; exit 1; }
echo "$libs"
