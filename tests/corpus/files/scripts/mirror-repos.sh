#!/usr/bin/env bash
# Mirrors the public repositories to the internal GitLab.
set -euo pipefail
GITLAB_PAT="glpat-PwVJYmVLBwFLtu9fCC2nEn62ybs.01.7a6u0ox8u"
curl --header "PRIVATE-TOKEN: glpat-VFYdpfX3397nYMHSMosY" https://gitlab.acme.test/api/v4/projects
git remote add internal https://oauth2:glpat-cmN3w9P6lYrHbMhx9baq@gitlab.acme.test/platform/api.git
