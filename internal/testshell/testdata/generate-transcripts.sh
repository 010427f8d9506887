#!/bin/sh
# Regenerates the console transcripts the parser's golden tests read, by
# running a real lava-test-runner and the real helper scripts on this
# host's /bin/sh, as a device's console would show them.
#
#   testdata/generate-transcripts.sh SCRIPTS_DIR
#
# SCRIPTS_DIR holds lava-test-runner, lava-test-case, ...: the overlay's
# (internal/overlay/scripts) or LAVA's (lava_dispatcher/lava_test_shell);
# both print the same transcripts. The overlay is built
# under /tmp/lava-42, so the transcripts show the paths a device would.
# kmsg.txt is written by hand (CRLF, kernel time stamps, a signal a kernel
# message split, the syslog prefix of console_msg_format=syslog as TuxRun
# boots, a kernel record landing in the middle of the shell's output):
# signals through /dev/kmsg need a kernel.
set -eu
scripts=${1:?usage: $0 SCRIPTS_DIR}
here=$(cd "$(dirname "$0")" && pwd)
root=/tmp/lava-42

# definition STAGE NAME STEP...: one test definition as LAVA's overlay
# writes it: run.sh with STARTRUN and ENDRUN around the steps.
definition() {
	stage=$1 name=$2
	shift 2
	dir=$root/$stage/tests/$name
	mkdir -p "$dir"
	echo "42_1.1.$name" >"$dir/uuid"
	{
		echo '###default parameters from test definition###'
		echo '######'
		echo '###test parameters from job submission###'
		echo '######'
		echo 'set -e'
		echo 'set -x'
		echo "export TESTRUN_ID=$name"
		echo "cd $dir"
		echo 'UUID=`cat uuid`'
		echo 'set +x'
		echo 'echo "<LAVA_SIGNAL_STARTRUN $TESTRUN_ID $UUID>"'
		echo 'set -x'
		for step in "$@"; do
			echo "$step"
		done
		echo 'set +x'
		echo 'echo "<LAVA_SIGNAL_ENDRUN $TESTRUN_ID $UUID>"'
	} >"$dir/run.sh"
	echo "$dir" >>"$root/$stage/lava-test-runner.conf"
}

# transcript NAME: runs the runner over stage 0 and keeps what it printed.
transcript() {
	SHELL=/bin/sh setsid /bin/sh -c "$root/bin/lava-test-runner $root/0" >"$here/$1.txt" 2>&1 || true
}

reset() {
	rm -rf "$root"
	mkdir -p "$root/bin" "$root/0"
	for f in "$scripts"/lava-*; do
		{ echo '#!/bin/sh'; echo; cat "$f"; } >"$root/bin/$(basename "$f")"
		chmod 0755 "$root/bin/$(basename "$f")"
	done
}

reset
definition 0 0_smoke-tests \
	'lava-test-case linux-posix-pwd --shell pwd' \
	'lava-test-case linux-posix-true --shell true' \
	'lava-test-case linux-posix-false --shell false' \
	'lava-test-case pass-case --result pass' \
	'lava-test-case fail-case --result fail' \
	'lava-test-case skip-case --result skip' \
	'lava-test-case unknown-case --result unknown' \
	'lava-test-case latency --result pass --measurement 12.50 --units ms' \
	'lava-test-case count --result pass --measurement 42' \
	'lava-test-case big --result pass --measurement 1e3 --units bytes' \
	'lava-test-event reached-the-middle' \
	'lava-test-set start set-a' \
	'lava-test-case in-set --result pass' \
	'lava-test-reference docs --result pass --reference https://example.com/docs' \
	'lava-test-set stop' \
	'lava-test-case after-set --result PASS'
definition 0 1_parse \
	'echo "test-1: PASSED"' \
	'echo "dir/test-2: FAILED"' \
	'echo "has space: PASSED"' \
	'echo "test-3: SKIPPED"' \
	'echo "speed: 12.5 MB/s PASSED"' \
	'echo "broken: 1.2.3 MB/s PASSED"' \
	'lava-test-case signalled --result PASSED'
transcript smoke

reset
mkdir -p "$root/0/tests/0_bad"
cat >"$root/0/tests/0_bad/emit.sh" <<'EOS'
# Signals the helper scripts never print, printed from a script of its
# own so that set -x in run.sh does not echo them a second time.
s='<LAVA_SIGNAL_'
echo "${s}TESTCASE TEST_CASE_ID=malformed RESULT=pass EXTRA>"
echo "${s}TESTCASE RESULT=pass>"
echo "${s}TESTCASE TEST_CASE_ID=no-result>"
echo "${s}TESTCASE TEST_CASE_ID=two=equals RESULT=pass>"
echo "${s}NOSUCHSIGNAL some params>"
echo "${s}TESTFEEDBACK other>"
echo "two signals: ${s}TESTCASE TEST_CASE_ID=first RESULT=pass> ${s}TESTCASE TEST_CASE_ID=second RESULT=fail>"
EOS
definition 0 0_bad \
	'lava-test-case bad-result --result maybe' \
	'lava-test-case bad-measurement --result pass --measurement abc' \
	'lava-test-case hex-measurement --result pass --measurement 0x10' \
	'lava-test-case nan-measurement --result pass --measurement NaN' \
	'sh ./emit.sh' \
	'lava-test-case good --result pass'
transcript bad

reset
definition 0 0_expected \
	'lava-test-case a --result pass' \
	'lava-test-case c --result fail' \
	'lava-test-case surprise --result pass'
transcript expected

reset
definition 0 0_broken 'lava-test-case never --result pass'
printf '%s\n' 'echo installing' 'exit 1' >"$root/0/tests/0_broken/install.sh"
definition 0 1_fine 'lava-test-case fine --result pass'
transcript install-fail

reset
definition 0 0_raise \
	'lava-test-case before --result pass' \
	'lava-test-raise device on fire' \
	'lava-test-case after --result pass'
transcript raise

reset
definition 0 0_killed \
	'lava-test-case before --result pass' \
	'kill -KILL 0'
transcript killed
rm -rf "$root"
