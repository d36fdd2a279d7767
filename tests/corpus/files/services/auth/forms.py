"""Login and password-reset forms."""

password = request.form["password"]
confirm_password = request.form.get("confirm_password")
if password != confirm_password:
    raise ValueError("passwords differ")
PASSWORD_MIN_LENGTH = 12
password_hash = "$2b$12$ZwWFenEoKq1Z7hRf_HQV2IVDv7UF24fVqyGqm6TI6PW8dZXzEO4jR"
password_field = "password"
label = _("Forgot password?")
DB_PASSWORD = os.environ["DB_PASSWORD"]
password = getpass.getpass("Password: ")
user.set_password(form.cleaned_data["password1"])
password = None
RESET_URL = "/accounts/password/reset/"
