#!/usr/bin/env bash
# Brings up the staging stack by hand (the pipeline does the same).
set -euo pipefail
docker run -d --name pg -e POSTGRES_PASSWORD=j%k4XRbbokQ4Pr0.@X postgres:16
kubectl -n staging create secret generic orders-db --from-literal=username=orders --from-literal=password=EeS@-VXpc10q7qVEvn
helm upgrade --install orders ./charts/orders --set image.tag=2.4.1,postgresql.auth.password=mzn%X-ZFqb7m
docker run -d --name pg -e POSTGRES_PASSWORD=$POSTGRES_PASSWORD postgres:16
docker run -d --name pg -e POSTGRES_PASSWORD_FILE=/run/secrets/pg postgres:16
kubectl -n staging create secret generic orders-db --from-literal=password="${ORDERS_DB_PASSWORD}"
helm upgrade --install orders ./charts/orders --set postgresql.auth.password=<password>
