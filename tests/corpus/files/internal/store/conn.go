package store

const dsn = "postgres://store:UCq7pkYChZNvd.m!3@pg-store.acme.internal:5432/store?sslmode=verify-full"
var mysqlDSN = "store:3.if.S_4l-gd5JOQiEMx@tcp(mysql.acme.internal:3306)/store?parseTime=true"
