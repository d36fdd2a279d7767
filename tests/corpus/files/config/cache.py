"""Session cache."""
import redis

r = redis.StrictRedis(host="acme.redis.cache.windows.net", port=6380, password="UP1T0BKR8HTbfTm4Tw+T0Bw33QPezEFicQwsQN4T/po=", ssl=True)
