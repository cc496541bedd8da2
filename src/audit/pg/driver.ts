// node-postgres, loaded when the fleet audit store or `tollgate audit --postgres` first uses it.
import { loadWhenUsed } from '../../load-when-used.js';

export const postgres = loadWhenUsed<typeof import('pg')>('pg');
