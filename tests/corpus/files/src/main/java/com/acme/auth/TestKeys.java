package com.acme.auth;

/**
 * Key used by the staging token service.
 * -----BEGIN PRIVATE KEY-----
 * MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDGi3+/qWeq772c
 * tmdKbiNcmXx8aSkoqNFIgq0Ui8TpJIAjmzfOvKnL/1gridpXNDwQRCa+H38r1aZi
 * VEvXVgw0AYjWM/rO29H2sjiJ8fLEPoXZ/Nk0cLmzFwetji2ioSyX8imoLNAUoA//
 * 4qWphMkGegj8sHKHylWXNiq6fIKfZBbGsL8uZIG8YJM/C2hmh2VJBII58aeSI/ug
 * SPIf8TX0YXd11lAKSdulcCl7u6Xat6NoawlD/bC/Fu4op1lS+rkwEb6klE4djyv/
 * TNjFu6UIxMDPC/Uq6cT/ZK6qX7hJbYiKyBmQltVaLJwEQ+k/U2S5/nLhfX69ZdFc
 * FrrgrLVxAgMBAAECggEARt+0NhRAc+YJvx/jxk+DowINTJHzhdahgqtXIo70Ny92
 * 6H73kH6LdE1NyZj3joqQaFQTqmmu6VRmhRJHUnKef5AOqzw5607P6CrdgOyT9xbE
 * jDi0xoH44CO3823d/4BeXU0uLqD0lHBA1dyvu1AxvHSisaVA9RU2sXg+D3zz2fZs
 * /rjCJlXZwKguPYDDNM81K07WnNm/3HyomIrcPQfUO+WU5A0d4TdbGefMO5njQYT4
 * oTcfgUdtL5SnX3ceeFWgvAWj+735itxlDELTAMVXDFpmuz1BHf+p6eU5WSMgYhP4
 * plYdd1opHPXsrw6jQQzSbKzrsIc3hIoDt+PSOXWlYwKBgQDstUeft+ZIYnucxS1R
 * eUynIVXin4KuFKWtXloTNZ5fANCH6BkJvX8JeWbOOLE5yhqCteexMx0IBI/5NO/n
 * Ll4e2rrbEvIiilrbeuYaT5iduOJZ4ySyG4B2xzYSOmZ5kUUFJ1syfjpH7E7pE+M8
 * WTnVpmeHxA9a3GKllzIzwzx6YwKBgQDWufmwWs1tODw4qqwRZ8A2L4+Rncn428ED
 * AfC+jw908hzftmykzabEQsxuZt8UWVCb5ObRDMqMtxIujwyFW+YcKAsVQXTaa4Kf
 * LWnVGdjyu2tVR773hQmL62Jn6ITmys0B7UjezgoEZx6Q5A12nuqdY8CVmnwkEVGb
 * EZygk2APGwKBgGWk2mK9Z0eB8q65BOLNgZrq96Re9pCmERbHQ0qoZZ9KDEGv6sCB
 * /MEmvnyjX4b/QC8MybcPydGdk+1hS/srsALzzfUwx4UJgEZrGdAGifSAZcJPhXxt
 * ztYyaQeeyE4/kTHLWp/uEDy+Poxbm+JYNjuGP0LPcACGTl3o9QfBOIEdAoGBAJZA
 * zsKj12mc1y8D5qHLSsnf4AOSOTlldJsJKY/+hV9c5+13NnDf4tkksO50F5eio/Bi
 * bU1NORLcK+HegXF0DAIZ1x+JjR4l6uI9offXPWMk2Id1S+Dh+/snu9Vf9FeXA3tc
 * sggOfx3zloTmv7EIpL17htBoqIOIhuUOnt4SIj6PAoGBAJfXVbQ4DCoVMJkCkYTY
 * 99sgMS/Zv1FEqs12oq6zn4PmP3MwSPBNa10mbI3ut/4KZB/JDyhtzCRqGiC/1n1b
 * NsVsUice/YuYtSask8Zca+KyQwh3e2HOw0VimAJproJfumNrFY2Va/QzkAGvIjGm
 * OF1VYKIO/GVMFmIwkQx+Pa4H
 * -----END PRIVATE KEY-----
 */
public final class TestKeys {}
