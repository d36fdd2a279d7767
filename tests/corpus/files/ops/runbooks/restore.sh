#!/usr/bin/env bash
# Restores last night's dump into the staging database.
set -euo pipefail
PGPASSWORD=6^7W8j9@HaCd6z pg_restore -h db-staging.internal -U app -d orders /backups/orders.dump
MYSQL_PWD="C-n!!%S!D1kw!3CPdEoo_" mysqldump --single-transaction shop > /backups/shop.sql
SSHPASS=kYwJLj8lipVqTXO sshpass -e rsync -a /backups/ backup@10.0.4.12:/srv/backups/
PGPASSWORD="$PGPASSWORD_STAGING" pg_restore -h db-staging.internal -U app -d orders /backups/orders.dump
PGPASSWORD=$(cat /run/secrets/pg) psql -h db-staging.internal -c 'select 1'
BYPASS_CACHE=1 make build
OLDPWD=/srv/app2 cd -
