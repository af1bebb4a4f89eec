/** Injection token of the PostgreSQL connection URL (configured or embedded). */
export const DATABASE_URL = Symbol('DATABASE_URL');
