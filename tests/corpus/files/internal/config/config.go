package config

import "os"

var apiKey = os.Getenv("API_KEY")
var dbPassword = os.Getenv("DB_PASSWORD")
const tokenHeader = "X-Api-Token"
const secretName = "projects/acme/secrets/api-key/versions/latest"
type Credentials struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}
func (c Credentials) Redacted() string { return "secret_key=REDACTED" }
