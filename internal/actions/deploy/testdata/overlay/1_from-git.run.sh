###default parameters from test definition###
WHO='nobody'
TOOLS_URL='<tools repository>'
######
###test parameters from job submission###
WHO='the job'\''s'
######
set -e
set -x
export TESTRUN_ID=1_from-git
cd /lava-42/0/tests/1_from-git
UUID=`cat uuid`
set +x
echo "<LAVA_SIGNAL_STARTRUN $TESTRUN_ID $UUID>"
set -x
grep -q "installed for the job's" installed.txt && lava-test-case installed --result pass
lava-test-case tools-cloned --shell test -x tools/check.sh
lava-test-case tool-ran --shell ./tools/check.sh
test "$JOB_VAR" = "it's the job" && lava-test-case env --result pass
set +x
echo "<LAVA_SIGNAL_ENDRUN $TESTRUN_ID $UUID>"
