export * from './client.js';
export * from './migrate.js';
export * from './queries/shows.js';
export * from './queries/bookings.js';
export * from './queries/booking-docs.js';
