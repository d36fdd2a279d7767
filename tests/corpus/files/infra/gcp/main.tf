resource "google_cloudfunctions_function" "hook" {
  name = "hook"
  environment_variables = {
    MAPS_API_KEY = "AIzaFnR4UmtEHyJeGH86xKx-gH8aNURfIVne1EJ"
  }
}

