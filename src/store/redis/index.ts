export { createRedisClient, maskRedisUrl, type RedisClientOptions, type RedisConfig, redisConfigSchema, type RedisHandle, scrubPassword } from './client.js';
