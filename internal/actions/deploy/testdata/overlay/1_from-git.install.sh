###default parameters from test definition###
WHO='nobody'
TOOLS_URL='<tools repository>'
######
###test parameters from job submission###
WHO='the job'\''s'
######
cd /lava-42/0/tests/1_from-git
pwd
echo "installed for $WHO" > installed.txt
