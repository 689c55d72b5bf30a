import type { Migration } from 'kysely';
import * as initial from './0001_initial';

/** The ordered schema migrations; add a new file here, never edit an applied one. */
export const migrations: Record<string, Migration> = {
  '0001_initial': initial,
};
