"""Sends the nightly reports."""
import smtplib

SMTP_PASSWORD = "3bXDI9y1mEv7Q"
server.login("reports@acme.test", "DFpcSHB!eNe3VMqOgSDpG")
