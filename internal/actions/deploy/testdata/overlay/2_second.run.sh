###default parameters from test definition###
######
###test parameters from job submission###
######
set -e
set -x
export TESTRUN_ID=2_second
cd /lava-42/1/tests/2_second
UUID=`cat uuid`
set +x
echo "<LAVA_SIGNAL_STARTRUN $TESTRUN_ID $UUID>"
set -x
lava-test-case stage-one --result pass
set +x
echo "<LAVA_SIGNAL_ENDRUN $TESTRUN_ID $UUID>"
