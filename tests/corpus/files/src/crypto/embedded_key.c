/* Device identity baked into the firmware image. */
static const char *device_key =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgRO9UwgwNTSq2Ks9E\n"
    "WF+uW7xkmMH1pvPj8VYMQIcmpZGhRANCAATDDf9NjqZhrqy8h3ErpKhx0ZiIY452\n"
    "Jfz5DAhIOvS3ZEDoVEFLJF9Em4qzaD4HHOsih7/qLcXRsckUazeRhALy\n"
    "-----END PRIVATE KEY-----\n"
    ;
