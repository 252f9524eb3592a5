#!/bin/sh
# Prints how many zombie processes exist, after a pause long enough for a
# sibling's orphans to have exited (run as PID 1 of a PID namespace).
sleep "${PAUSE:-1.5}"
z=0
for s in /proc/[0-9]*/stat; do
    read -r line < "$s" 2>/dev/null || continue
    rest=${line##*) }
    set -- $rest
    [ "$1" = Z ] || continue
    z=$((z+1))
done
echo "zombies=$z"
echo "pid1=$(cat /proc/1/comm)"
