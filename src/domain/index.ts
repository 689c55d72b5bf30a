// Public API of the billing domain: pure functions and types, safe to import from
// Temporal workflow code (no Node built-ins, no clock, no I/O).
export * from './decimal';
export * from './errors';
export * from './money';
export * from './terms-schema';
export * from './terms';
export * from './periods';
export * from './meters';
export * from './usage';
export * from './events';
export * from './grants';
export * from './burn';
export * from './charges';
export * from './alerts';
export * from './admission';
export * from './trigger';
export * from './invoices';
export * from './close';
export * from './review';
export * from './simulate';
export * from './entitlement';
