// Legacy FCM sender (to migrate to HTTP v1)
export const FCM_SERVER_KEY = 'AAAA18K3FJ0:APA91bPrhLVS46bIB72otFzXYc9lw0CytCuAJTttB3vqYhjBEyHuA5EtC-uLZ9YWIgRTb2LFnz68XxSs0Km8BTtfumEXXn3Z91b5pZrAy4JaD_ZplbN8ZS-bqyPDSpyGRq6wrZ7_Z6xq';
