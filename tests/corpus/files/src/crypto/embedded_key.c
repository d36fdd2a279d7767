/* Device identity baked into the firmware image. */
static const char *device_key =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgkbCb8MeSpHQqiIXw\n"
    "LLKMwm9coBczwmeACfWYtLTdowShRANCAASGossPpinLgr5ORO6uXcx36GFTYHqJ\n"
    "fzSpYwq59MtaHU1g/hN4EACapmxSMtNjeeNQfOnz8/Op1pT9P9Rcs1bg\n"
    "-----END PRIVATE KEY-----\n"
    ;
