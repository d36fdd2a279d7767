/* Device identity baked into the firmware image. */
static const char *device_key =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgE9w5Ub6SQt2yu8zo\n"
    "dSorlH59LXFGCDuAxo27Kwk2k1yhRANCAATa/P+H5bz9XeP1U3L/r8dUqlsTzvlK\n"
    "amoonBtPvFjb6oAYQPVh8v8ksY+xwViqVCilLG/4d+8bgukPt3R9pxyU\n"
    "-----END PRIVATE KEY-----\n"
    ;
