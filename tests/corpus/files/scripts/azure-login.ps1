# Signs the pipeline in as its service principal
$tenant = 'acme.onmicrosoft.com'
$env:AZURE_CLIENT_SECRET = 'NR03Q~ijmJuR6eRNmHEKrADO_IvH6CoHrNZwsrja'
az login --service-principal -u $env:AZURE_CLIENT_ID -p $env:AZURE_CLIENT_SECRET --tenant $tenant
