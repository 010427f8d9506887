###default parameters from test definition###
######
###test parameters from job submission###
######
set -e
set -x
export TESTRUN_ID=0_anchor-smoke
cd /lava-42/0/tests/0_anchor-smoke
UUID=`cat uuid`
set +x
echo "<LAVA_SIGNAL_STARTRUN $TESTRUN_ID $UUID>"
set -x
lava-test-case always-pass --shell true
lava-test-case always-fail --shell false
lava-test-case uname --shell uname -a
lava-test-case measurement-example --result pass --measurement 42.5 --units ms
lava-test-case skipped-example --result skip
set +x
echo "<LAVA_SIGNAL_ENDRUN $TESTRUN_ID $UUID>"
