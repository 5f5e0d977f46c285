# shellcheck shell=bash
# lava: environment for every login shell (installed as /etc/profile.d/lava.sh).
# Python built for lava and the local tools come first; Oracle's tools are on the PATH through /usr/local/bin.
case ":$PATH:" in
    *:/usr/local/bin:*) ;;
    *) PATH=/usr/local/bin:$PATH ;;
esac
export PATH
# The AWS CLI reads the region that lava-rc writes at boot.
export AWS_CONFIG_FILE=/usr/local/etc/aws/config
# Oracle tools find their message files here.
for _lava_oracle in /opt/oracle/instantclient_*; do
    [ -d "$_lava_oracle" ] && export ORACLE_HOME="$_lava_oracle"
done
unset _lava_oracle
