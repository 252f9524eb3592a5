#!/bin/sh
# Prints how many zombie processes exist once a sibling and its orphans are
# gone. It waits (each step at most 20 s) until it sees another child of its
# parent (logmux), then until logmux has no child but this script: the
# sibling and its orphans exited and were reaped. Orphans left unreaped stay
# as zombies, so the wait ends at its deadline and they are counted (run as
# PID 1 of a PID namespace, every zombie there is logmux's).

# How many processes other than this one have logmux as their parent.
siblings() {
    n=0
    for s in /proc/[0-9]*/stat; do
        { read -r line < "$s"; } 2>/dev/null || continue
        pid=${line%% *}
        rest=${line##*) }
        set -- $rest
        [ "$2" = "$PPID" ] && [ "$pid" != $$ ] && n=$((n+1))
    done
    echo "$n"
}

deadline=$(( $(date +%s) + 20 ))
while [ "$(siblings)" = 0 ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.05; done
deadline=$(( $(date +%s) + 20 ))
while [ "$(siblings)" != 0 ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.05; done

z=0
for s in /proc/[0-9]*/stat; do
    { read -r line < "$s"; } 2>/dev/null || continue
    rest=${line##*) }
    set -- $rest
    [ "$1" = Z ] || continue
    z=$((z+1))
done
echo "zombies=$z"
echo "pid1=$(cat /proc/1/comm)"
