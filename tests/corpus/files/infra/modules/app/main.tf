variable "db_password" {
  type      = string
  sensitive = true
}
resource "aws_ssm_parameter" "db_password" {
  name  = "/app/db_password"
  type  = "SecureString"
  value = var.db_password
}
variable "api_token" {
  type      = string
  sensitive = true
}
resource "aws_ssm_parameter" "api_token" {
  name  = "/app/api_token"
  type  = "SecureString"
  value = var.api_token
}
variable "client_secret" {
  type      = string
  sensitive = true
}
resource "aws_ssm_parameter" "client_secret" {
  name  = "/app/client_secret"
  type  = "SecureString"
  value = var.client_secret
}
variable "access_key" {
  type      = string
  sensitive = true
}
resource "aws_ssm_parameter" "access_key" {
  name  = "/app/access_key"
  type  = "SecureString"
  value = var.access_key
}
variable "secret_key" {
  type      = string
  sensitive = true
}
resource "aws_ssm_parameter" "secret_key" {
  name  = "/app/secret_key"
  type  = "SecureString"
  value = var.secret_key
}
