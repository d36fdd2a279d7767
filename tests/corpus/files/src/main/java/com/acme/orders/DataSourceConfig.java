package com.acme.orders;

import javax.sql.DataSource;

public class DataSourceConfig {
    private static final String URL = "jdbc:postgresql://db.acme.internal:5432/orders?user=orders&password=ACVZ5W-G-CqmmUM";
    private static final String MSSQL = "jdbc:sqlserver://sql.acme.internal:1433;databaseName=erp;user=erp_app;password=g9flzhTBpzz4XT6tifvPA7iT;encrypt=true";
    private static final String ORACLE = "jdbc:oracle:thin:scott/5VHp0xrHflRACutd1I1N@//ora.acme.internal:1521/ORCL";
}
