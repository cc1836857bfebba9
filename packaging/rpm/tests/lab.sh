#!/bin/bash
# tmt wrapper of `crmig-installed-test lab`: its exit status 77 (the lab
# cannot run on this machine, the reason on stdout) becomes a tmt "skip"
# instead of an error; 0 is pass, anything else fail.
set -uo pipefail
out=${TMT_TEST_DATA:-.}
log=$out/lab.log
/usr/libexec/installed-tests/crmig/crmig-installed-test lab "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
case "$rc" in
    0) result=pass ;;
    77) result=skip ;;
    *) result=fail ;;
esac
printf -- '- name: /lab\n  result: %s\n  log:\n    - lab.log\n' "$result" > "$out/results.yaml"
echo "crmig-installed-test lab: exit $rc: $result"
exit 0
