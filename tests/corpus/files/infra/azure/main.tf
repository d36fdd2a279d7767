provider "azurerm" {
  features {}
  client_id     = "bc52786e-0dca-487f-a218-bcfe6ed23aa3"
  client_secret = "AD64Q~OdSfZZkj7yQaj55sQGVAPqtSxurA9gmtYA"
  client_id     = "badca1a9-79f3-40cf-a754-857d5d3b0d0c"
  client_secret = "IF38Q~DmZ8WfMP.X8dDGsF9a6WWirnmF4bhdgXnu"
  client_id     = "25099207-d1b2-46d7-a48b-f51f0b279371"
  client_secret = "cpf0Q~k8VYECDm57pdZOwORKomzGDjy1gUDTLak0"
}

