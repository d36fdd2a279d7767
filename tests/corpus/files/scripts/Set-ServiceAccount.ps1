# Creates the service account on the build agents
$secure = ConvertTo-SecureString "^xSURs#FI60EW3l6%6W" -AsPlainText -Force
$cred = New-Object PSCredential('ACME\svc-build', (ConvertTo-SecureString 'QGEHJ0_fR2r9VJRBycU' -AsPlainText -Force))
net user svc-build koDMkn^3pR-_wIN /add /y
