#!/usr/bin/env bash
# Nightly maintenance (run from the bastion).
set -euo pipefail
mysql -u root -p6L+aT=1kpMLPTL7O -h db.acme.internal shop < migrations/0042.sql
mysqldump -uroot -p'3Oi8s@KSJuZk+Q' --all-databases > /backup/all.sql
PGPASSWORD='EeHQT3RSUEo.' psql -h pg.acme.internal -U postgres -c 'VACUUM ANALYZE'
psql "postgresql://admin:LCmn.0VsD7dhv_o.3F0ym7tq@pg.acme.internal:5432/postgres" -c 'select 1'
sshpass -p 'EHsdmAl#a.=6' ssh -o StrictHostKeyChecking=no deploy@10.20.1.7 'sudo systemctl restart api'
sshpass -p gIwS7H8LpiUwE+d scp build.tgz deploy@10.20.1.8:/opt/releases/
curl -u admin:R1ePwg+89=88tq^ -X POST https://jenkins.acme.internal/job/deploy/build
curl --user ci-bot:%vxQz@g4MU1%eAxId https://nexus.acme.internal/repository/releases/ -T app.jar
docker login registry.acme.internal -u ci -p xlg1%olc+Bzi-wEE85
redis-cli -h cache.acme.internal -a '6SbaBwMtKc6HEt' FLUSHDB
rabbitmqctl add_user orders 'WzXbUPCL.h6bk'
./manage.py createsuperuser --username ops --password 4VU2.Q%zQvg2F8.
java -jar tool.jar --db-user app --db-password=yG2PTFPP^7o42HldZj9+t
htpasswd -b -c /etc/nginx/.htpasswd ops 0pNJKe137rgbMit4awa9Kw
echo '.AvyMOkYqKW2QD!7^!t-!9' | sudo -S systemctl restart nginx
mongo admin -u root -p 'gVwG_D^Q#780+x' --eval 'db.runCommand({ping: 1})'
