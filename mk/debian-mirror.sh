#!/bin/sh
# Prints the Debian archive this machine's apt uses: the first URI of a
# "deb" source whose suites are the main archive's (not -security), read
# from /etc/apt/sources.list and /etc/apt/sources.list.d/ in both formats
# (one-line and deb822).  No host is written into the repository: a
# machine with another mirror gets its own.
set -eu
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
         /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    case "$f" in
    *.sources)
        # deb822 stanzas: Types, URIs and Suites of each, blank-line separated
        awk 'BEGIN { RS = ""; FS = "\n" }
             { types = uris = suites = ""
               for (i = 1; i <= NF; i++) {
                 if ($i ~ /^Types:/) types = $i
                 else if ($i ~ /^URIs:/) uris = $i
                 else if ($i ~ /^Suites:/) suites = $i }
               if (types ~ /[ \t]deb([ \t]|$)/ && suites !~ /-security/ \
                   && uris != "") {
                 sub(/^URIs:[ \t]*/, "", uris); split(uris, u, /[ \t]+/)
                 print u[1]; exit } }' "$f" ;;
    *)
        sed -nE '/-security/d; s/^deb[ \t]+(\[[^]]*\][ \t]+)?([^ \t]+).*/\2/p' "$f" ;;
    esac
done | grep -m 1 -E '^(https?|file)://.*/debian/?$' || {
    echo "debian-mirror.sh: no Debian archive in this machine's apt sources" >&2
    exit 1
}
