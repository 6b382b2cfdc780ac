#!/usr/bin/env bash
# The KUnit suites under the debug configuration (configs/debug.config on top
# of kunit.config: KASAN, lockdep, atomic-sleep and RCU checks), in their own
# build directory. Passes only if every test passes and the kernel log has no
# report. The last line is "N passed, N failed".
. "$(dirname "$0")/lib.sh"

start=$SECONDS
rc=0
bash "$TOP/scripts/toolchain.sh" && bash "$TOP/scripts/tree.sh" || rc=$?
if [ $rc -ne 0 ]; then
	echo "0 passed, 1 failed"
	exit 1
fi
bash "$TOP/scripts/kunit.sh" --debug || true
read -r passed failed <"$CACHE/logs/kunit-debug.counts" 2>/dev/null || { passed=0 failed=1; }
printf '    elapsed: %d s\n' $((SECONDS - start))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
