/* Device identity baked into the firmware image. */
static const char *device_key =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQghsNhEuN83SGmkdcm\n"
    "memo0Bf9ZkiaDj2sCposOgcnNZKhRANCAAT39GXBgFJu2PI8DJaAvoE7L1ds0Wbu\n"
    "RkWhgzWcG1A3p5P3ayt8adlSUvyY+tV88sVD//QO7T/gQdGXITj2W1Au\n"
    "-----END PRIVATE KEY-----\n"
    ;
