#!/bin/bash
# bench/hub-status.sh: the hub of issue 17's network benchmark, for timing
# `valise status`. It builds a hub (CARICC) and PEERS offices (OF01-NCB …),
# each of which packs N records of its own (bench/gen, ids made its own,
# every 20th record releasable to CARICC, OF01-NCB and OF02-NCB only,
# every 50th with a retain_until) for the hub; the hub imports them all
# and sends its first bundle to OF01-NCB. Then it times `status` at the
# hub with each binary given, alternating which goes first, REPS times,
# each on its own copy of the hub (a newer valise upgrades the store
# layout, which an older one then refuses; the upgrade is made before
# the timing).
#
#   bench/hub-status.sh OLD_VALISE NEW_VALISE    # PEERS=16 N=12500 REPS=2 D=bench/out/hub
#
# The hub is built with the first binary.
set -eo pipefail
[ $# -ge 1 ] || { echo "usage: $0 VALISE [VALISE...]" >&2; exit 2; }
PEERS=${PEERS:-16}
N=${N:-12500}
REPS=${REPS:-2}
D=${D:-bench/out/hub}
GEN=$(mktemp -d)/gen
go build -o "$GEN" ./bench/gen
bins=()
for b in "$@"; do bins+=("$(realpath "$b")"); done
V=${bins[0]}
rm -rf "$D" && mkdir -p "$D" && cd "$D"
$V init --home hub --agency CARICC >/dev/null
$V card --home hub -o hub.card > hub.fpr
HF=$(sed -n 's/.*fingerprint: *//p' hub.fpr)
for i in $(seq -f %02g 1 "$PEERS"); do
	$V init --home o$i --agency OF$i-NCB >/dev/null
	$V card --home o$i -o o$i.card > o$i.fpr
	$V peer add --home hub o$i.card --fingerprint "$(sed -n 's/.*fingerprint: *//p' o$i.fpr)" >/dev/null
	$V peer add --home o$i hub.card --fingerprint "$HF" >/dev/null
done
for i in $(seq -f %02g 1 "$PEERS"); do
	"$GEN" -seed $((10#$i)) -n "$N" -origin OF$i-NCB |
		sed 's/"\([pdocmwat]\)-\([0-9]\{7\}\)"/"\1-of'$i'-\2"/g' |
		awk '{ if (NR%20==0) sub(/"handling":\{"tlp":"amber"\}/, "\"handling\":{\"tlp\":\"amber\",\"releasable_to\":[\"CARICC\",\"OF01-NCB\",\"OF02-NCB\"]}");
		       else if (NR%50==0) sub(/"handling":\{"tlp":"amber"\}/, "\"handling\":{\"tlp\":\"amber\",\"retain_until\":\"2099-01-01\"}"); print }' > r$i.jsonl
	$V pack --home o$i --to CARICC --input r$i.jsonl -o b$i.valise >/dev/null
	rm r$i.jsonl
	$V import --home hub b$i.valise >/dev/null
done
$V pack --home hub --to OF01-NCB -o hub-of01.valise >/dev/null
du -sh hub
for k in "${!bins[@]}"; do
	cp -a hub hub$k
	"${bins[$k]}" status --home hub$k >/dev/null # upgrades the layout
done
for rep in $(seq "$REPS"); do
	order=("${!bins[@]}")
	if [ $((rep % 2)) = 0 ]; then order=($(printf '%s\n' "${order[@]}" | tac)); fi
	for k in "${order[@]}"; do
		/usr/bin/time -f "${bins[$k]} rep $rep: %e s wall, %U s user, %S s sys, %M KB max RSS" \
			"${bins[$k]}" status --home hub$k > status$k.txt
	done
done
