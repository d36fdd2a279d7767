"""Reporting connections."""
from sqlalchemy import create_engine

engine = create_engine("postgresql+psycopg2://reports:kIDaDa_T2seuT5NoaGBI@warehouse.acme.internal/dw")
engine = create_engine("mysql+pymysql://etl:ShAd1yyYcggOVh4ou@10.20.0.15:3306/staging")
engine = create_engine("mssql+pyodbc://sa:Bf91RaNcYo0KNZbgIsow@sqlsrv.acme.internal/erp?driver=ODBC+Driver+18+for+SQL+Server")
