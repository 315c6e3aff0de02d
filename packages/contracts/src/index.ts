export * from './common.js';
export * from './problem.js';
export * from './http/shows.js';
export * from './http/bookings.js';
export * from './jobs/catalog.js';
export * from './redis-keys.js';
export * from './config.js';
export * from './payments.js';
